"""Webhook subscriptions (secrets sealed) and seen delivery ids, in SQLite."""

from __future__ import annotations

import json
import secrets as secrets_module
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from patchbay.runtime.accounts._encryption import Encryptor
from patchbay.runtime.errors import ConfigError, NotFound
from patchbay.runtime.http._redaction import REDACTED
from patchbay.runtime.storage._sqlite import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded


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


#: How long a receiver may run a delivery's handlers before a retry of that delivery may take
#: it over (the receiver is presumed dead). A handler that runs longer risks a second run.
PROCESSING_TIMEOUT = 120.0

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
    done_at REAL,
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

    def complete(
        self, subscription_id: str, delivery_id: str, now: float | None = None
    ) -> None: ...

    def processing(self, subscription_id: str, delivery_id: str) -> bool: ...

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
        processing_timeout: float = PROCESSING_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.processing_timeout = processing_timeout
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
            columns = {row[1] for row in db.execute("PRAGMA table_info(webhook_deliveries)")}
            if "done_at" not in columns:  # a file from before processing claims
                with db:
                    db.execute("ALTER TABLE webhook_deliveries ADD COLUMN done_at REAL")
                    db.execute("UPDATE webhook_deliveries SET done_at = received_at")

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
        """Claim a delivery id for processing; False when it was handled, or is being handled,
        by another receiver. A claim left unfinished past ``processing_timeout`` (its receiver
        died mid-handler) is taken over, in one statement."""
        now = time.time() if now is None else now
        cur = self._connect().execute(
            "INSERT INTO webhook_deliveries (subscription, delivery_id, received_at) "
            "VALUES (?,?,?) ON CONFLICT (subscription, delivery_id) DO UPDATE "
            "SET received_at = excluded.received_at "
            "WHERE webhook_deliveries.done_at IS NULL AND webhook_deliveries.received_at < ?",
            (subscription_id, delivery_id, now, now - self.processing_timeout),
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
    def complete(self, subscription_id: str, delivery_id: str, now: float | None = None) -> None:
        """The handlers ran: from now on a copy is a duplicate, never taken over."""
        now = time.time() if now is None else now
        self._connect().execute(
            "UPDATE webhook_deliveries SET done_at=? WHERE subscription=? AND delivery_id=?",
            (now, subscription_id, delivery_id),
        )

    @guarded
    def processing(self, subscription_id: str, delivery_id: str) -> bool:
        """Whether a claim on this delivery is still being processed (handlers not done)."""
        row = (
            self._connect()
            .execute(
                "SELECT done_at IS NULL FROM webhook_deliveries "
                "WHERE subscription=? AND delivery_id=?",
                (subscription_id, delivery_id),
            )
            .fetchone()
        )
        return bool(row and row[0])

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
