"""The framework-free receive path: lookup, limits, signature, handshake, dedupe, handlers."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from patchbay.runtime.errors import ConfigError, NotFound, PatchbayError
from patchbay.runtime.http._limits import JSONTooDeep, loads_json
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.observability import log_event, metrics_for
from patchbay.runtime.spec._model import (
    NAME_PATTERN,
    ConnectorSpec,
    Webhook,
)
from patchbay.runtime.triggers._events import EventHandler, TriggerEvent
from patchbay.runtime.webhooks._routing import EventRouter, event_type_of
from patchbay.runtime.webhooks._store import WebhookStore, WebhookSubscription
from patchbay.runtime.webhooks._verifiers import Verifier, WebhookRejected, verifier_for


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer the vendor; ``processed`` says whether handlers ran, ``retry_after``
    (seconds) asks the vendor to come back later."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    reason: str = "ok"
    processed: bool = False
    retry_after: int | None = None


def _json(
    status: int, data: Any, reason: str, processed: bool = False, retry_after: int | None = None
) -> WebhookResponse:
    body = json.dumps(data).encode()
    return WebhookResponse(status, body, "application/json", reason, processed, retry_after)


class SpecSource(Protocol):
    def get(self, name: str) -> ConnectorSpec: ...


def webhook_of(spec: ConnectorSpec, name: str) -> Webhook:
    for hook in spec.triggers.webhooks:
        if hook.name == name:
            return hook
    known = ", ".join(h.name for h in spec.triggers.webhooks) or "none"
    raise ConfigError(f"unknown webhook {name!r} (have: {known})", connector=spec.name)


JSON_TYPES: frozenset[str] = frozenset({"application/json"})

#: The verdict metric's label per response reason (``missing_header:<name>`` by its prefix).
VERDICTS: Mapping[str, str] = {
    "processed": "accepted",
    "duplicate": "duplicate",
    "in_progress": "in_progress",
    "acknowledged": "ack_only",
    "handshake": "handshake",
    "unparsed": "unparsed",
    "handler_failed": "handler_failed",
    "unavailable": "unavailable",
    "unknown_subscription": "unknown_subscription",
    "bad_signature": "invalid_signature",
    "stale_timestamp": "stale",
    "future_timestamp": "stale",
    "body_too_large": "too_large",
    "unsupported_content_type": "unsupported_media_type",
    "empty_body": "bad_request",
    "invalid_json": "bad_request",
    "json_too_deep": "bad_request",
    "bad_delivery_id": "bad_request",
    "body_timeout": "timeout",
    "client_disconnected": "disconnected",
    "bad_timestamp": "bad_request",
    "bad_signature_header": "bad_request",
    "missing_header": "bad_request",
}


def verdict_of(reason: str) -> str:
    """A response reason as one of the few verdict label values (never a header name)."""
    return VERDICTS.get(reason.partition(":")[0], "other")


_NAME = re.compile(NAME_PATTERN)

UNKNOWN_BODY_LIMIT = 65_536

#: Longest delivery id kept for deduplication (vendors' ids are GUIDs and short tokens).
MAX_DELIVERY_ID = 200

#: Seconds a vendor is asked to wait before retrying a delivery whose handler failed.
HANDLER_RETRY_AFTER = 60


def _usable_id(value: Any) -> str | None:
    """A delivery id as stored text, or None when it cannot identify a delivery: not a
    string or integer, empty, too long, or anything but printable ASCII (a lone surrogate
    cannot even be stored)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not 0 < len(text) <= MAX_DELIVERY_ID or not (text.isascii() and text.isprintable()):
        return None
    return text


@dataclass
class _Route:
    spec: ConnectorSpec
    hook: Webhook
    verifier: Verifier
    router: EventRouter | None
    ack_only: frozenset[str]


class WebhookManager:
    """The receive path, independent of any web framework; thread-safe for handlers that are."""

    def __init__(
        self,
        specs: SpecSource,
        store: WebhookStore,
        *,
        clock: Callable[[], float] = time.time,
        metrics_registry: CollectorRegistry | None = None,
        routers: Iterable[EventRouter] = (),
    ) -> None:
        """``routers``: the generated ``<Connector><Webhook>Events`` instances whose models type
        the payloads (and whose ``on(...)`` handlers run); a webhook without one delivers the
        decoded JSON as sent. The runtime never imports generated code itself."""
        self.specs = specs
        self.store = store
        self._routers: dict[tuple[str, str], EventRouter] = {}
        self.clock = clock
        self._verdicts = metrics_for(metrics_registry).webhook_verdicts
        self._handlers: list[tuple[str | None, str | None, EventHandler]] = []
        self._routes: dict[tuple[str, str], _Route] = {}
        self._keys: dict[tuple[str, int], list[hmac.HMAC]] = {}
        for router in routers:
            self.add_router(router)

    def __repr__(self) -> str:
        return f"WebhookManager(store={self.store!r})"

    def add_router(self, router: EventRouter) -> EventRouter:
        """Type this router's webhook's payloads with its models and run its handlers too."""
        key = (router.connector, router.webhook)
        self._routers[key] = router
        self._routes.pop(key, None)
        return router

    def add_handler(
        self,
        handler: EventHandler,
        *,
        connector: str | None = None,
        subscription: str | None = None,
    ) -> EventHandler:
        """Hand every verified, new event (optionally of one connector/subscription) to
        ``handler``. The payload is the generated model of the event type, or the decoded JSON
        as sent when there is no model or the model refused it. A handler exception answers
        503 and forgets the delivery id, so the vendor's retry is processed (at-least-once)."""
        self._handlers.append((connector, subscription, handler))
        return handler

    def route(self, connector: str, webhook: str) -> _Route:
        found = self._routes.get((connector, webhook))
        if found is None:
            spec = self.specs.get(connector)
            hook = webhook_of(spec, webhook)
            found = _Route(
                spec,
                hook,
                verifier_for(hook.verification),
                self._routers.get((connector, webhook)),
                frozenset(hook.ack_only_events),
            )
            self._routes[(connector, webhook)] = found
        return found

    def router(self, connector: str, webhook: str) -> EventRouter | None:
        """The router added for this webhook (``add_router``), if any."""
        return self.route(connector, webhook).router

    def body_limit(self, connector: str, subscription_id: str) -> int:
        """How many body bytes a web adapter should read at most for this path (the webhook's
        ``max_body_bytes``; a small cap for unknown subscriptions, which get 404 anyway)."""
        try:
            sub = self.store.get(subscription_id)
        except PatchbayError:  # unknown (404) or a store failure (503): the body is not needed
            return UNKNOWN_BODY_LIMIT
        if sub.connector != connector:
            return UNKNOWN_BODY_LIMIT
        return self.route(sub.connector, sub.webhook).hook.max_body_bytes

    def _keys_of(self, sub: WebhookSubscription, verifier: Verifier) -> list[hmac.HMAC]:
        found = self._keys.get((sub.id, sub.version))
        if found is None:
            found = self._keys[(sub.id, sub.version)] = verifier.keys(sub.secrets)
        return found

    def handle(
        self,
        connector: str,
        subscription_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        oversized: bool = False,
        read_error: str | None = None,
    ) -> WebhookResponse:
        """Verify and process one delivery; never raises for anything the sender controls.
        ``oversized``: the adapter stopped reading at ``body_limit`` (the body is not here);
        ``read_error``: the body never fully arrived (``body_timeout``, ``client_disconnected``).
        Every outcome is counted in the verdict metric, every refusal logged at INFO."""
        try:
            return self._receive(connector, subscription_id, headers, body, oversized, read_error)
        except PatchbayError as exc:
            # The store failed (locked, unreadable) or the subscription's configuration is
            # broken: nothing was claimed, so the vendor's retry is processed.
            label = self._connector_label(connector)
            log_event(logging.ERROR, "webhook.unavailable", connector=label, error=exc.code)
            self._count(label, "unavailable")
            return _json(503, {"error": "unavailable"}, "unavailable", retry_after=5)

    def _receive(
        self,
        connector: str,
        subscription_id: str,
        headers: Mapping[str, str],
        body: bytes,
        oversized: bool,
        read_error: str | None,
    ) -> WebhookResponse:
        try:
            sub = self.store.get(subscription_id)
        except NotFound:
            sub = None
        if sub is None or sub.connector != connector:
            label = self._connector_label(connector)
            log_event(
                logging.INFO,
                "webhook.unknown_subscription",
                connector=label,
                subscription=_short(subscription_id),
                status=404,
                reason="unknown_subscription",
                verdict="unknown_subscription",
                body_bytes=len(body),
            )
            self._count(label, "unknown_subscription")
            return _json(404, {"error": "unknown_subscription"}, "unknown_subscription")
        try:
            if read_error is not None:
                raise WebhookRejected(408 if read_error == "body_timeout" else 400, read_error)
            if oversized:
                raise WebhookRejected(413, "body_too_large")
            result = self._handle(sub, headers, body)
        except WebhookRejected as rejected:
            log_event(
                logging.INFO,
                "webhook.rejected",
                connector=sub.connector,
                subscription=sub.id,
                status=rejected.status,
                reason=rejected.reason,
                verdict=verdict_of(rejected.reason),
                body_bytes=len(body),
            )
            result = _json(rejected.status, {"error": rejected.reason}, rejected.reason)
        self._count(sub.connector, result.reason)
        return result

    def _count(self, connector: str, reason: str) -> None:
        self._verdicts.labels(connector=connector, verdict=verdict_of(reason)).inc()

    def _connector_label(self, connector: str) -> str:
        """The path's connector as a metric label only when it names a known connector: the
        sender chooses the path, and labels must stay a small fixed set."""
        if _NAME.fullmatch(connector) is None:
            return "unknown"
        try:
            return self.specs.get(connector).name
        except PatchbayError:
            return "unknown"

    def _handle(
        self, sub: WebhookSubscription, raw_headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        route = self.route(sub.connector, sub.webhook)
        hook = route.hook
        headers = {k.lower(): v for k, v in raw_headers.items()}
        if not body:
            raise WebhookRejected(400, "empty_body")
        if len(body) > hook.max_body_bytes:
            raise WebhookRejected(413, "body_too_large")
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in JSON_TYPES:
            raise WebhookRejected(415, "unsupported_content_type")
        route.verifier.verify(headers, body, self._keys_of(sub, route.verifier), self.clock())
        try:
            payload = loads_json(body)
        except JSONTooDeep:
            raise WebhookRejected(400, "json_too_deep") from None
        except ValueError:
            raise WebhookRejected(400, "invalid_json") from None
        shake = hook.handshake
        if shake is not None and get_path(payload, shake.type_path, None) == shake.type_value:
            challenge = get_path(payload, shake.challenge_path, None)
            log_event(
                logging.INFO, "webhook.handshake", connector=sub.connector, subscription=sub.id
            )
            if shake.respond_with == "json":
                return _json(200, {"challenge": challenge}, "handshake")
            text = str(challenge or "").encode("utf-8", "replace")  # a lone surrogate too
            return WebhookResponse(200, text, "text/plain", "handshake")
        kind, event, typed = self._parse(route, payload, headers)
        if kind is not None and kind in route.ack_only:
            return _json(200, {"ok": True, "acknowledged": kind}, "acknowledged")
        delivery_id = self._delivery_id(hook, headers, payload, body)
        if not self.store.claim(sub.id, delivery_id, self.clock()):
            if self.store.processing(sub.id, delivery_id):
                # Another receiver is running the handlers right now and may yet fail (or die):
                # a 200 would make the vendor drop its only other copy. Ask for a retry.
                log_event(
                    logging.INFO,
                    "webhook.in_progress",
                    connector=sub.connector,
                    subscription=sub.id,
                    verdict="in_progress",
                )
                return _json(
                    503, {"error": "in_progress"}, "in_progress", retry_after=HANDLER_RETRY_AFTER
                )
            log_event(
                logging.INFO,
                "webhook.duplicate",
                connector=sub.connector,
                subscription=sub.id,
                verdict="duplicate",
            )
            return _json(200, {"ok": True, "duplicate": True}, "duplicate")
        if not typed:
            log_event(
                logging.WARNING,
                "webhook.unparsed",
                connector=sub.connector,
                subscription=sub.id,
                event_type=_short(kind),
            )
        failed = self._run_handlers(
            route, TriggerEvent(sub.connector, sub.id, delivery_id, kind, event), typed
        )
        if failed is not None:
            return self._handler_failed(sub, delivery_id, failed)
        try:
            self.store.complete(sub.id, delivery_id, self.clock())
        except PatchbayError as store_error:
            # Handled, but not marked so: past the processing timeout a retry would run the
            # handlers again (at least once, with the same delivery id for the handlers to see).
            log_event(
                logging.ERROR,
                "webhook.complete_failed",
                connector=sub.connector,
                subscription=sub.id,
                error=store_error.code,
            )
        reason = "processed" if typed else "unparsed"
        log_event(
            logging.INFO,
            "webhook.processed",
            connector=sub.connector,
            subscription=sub.id,
            event_type=_short(kind),
            verdict=verdict_of(reason),
        )
        return _json(200, {"ok": True}, reason, processed=True)

    def _run_handlers(self, route: _Route, event: TriggerEvent, typed: bool) -> Exception | None:
        """Every matching plain handler, then the typed router's; the first exception stops
        them and is returned (nothing else after the claim can fail on the sender's input)."""
        try:
            for connector, subscription, handler in self._handlers:
                wanted = connector in (None, event.connector)
                if wanted and subscription in (None, event.subscription):
                    handler(event)
            if route.router is not None:
                route.router.deliver(event.type, event.payload, typed=typed)
        except Exception as exc:
            return exc
        return None

    def _handler_failed(
        self, sub: WebhookSubscription, delivery_id: str, exc: Exception
    ) -> WebhookResponse:
        """A handler raised: the one outcome that forgets the delivery id, so the vendor's
        retry is processed. The answer is 503 with ``Retry-After``: every supported vendor
        retries a 5xx, and 503 says the failure is on this side and temporary (Zendesk, for
        one, retries a 503 that carries ``Retry-After``), where a 4xx would make some vendors
        give up. A 500 is kept for faults of the receiver itself."""
        log_event(
            logging.ERROR,
            "webhook.handler_failed",
            connector=sub.connector,
            subscription=sub.id,
            error=type(exc).__name__,
        )
        try:
            self.store.release(sub.id, delivery_id)
        except PatchbayError as store_error:  # the retry will be taken for a duplicate
            log_event(
                logging.ERROR,
                "webhook.release_failed",
                connector=sub.connector,
                subscription=sub.id,
                error=store_error.code,
            )
        return _json(
            503, {"error": "handler_failed"}, "handler_failed", retry_after=HANDLER_RETRY_AFTER
        )

    @staticmethod
    def _parse(
        route: _Route, payload: Any, headers: Mapping[str, str]
    ) -> tuple[str | None, Any, bool]:
        """Event type, event and whether it is typed. A payload its model refuses is passed on
        as sent (vendors add fields and types faster than specs follow), never parsed again."""
        if route.router is None:
            return _event_type(route.hook, payload, headers), payload, True
        try:
            kind, event = route.router.parse(payload, headers)
        except Exception:  # pydantic's ValidationError, or any other refusal of the model
            return route.router.event_type(payload, headers), payload, False
        return kind, event, True

    @staticmethod
    def _delivery_id(hook: Webhook, headers: Mapping[str, str], payload: Any, body: bytes) -> str:
        """The vendor's delivery id (header, then body path), else a digest of the signed
        content; an id that is present but unusable is refused rather than replaced."""
        found: Any = None
        if hook.delivery_id_header is not None:
            found = headers.get(hook.delivery_id_header.lower()) or None
        if found is None and hook.delivery_id_path is not None:
            found = get_path(payload, hook.delivery_id_path, None)
            found = None if found == "" else found
        if found is not None:
            usable = _usable_id(found)
            if usable is None:
                raise WebhookRejected(400, "bad_delivery_id")
            return usable
        # No id from the vendor: the signed content identifies a replay of the same request.
        ts = hook.verification.timestamp_header
        stamp = headers.get(ts.lower(), "") if ts else ""
        raw = stamp.encode("utf-8", "surrogatepass")
        return "sha256:" + hashlib.sha256(raw + b"\n" + body).hexdigest()


def _short(text: str | None, limit: int = 100) -> str | None:
    """A sender-chosen string (an event type) trimmed for a log line."""
    return text if text is None or len(text) <= limit else text[:limit] + "..."


def _event_type(hook: Webhook, payload: Any, headers: Mapping[str, str]) -> str | None:
    return event_type_of(hook, payload, headers)
