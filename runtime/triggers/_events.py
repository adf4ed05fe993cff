"""The one event type handlers receive, whether it came from a poll or a webhook."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TriggerEvent:
    """One event: ``dedupe_key`` is stable across redeliveries (handlers dedupe on it)."""

    connector: str
    subscription: str
    dedupe_key: str
    type: str | None
    payload: Any


type EventHandler = Callable[[TriggerEvent], object]
type BatchHandler = Callable[[list[TriggerEvent]], Awaitable[None] | None]


def per_event(handler: EventHandler) -> BatchHandler:
    """Use one per-event handler (as the webhook manager calls it) for polling batches too;
    the batch is acknowledged once every event was handled."""

    async def batch(events: list[TriggerEvent]) -> None:
        for event in events:
            result = handler(event)
            if inspect.isawaitable(result):
                await result

    return batch
