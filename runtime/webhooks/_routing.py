"""Routing verified webhook payloads to typed handlers by event type.

Signature verification happens before this (the webhook manager); here a payload becomes the
generated model of its event type and is handed to every handler registered for that type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from patchbay.runtime.http._client_base import packaged_spec, parse_as
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.spec._model import Webhook

type Handler[T] = Callable[[T], object]


def event_type_of(hook: Webhook, payload: Any, headers: Mapping[str, str] | None) -> str | None:
    """The event type: the spec's header if present (any letter case), else its body path."""
    if hook.event_type_header is not None and headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(hook.event_type_header.lower())
        if value is not None:
            return value
    if hook.event_type_path is not None:
        found = get_path(payload, hook.event_type_path, None)
        return found if isinstance(found, str) else None
    return None


class EventRouter:
    """Base of generated ``<Connector><Webhook>Events`` classes."""

    package: ClassVar[str] = ""
    webhook: ClassVar[str] = ""
    models: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler[Any]]] = {}

    @property
    def connector(self) -> str:
        """The connector this router's package was generated from."""
        return packaged_spec(self.package).name

    @property
    def spec(self) -> Webhook:
        for hook in packaged_spec(self.package).triggers.webhooks:
            if hook.name == self.webhook:
                return hook
        raise LookupError(self.webhook)

    def on(self, event_type: str) -> Callable[[Handler[Any]], Handler[Any]]:
        """Register the decorated function for one event type (``"*"`` for every type)."""

        def register(handler: Handler[Any]) -> Handler[Any]:
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    def event_type(self, payload: Any, headers: Mapping[str, str] | None = None) -> str | None:
        return event_type_of(self.spec, payload, headers)

    def parse(
        self, payload: Any, headers: Mapping[str, str] | None = None
    ) -> tuple[str | None, Any]:
        """The event type and the payload as its model (as is for types without a model)."""
        kind = self.event_type(payload, headers)
        model = self.models.get(kind) if kind is not None else None
        return kind, (parse_as(model, payload) if model is not None else payload)

    def dispatch(self, payload: Any, headers: Mapping[str, str] | None = None) -> int:
        """Call every handler for the payload's event type; returns how many ran."""
        kind, event = self.parse(payload, headers)
        return self.deliver(kind, event)

    def deliver(self, kind: str | None, event: Any, *, typed: bool = True) -> int:
        """Call the handlers of an event parsed already (the webhook manager parses once).
        ``typed=False``: the model refused the payload, so handlers registered for its type,
        which expect the model, are skipped; ``"*"`` handlers get the payload as sent."""
        specific = self._handlers.get(kind or "", [])
        if not typed and kind in self.models:
            specific = []
        handlers = [*specific, *self._handlers.get("*", [])]
        for handler in handlers:
            handler(event)
        return len(handlers)
