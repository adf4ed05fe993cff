"""One poll of a polling trigger: call its action after the cursor, return new items and the
next cursor. The TriggerRunner (schedules, dedupe ledger, persisted cursors) builds on this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ConfigError
from .executor import AsyncGenericExecutor, GenericExecutor, Page
from .paths import get_path, parse_path
from .spec import ConnectorSpec, PollingCursor, PollingTrigger


@dataclass(frozen=True)
class PollBatch[T]:
    """New items (oldest first when the cursor orders them) and the cursor to use next time."""

    items: list[T]
    cursor: Any


def trigger_of(spec: ConnectorSpec, name: str) -> PollingTrigger:
    for trigger in spec.triggers.polling:
        if trigger.name == name:
            return trigger
    known = ", ".join(t.name for t in spec.triggers.polling) or "none"
    raise ConfigError(f"unknown polling trigger {name!r} (have: {known})", connector=spec.name)


def poll_input(
    trigger: PollingTrigger, cursor: Any, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The action input: the trigger's fixed input, the subscription's ``params`` (a Slack
    channel, a GitHub repo) and the cursor at ``cursor.param``."""
    merged = {**trigger.input, **(params or {})}
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in merged.items()}
    param = trigger.cursor.param
    if cursor is None or param is None:
        return data
    keys = parse_path(param)
    node = data
    for key in keys[:-1]:
        node = node.setdefault(str(key), {})
    node[str(keys[-1])] = cursor
    return data


def sortable(value: Any, cursor: PollingCursor) -> Any:
    """A value that orders cursors correctly (ISO dates as datetimes, epochs as decimals)."""
    if cursor.format == "iso8601" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if cursor.format in ("epoch_seconds", "epoch_milliseconds"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return value
    return value


def collect(trigger: PollingTrigger, pages: list[Page], cursor: Any) -> PollBatch[Any]:
    """Keep items past the cursor, order them oldest first, and compute the next cursor."""
    spec_cursor = trigger.cursor
    items = [item for page in pages for item in page.items]
    if spec_cursor.kind == "sync_token":
        token = cursor
        for page in pages:
            found = get_path(page.body, spec_cursor.token_path or "", None)
            if found is not None:
                token = found
        return PollBatch(items, token)
    path = spec_cursor.field or ""
    keyed = [(sortable(get_path(i, path, None), spec_cursor), i) for i in items]
    keyed = [(k, i) for k, i in keyed if k is not None]
    if cursor is not None:
        floor = sortable(cursor, spec_cursor)
        keyed = [(k, i) for k, i in keyed if k > floor]
    keyed.sort(key=lambda pair: pair[0])
    fresh = [i for _, i in keyed]
    next_cursor = get_path(fresh[-1], path, cursor) if fresh else cursor
    return PollBatch(fresh, next_cursor)


def poll(
    executor: GenericExecutor,
    trigger: str,
    cursor: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> PollBatch[Any]:
    spec_trigger = trigger_of(executor.spec, trigger)
    data = poll_input(spec_trigger, cursor, params)
    pager = executor.paginate(spec_trigger.action, data, max_items=max_items)
    return collect(spec_trigger, list(pager.pages()), cursor)


async def apoll(
    executor: AsyncGenericExecutor,
    trigger: str,
    cursor: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> PollBatch[Any]:
    spec_trigger = trigger_of(executor.spec, trigger)
    data = poll_input(spec_trigger, cursor, params)
    pager = executor.paginate(spec_trigger.action, data, max_items=max_items)
    return collect(spec_trigger, [page async for page in pager.pages()], cursor)
