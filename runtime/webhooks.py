"""Receiving webhooks: signature verifiers per grammar and the framework-free manager.

Every verifier works on the raw body bytes exactly as received, compares in constant time
(``hmac.compare_digest``) and tries every current secret (rotation). Parameters (headers,
prefix, encoding, algorithm, signed-payload template, window) come from the spec's
``verification`` block; the scheme names the signature grammar, never a vendor: ``hmac`` (one
signature in one header: Slack, GitHub, Typeform, Zendesk), ``timestamped_list`` (a
``t=…,v1=…`` list: Stripe) and ``standard_webhooks`` (``v1,<b64>`` list, whsec_ key decoding).

Zendesk: the signed string is ``{timestamp}{body}`` as the *current* Zendesk docs and every
third-party verifier have it (an older page had ``{body}{timestamp}``). The order is the spec's
``signed_payload`` template, so a connector can flip it without code.

``WebhookManager.handle`` is the whole receive path (lookup, size, content type, signature,
handshake, delivery-id dedupe, typed event, handlers) and counts each outcome in the webhook
verdict metric; ``runtime.webhook_app`` only adapts it to HTTP. Subscriptions (secrets encrypted)
and seen delivery ids live in SQLite.

Each verified delivery is processed once: its id is claimed before any handler runs and released
only when a handler raised (answered 503, so the vendor retries). A payload the generated model
refuses still reaches the handlers, as sent (verdict ``unparsed``); nothing a sender controls
(nesting, delivery id, event type) can turn a verified delivery into a 500.

``register``/``unregister`` know no vendor: the webhook's ``registration`` block says which
actions to call with which templated inputs, where the signing secret comes from and what to keep
for removal (see ``runtime.spec.WebhookRegistration``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets as secrets_module
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from prometheus_client import CollectorRegistry

from patchbay.runtime.encryption import Encryptor
from patchbay.runtime.errors import BadResponse, ConfigError, NotFound, PatchbayError
from patchbay.runtime.events import EventHandler, TriggerEvent
from patchbay.runtime.limits import JSONTooDeep, loads_json
from patchbay.runtime.observability import log_event, metrics_for
from patchbay.runtime.paths import get_path
from patchbay.runtime.redaction import REDACTED
from patchbay.runtime.spec import (
    NAME_PATTERN,
    ConnectorSpec,
    ManualRegistration,
    Webhook,
    WebhookCall,
    WebhookRegistration,
    WebhookVerification,
)
from patchbay.runtime.spec_checks import template_uses
from patchbay.runtime.sqlite_db import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded
from patchbay.runtime.templating import fill
from patchbay.runtime.webhook_events import EventRouter, event_type_of


class WebhookRejected(Exception):
    """A delivery refused before anything was processed; ``reason`` is a short code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ------------------------------------------------------------------------------ verifiers


def _key(secret: str, encoding: str) -> bytes:
    """HMAC key bytes: UTF-8 as is (Stripe keeps ``whsec_``), or base64 after ``whsec_``."""
    if encoding == "base64":
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("a webhook secret is not valid base64") from None
    return secret.encode()


def parse_timestamp(raw: str) -> float:
    """Epoch seconds from digits or an ISO-8601 string (Zendesk); ValueError otherwise."""
    if raw.isdigit():
        return float(raw)
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


class Verifier:
    """Base of the per-scheme verifiers: ``verify`` raises ``WebhookRejected`` or returns."""

    scheme: ClassVar[str] = ""

    def __init__(self, config: WebhookVerification) -> None:
        self.config = config
        self.header = config.signature_header.lower()
        self.ts_header = config.timestamp_header.lower() if config.timestamp_header else None
        self.prefix = config.signature_prefix
        self.digest = hashlib.sha256 if config.algorithm == "sha256" else hashlib.sha1
        self.tolerance = config.tolerance_seconds
        before, sep, after = config.signed_payload.partition("{body}")
        if not sep:
            raise ConfigError(f"signed_payload {config.signed_payload!r} lacks {{body}}")
        self._before, self._after = before, after
        self._plain = "{" not in before and "{" not in after
        head, sep, tail = before.partition("{timestamp}")
        simple = sep and not after and "{" not in head + tail
        self._ts_only: tuple[str, str] | None = (head, tail) if simple else None
        self._hex = config.encoding == "hex"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(header={self.header!r})"

    # -- helpers shared by the schemes

    def keys(self, secrets: Sequence[str]) -> list[hmac.HMAC]:
        """One HMAC per secret with the key already absorbed: each check copies it, which
        skips the key schedule (about a fifth of a small body's verification time)."""
        return [hmac.new(_key(s, self.config.secret_encoding), None, self.digest) for s in secrets]

    def message(self, body: bytes, timestamp: str = "", delivery_id: str = "") -> bytes:
        if self._ts_only is not None:  # "v0:{timestamp}:", "{timestamp}." or "{timestamp}"
            head, tail = self._ts_only
            return (head + timestamp + tail).encode() + body
        if self._plain:
            if not self._before and not self._after:
                return body
            return self._before.encode() + body + self._after.encode()
        before = self._before.replace("{timestamp}", timestamp).replace("{id}", delivery_id)
        after = self._after.replace("{timestamp}", timestamp).replace("{id}", delivery_id)
        return before.encode() + body + after.encode()

    def mac(self, key: hmac.HMAC, message: bytes) -> str:
        h = key.copy()
        h.update(message)
        return h.hexdigest() if self._hex else base64.b64encode(h.digest()).decode()

    def check_time(self, raw: str, now: float) -> None:
        if self.tolerance is None:
            return
        try:
            ts = int(raw) if raw.isdigit() else parse_timestamp(raw)
        except ValueError:
            raise WebhookRejected(400, "bad_timestamp") from None
        if now - ts > self.tolerance:
            raise WebhookRejected(401, "stale_timestamp")
        if ts - now > self.tolerance:
            raise WebhookRejected(401, "future_timestamp")

    def required(self, headers: Mapping[str, str], name: str) -> str:
        value = headers.get(name)
        if not value:
            raise WebhookRejected(400, f"missing_header:{name}")
        return value

    def match(self, candidates: Iterable[str], keys: Sequence[hmac.HMAC], message: bytes) -> None:
        """Constant-time check of every candidate against the MAC under every key."""
        wanted = [c for c in candidates if c.isascii()]  # compare_digest needs ASCII str
        for key in keys:
            expected = self.mac(key, message)
            for candidate in wanted:
                if hmac.compare_digest(expected, candidate):
                    return
        raise WebhookRejected(401, "bad_signature")

    def verify(
        self, headers: Mapping[str, str], body: bytes, keys: Sequence[hmac.HMAC], now: float
    ) -> None:
        raise NotImplementedError


class HmacVerifier(Verifier):
    """One signature in one header, optionally prefixed, optional timestamp header: GitHub,
    Typeform, Slack and Zendesk differ only in spec parameters."""

    scheme = "hmac"

    def verify(
        self, headers: Mapping[str, str], body: bytes, keys: Sequence[hmac.HMAC], now: float
    ) -> None:
        # Written flat: this is the per-delivery hot path (see bench/webhooks.py).
        signature = headers.get(self.header)
        if not signature:
            raise WebhookRejected(400, f"missing_header:{self.header}")
        if self.ts_header is not None:
            timestamp = headers.get(self.ts_header)
            if not timestamp:
                raise WebhookRejected(400, f"missing_header:{self.ts_header}")
            self.check_time(timestamp, now)
            message = self.message(body, timestamp)
        else:
            message = self.message(body)
        prefix = self.prefix
        if not signature.startswith(prefix) or not signature.isascii():
            raise WebhookRejected(401, "bad_signature")
        candidate = signature[len(prefix) :]
        mac = self.mac
        for key in keys:
            if hmac.compare_digest(mac(key, message), candidate):
                return
        raise WebhookRejected(401, "bad_signature")


class TimestampedListVerifier(Verifier):
    """``<header>: t=…,v1=…[,v1=…]`` (Stripe's grammar): any ``v1`` may match, other items are
    ignored; the key is the whole secret string; the window is checked both ways."""

    scheme = "timestamped_list"

    def verify(
        self, headers: Mapping[str, str], body: bytes, keys: Sequence[hmac.HMAC], now: float
    ) -> None:
        header = self.required(headers, self.header)
        timestamp = ""
        v1: list[str] = []
        for item in header.split(","):
            name, sep, value = item.strip().partition("=")
            if not sep:
                continue
            if name == "t":
                timestamp = value
            elif name == "v1":
                v1.append(value)
        if not timestamp:
            raise WebhookRejected(400, "bad_signature_header")
        if not v1:
            raise WebhookRejected(401, "bad_signature")
        self.check_time(timestamp, now)
        self.match(v1, keys, self.message(body, timestamp))


class StandardWebhooksVerifier(Verifier):
    """``webhook-signature: v1,<b64> v1,<b64>`` over ``{id}.{ts}.{body}``, key = base64 of the
    secret after ``whsec_`` (the spec says ``secret_encoding: base64``)."""

    scheme = "standard_webhooks"
    id_header: ClassVar[str] = "webhook-id"

    def verify(
        self, headers: Mapping[str, str], body: bytes, keys: Sequence[hmac.HMAC], now: float
    ) -> None:
        header = self.required(headers, self.header)
        delivery_id = self.required(headers, self.id_header)
        timestamp = self.required(headers, self.ts_header or "webhook-timestamp")
        self.check_time(timestamp, now)
        candidates = [
            sig for version, _, sig in (p.partition(",") for p in header.split()) if version == "v1"
        ]
        if not candidates:
            raise WebhookRejected(401, "bad_signature")
        self.match(candidates, keys, self.message(body, timestamp, delivery_id))


VERIFIERS: dict[str, type[Verifier]] = {
    cls.scheme: cls for cls in (HmacVerifier, TimestampedListVerifier, StandardWebhooksVerifier)
}


def verifier_for(config: WebhookVerification) -> Verifier:
    """The verifier of ``config.scheme``, set up with the spec's parameters."""
    return VERIFIERS[config.scheme](config)


def verify_signature(
    config: WebhookVerification,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float | None = None,
) -> None:
    """One-shot verification (headers in any case); raises ``WebhookRejected``."""
    verifier = verifier_for(config)
    lowered = {k.lower(): v for k, v in headers.items()}
    verifier.verify(lowered, body, verifier.keys(secrets), time.time() if now is None else now)


# ------------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class WebhookSubscription:
    """Where one vendor webhook lands: ``/webhooks/{connector}/{id}``. Secrets never shown."""

    id: str
    connector: str
    webhook: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    registration: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    def __repr__(self) -> str:
        return (
            f"WebhookSubscription(id={self.id!r}, connector={self.connector!r}, "
            f"webhook={self.webhook!r}, secrets=[{', '.join(REDACTED for _ in self.secrets)}], "
            f"registration={self.registration!r}, version={self.version})"
        )

    def path(self) -> str:
        return f"/webhooks/{self.connector}/{self.id}"


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    webhook TEXT NOT NULL,
    registration TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    secret BLOB NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
    subscription TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (subscription, delivery_id)
)""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_age ON webhook_deliveries (received_at)",
)


class WebhookStore(Protocol):
    """What the webhook manager needs of a store (SQLite or PostgreSQL)."""

    def create(self, sub: WebhookSubscription) -> WebhookSubscription: ...

    def get(self, subscription_id: str) -> WebhookSubscription: ...

    def list(self) -> list[WebhookSubscription]: ...

    def set_secrets(self, subscription_id: str, secrets: Sequence[str]) -> WebhookSubscription: ...

    def add_secret(self, subscription_id: str, secret: str) -> WebhookSubscription: ...

    def remove_secret(self, subscription_id: str, secret: str) -> WebhookSubscription: ...

    def delete(self, subscription_id: str) -> None: ...

    def claim(self, subscription_id: str, delivery_id: str, now: float | None = None) -> bool: ...

    def release(self, subscription_id: str, delivery_id: str) -> None: ...

    def prune(self, now: float | None = None) -> int: ...

    def delivery_count(self, subscription_id: str | None = None) -> int: ...


class SealedWebhookRows:
    """Row decoding shared by the SQLite and PostgreSQL webhook stores (opened secrets are
    cached per subscription version)."""

    _encryptor: Encryptor
    _cache: dict[tuple[str, int], tuple[str, ...]]

    def _row(self, row: Sequence[Any]) -> WebhookSubscription:
        sid, connector, webhook, registration, version, created, updated, sealed = row
        cached = self._cache.get((sid, version))
        if cached is None:
            opened = self._encryptor.decrypt(bytes(sealed), what=f"webhook subscription {sid}")
            cached = tuple(json.loads(opened))
            self._cache[(sid, version)] = cached
        return WebhookSubscription(
            id=sid,
            connector=connector,
            webhook=webhook,
            secrets=cached,
            registration=json.loads(registration),
            version=version,
            created_at=created,
            updated_at=updated,
        )

    def add_secret(self, subscription_id: str, secret: str) -> WebhookSubscription:
        current = self.get(subscription_id).secrets
        return self.set_secrets(subscription_id, [secret, *(s for s in current if s != secret)])

    def remove_secret(self, subscription_id: str, secret: str) -> WebhookSubscription:
        current = self.get(subscription_id).secrets
        return self.set_secrets(subscription_id, [s for s in current if s != secret])

    def get(self, subscription_id: str) -> WebhookSubscription:
        raise NotImplementedError

    def set_secrets(self, subscription_id: str, secrets: Sequence[str]) -> WebhookSubscription:
        raise NotImplementedError


class SQLiteWebhookStore(SealedWebhookRows):
    """Subscriptions (secrets Fernet-encrypted) and seen delivery ids, in one SQLite file
    (by default the token store's). Delivery ids older than ``retention`` are pruned and at
    most ``max_deliveries`` are kept, so the table stays bounded."""

    def __init__(
        self,
        path: str | Path,
        encryptor: Encryptor | None = None,
        *,
        retention: float = 7 * 24 * 3600.0,
        max_deliveries: int = 1_000_000,
        prune_every: int = 1000,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self._connections = ThreadLocalConnections(
            self.path, "webhook store", busy_timeout=busy_timeout
        )
        self._encryptor = encryptor or Encryptor.from_env()
        self.retention = retention
        self.max_deliveries = max_deliveries
        self.prune_every = prune_every
        self._claims = 0
        self._cache: dict[tuple[str, int], tuple[str, ...]] = {}
        with self._connections.guard():
            db = self._connect()
            for statement in _SCHEMA:
                db.execute(statement)

    def __repr__(self) -> str:
        return f"SQLiteWebhookStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        return self._connections.get()

    @guarded
    def create(self, sub: WebhookSubscription) -> WebhookSubscription:
        now = time.time()
        sub = replace(sub, id=sub.id or new_subscription_id(), version=1, created_at=now)
        sub = replace(sub, updated_at=now)
        self._connect().execute(
            "INSERT INTO webhook_subscriptions VALUES (?,?,?,?,?,?,?,?)",
            (
                sub.id,
                sub.connector,
                sub.webhook,
                json.dumps(sub.registration),
                sub.version,
                sub.created_at,
                sub.updated_at,
                self._encryptor.encrypt(json.dumps(list(sub.secrets)).encode()),
            ),
        )
        return sub

    @guarded
    def get(self, subscription_id: str) -> WebhookSubscription:
        row = (
            self._connect()
            .execute("SELECT * FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return self._row(row)

    @guarded
    def list(self) -> list[WebhookSubscription]:
        """Every subscription with secrets left sealed (listing never needs the key)."""
        rows = (
            self._connect()
            .execute(
                "SELECT id, connector, webhook, registration, version, created_at, updated_at "
                "FROM webhook_subscriptions ORDER BY created_at"
            )
            .fetchall()
        )
        return [
            WebhookSubscription(
                id=r[0],
                connector=r[1],
                webhook=r[2],
                registration=json.loads(r[3]),
                version=r[4],
                created_at=r[5],
                updated_at=r[6],
            )
            for r in rows
        ]

    @guarded
    def set_secrets(self, subscription_id: str, secrets: Sequence[str]) -> WebhookSubscription:
        """Replace the secret list (rotation: add the new one, later drop the old one)."""
        if not secrets:
            raise ConfigError("a webhook subscription needs at least one secret")
        db = self._connect()
        cur = db.execute(
            "UPDATE webhook_subscriptions SET secret=?, version=version+1, updated_at=? WHERE id=?",
            (
                self._encryptor.encrypt(json.dumps(list(secrets)).encode()),
                time.time(),
                subscription_id,
            ),
        )
        if cur.rowcount != 1:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return self.get(subscription_id)

    @guarded
    def delete(self, subscription_id: str) -> None:
        """The subscription and its delivery ids, in one transaction."""
        with self._connections.write() as db:
            cur = db.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no webhook subscription {subscription_id!r}")
            db.execute("DELETE FROM webhook_deliveries WHERE subscription = ?", (subscription_id,))

    # -- delivery ids

    @guarded
    def claim(self, subscription_id: str, delivery_id: str, now: float | None = None) -> bool:
        """Record a delivery id; False when it was seen before (a duplicate)."""
        now = time.time() if now is None else now
        cur = self._connect().execute(
            "INSERT OR IGNORE INTO webhook_deliveries VALUES (?,?,?)",
            (subscription_id, delivery_id, now),
        )
        self._claims += 1
        if self._claims % self.prune_every == 0:
            self.prune(now)
        return cur.rowcount == 1

    @guarded
    def release(self, subscription_id: str, delivery_id: str) -> None:
        """Forget a delivery whose handling failed, so the vendor's retry is processed."""
        self._connect().execute(
            "DELETE FROM webhook_deliveries WHERE subscription=? AND delivery_id=?",
            (subscription_id, delivery_id),
        )

    @guarded
    def prune(self, now: float | None = None) -> int:
        """Drop ids past ``retention``, then the oldest beyond ``max_deliveries``."""
        now = time.time() if now is None else now
        db = self._connect()
        removed = db.execute(
            "DELETE FROM webhook_deliveries WHERE received_at < ?", (now - self.retention,)
        ).rowcount
        removed += db.execute(
            "DELETE FROM webhook_deliveries WHERE rowid IN (SELECT rowid FROM webhook_deliveries "
            "ORDER BY received_at DESC LIMIT -1 OFFSET ?)",
            (self.max_deliveries,),
        ).rowcount
        return int(removed)

    @guarded
    def delivery_count(self, subscription_id: str | None = None) -> int:
        db = self._connect()
        if subscription_id is None:
            row = db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()
        else:
            row = db.execute(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE subscription=?", (subscription_id,)
            ).fetchone()
        return int(row[0])


def new_subscription_id() -> str:
    return uuid.uuid4().hex[:16]


def new_secret() -> str:
    """A secret Patchbay generates for vendors that take one (GitHub, Typeform)."""
    return secrets_module.token_hex(32)


# ------------------------------------------------------------------------------- manager


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


# -------------------------------------------------------------------------- registration


class ActionCaller(Protocol):
    """What registration needs of an executor (``GenericExecutor`` fits)."""

    def call(self, action: str, data: Mapping[str, Any] | None = ..., /) -> Any: ...


def webhook_url(public_base: str, sub: WebhookSubscription) -> str:
    return public_base.rstrip("/") + sub.path()


#: Template names ``register`` provides itself; any other name is a caller parameter.
PROVIDED_NAMES: frozenset[str] = frozenset({"url", "events", "secret", "result"})


def caller_params(reg: WebhookRegistration) -> list[str]:
    """The parameters a caller of ``register`` must pass, in order of first use."""
    templates = [reg.create.input, reg.secret_call.input if reg.secret_call else {}, reg.info]
    used = dict.fromkeys(head for _, _, head in template_uses(templates))
    return [n for n in used if n and n not in PROVIDED_NAMES and n not in reg.defaults]


def _lookup(scope: Mapping[str, Any], missing: Callable[[str], Exception]) -> Callable[[str], Any]:
    def find(name: str) -> Any:
        value = get_path(scope, name, None)
        if value is None:
            raise missing(name)
        return value

    return find


def register(
    spec: ConnectorSpec,
    executor: ActionCaller,
    store: WebhookStore,
    public_base: str,
    *,
    webhook: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> WebhookSubscription:
    """Register an endpoint with the vendor as the webhook's ``registration`` block says and
    store the subscription with its signing secret. Nothing is stored when a vendor call fails;
    a created webhook whose secret cannot be obtained is deleted again (best effort)."""
    hook = webhook_of(spec, webhook) if webhook else spec.triggers.webhooks[0]
    reg = hook.api_registration
    if isinstance(hook.registration, ManualRegistration):
        raise ConfigError(
            f"{spec.name} {hook.name} is registered in the vendor's settings, not through an "
            f"API: print the URL with `patchbay webhooks url {spec.name}`. "
            f"{hook.registration.instructions}",
            connector=spec.name,
        )
    if reg is None:
        raise ConfigError(
            f"{spec.name} webhooks are registered by hand: print the URL with "
            f"`patchbay webhooks url {spec.name}` and paste it in the vendor's settings",
            connector=spec.name,
        )
    given = {k: v for k, v in (params or {}).items() if v is not None and v != "" and v != []}
    values = {**reg.defaults, **given}
    missing = [n for n in caller_params(reg) if n not in values]
    if missing:
        raise ConfigError(f"registration needs {', '.join(missing)} (--param name=value)")
    sub = WebhookSubscription(id=new_subscription_id(), connector=spec.name, webhook=hook.name)
    events = values.get("events") or sorted(hook.events) or [e for e in [reg.all_events] if e]
    scope = {k: v for k, v in values.items() if k not in PROVIDED_NAMES}
    scope.update(url=webhook_url(public_base, sub), events=list(events))
    generated = new_secret() if reg.secret_path is None else None
    if generated is not None:
        scope["secret"] = generated

    def absent(name: str) -> Exception:
        return BadResponse(f"registration: nothing to fill in for {{{name}}}", connector=spec.name)

    lookup = _lookup(scope, absent)
    scope["result"] = executor.call(reg.create.action, fill(reg.create.input, lookup))
    info = {"action": reg.create.action, **fill(reg.info, lookup)}
    try:
        secret = generated or _vendor_secret(reg, executor, scope["result"], lookup)
    except Exception:
        if reg.delete is not None:
            try:  # best effort: leave no vendor webhook pointing at an unstored id
                executor.call(reg.delete.action, _delete_input(reg.delete, info))
            except Exception:
                log_event(logging.WARNING, "webhook.register_cleanup_failed", connector=spec.name)
        raise
    return store.create(replace(sub, secrets=(secret,), registration=info))


def _vendor_secret(
    reg: WebhookRegistration, executor: ActionCaller, created: Any, lookup: Callable[[str], Any]
) -> str:
    """The secret the vendor made: in the create result or in a second call's result."""
    found = created
    if reg.secret_call is not None:
        found = executor.call(reg.secret_call.action, fill(reg.secret_call.input, lookup))
    secret = get_path(found, reg.secret_path or "", None)
    if not secret:
        raise BadResponse(f"registration: the vendor's answer has no {reg.secret_path!r}")
    return str(secret)


def _delete_input(call: WebhookCall, info: Mapping[str, Any]) -> Any:
    def absent(name: str) -> Exception:
        return ConfigError(f"the stored registration has no {name!r}")

    return fill(call.input, _lookup(info, absent))


def unregister(
    spec: ConnectorSpec, executor: ActionCaller | None, store: WebhookStore, sub_id: str
) -> bool:
    """Remove the vendor's endpoint when the spec has a delete call and ``register`` made it
    (returns True), then the subscription. Otherwise (set up by hand) only the local record."""
    sub = store.get(sub_id)
    hook = next((h for h in spec.triggers.webhooks if h.name == sub.webhook), None)
    reg = hook.api_registration if hook is not None else None
    delete = reg.delete if reg is not None else None
    removed = False
    if executor is not None and delete is not None and "action" in sub.registration:
        executor.call(delete.action, _delete_input(delete, sub.registration))
        removed = True
    store.delete(sub_id)
    return removed
