"""The token, subscription and webhook stores on PostgreSQL (``PATCHBAY_STORE=postgresql://…``).

Same behaviour as the SQLite stores (the same test suite runs on both), with the database as
the one shared place for every process on every host:

* refresh leases are one atomic ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` on the database's
  clock, so hosts whose clocks drift still agree on who holds a lease and until when;
* ``commit_refresh`` locks the lease row (``FOR UPDATE``) and writes tokens and frees the lease
  in one transaction; no transaction spans the vendor call;
* a delivery id is claimed by ``INSERT … ON CONFLICT DO NOTHING``: exactly one claimer wins.

psycopg is imported lazily by ``_postgres``; this module only needs it at call time.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from patchbay.runtime.accounts._encryption import Encryptor
from patchbay.runtime.accounts._oauth import TokenSet
from patchbay.runtime.accounts._token_store import (
    LeaseLost,
    RefreshLease,
    SealedConnections,
    Status,
    StoredConnection,
)
from patchbay.runtime.errors import ConfigError, Conflict, NotFound
from patchbay.runtime.storage._postgres import (
    DEFAULT_LOCK_TIMEOUT,
    NOW,
    AsyncPgDatabase,
    PgDatabase,
)
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore
from patchbay.runtime.webhooks._store import (
    PROCESSING_TIMEOUT,
    SealedWebhookRows,
    WebhookSubscription,
    new_subscription_id,
)

_COLUMNS = (
    "id, connector, auth, status, account_label, account_id, expires_at, version, "
    "created_at, updated_at, secret"
)
_UPDATE = (
    "UPDATE connections SET status=%s, account_label=%s, account_id=%s, expires_at=%s, "
    "version=%s, updated_at=%s, secret=%s WHERE id=%s AND version=%s"
)


class PgTokenStore(SealedConnections):
    """Connections (secrets encrypted as in SQLite) and refresh leases in PostgreSQL."""

    def __init__(
        self,
        url: str,
        encryptor: Encryptor | None = None,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self._db = PgDatabase(url, "token store", lock_timeout=lock_timeout)
        self.url = self._db.where
        self._encryptor = encryptor or Encryptor.from_env()

    def __repr__(self) -> str:
        return f"PgTokenStore({self.url!r})"

    def _where(self) -> str:
        return self.url

    def create(self, connection: StoredConnection) -> StoredConnection:
        now = time.time()
        conn = replace(
            connection,
            id=connection.id or uuid.uuid4().hex[:12],
            version=1,
            created_at=now,
            updated_at=now,
        )
        with self._db.connection() as db:
            db.execute(
                f"INSERT INTO connections ({_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    conn.id,
                    conn.connector,
                    conn.auth,
                    conn.status,
                    conn.account_label,
                    conn.account_id,
                    conn.expires_at,
                    conn.version,
                    conn.created_at,
                    conn.updated_at,
                    self._seal(conn),
                ),
            )
        return conn

    def get(self, connection_id: str) -> StoredConnection:
        with self._db.connection() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM connections WHERE id = %s", (connection_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no stored connection {connection_id!r}")
        return self._row(row)

    def list(self) -> list[StoredConnection]:
        """Every connection, secrets left sealed (listing never needs the key)."""
        with self._db.connection() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM connections ORDER BY created_at").fetchall()
        return [self._row(r, open_secrets=False) for r in rows]

    def delete(self, connection_id: str) -> None:
        """The connection and its refresh lease, in one transaction."""
        with self._db.transaction() as db:
            cur = db.execute("DELETE FROM connections WHERE id = %s", (connection_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no stored connection {connection_id!r}")
            db.execute("DELETE FROM refresh_leases WHERE connection_id = %s", (connection_id,))

    def save(self, connection: StoredConnection) -> StoredConnection:
        """Compare-and-swap on ``version``: a concurrent writer makes this raise ``conflict``."""
        with self._db.connection() as db:
            return self._save(db, connection)

    def _save(self, db: Any, connection: StoredConnection) -> StoredConnection:
        updated = replace(connection, version=connection.version + 1, updated_at=time.time())
        cur = db.execute(
            _UPDATE,
            (
                updated.status,
                updated.account_label,
                updated.account_id,
                updated.expires_at,
                updated.version,
                updated.updated_at,
                self._seal(updated),
                connection.id,
                connection.version,
            ),
        )
        if cur.rowcount != 1:
            raise Conflict(f"connection {connection.id!r} changed concurrently; reload and retry")
        return updated

    # ---------------------------------------------------------------------- refresh lease

    def claim_refresh(self, connection_id: str, owner: str, ttl: float) -> bool:
        # One statement, atomic on its own; times are the database's, shared by every host.
        with self._db.connection() as db:
            cur = db.execute(
                "INSERT INTO refresh_leases AS l (connection_id, owner, expires_at) "
                f"VALUES (%s, %s, {NOW} + %s) ON CONFLICT (connection_id) DO UPDATE "
                "SET owner = excluded.owner, expires_at = excluded.expires_at "
                f"WHERE l.expires_at <= {NOW}",
                (connection_id, owner, ttl),
            )
            return cur.rowcount == 1

    def commit_refresh(
        self,
        connection_id: str,
        owner: str,
        *,
        tokens: TokenSet | None = None,
        status: Status | None = None,
    ) -> StoredConnection:
        with self._db.transaction() as db:
            held = db.execute(
                "SELECT owner FROM refresh_leases WHERE connection_id = %s FOR UPDATE",
                (connection_id,),
            ).fetchone()
            if held is None or held[0] != owner:
                raise LeaseLost(
                    f"the token refresh of connection {connection_id} outlived its lease and "
                    "another caller took over; its outcome was not stored",
                    retryable=True,
                )
            row = db.execute(
                f"SELECT {_COLUMNS} FROM connections WHERE id = %s FOR UPDATE", (connection_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no stored connection {connection_id!r}")
            current = self._row(row)  # re-read under the row lock: a label saved meanwhile stays
            if tokens is not None:
                current = replace(
                    current, tokens=tokens, variables={**current.variables, **tokens.variables}
                )
            if status is not None:
                current = replace(current, status=status)
            saved = self._save(db, current)
            db.execute("DELETE FROM refresh_leases WHERE connection_id = %s", (connection_id,))
        return saved

    def release_refresh(self, connection_id: str, owner: str) -> None:
        with self._db.connection() as db:
            db.execute(
                "DELETE FROM refresh_leases WHERE connection_id = %s AND owner = %s",
                (connection_id, owner),
            )

    def refresh_lease(self, connection_id: str) -> RefreshLease | None:
        with self._db.connection() as db:
            row = db.execute(
                "SELECT connection_id, owner, expires_at FROM refresh_leases "
                "WHERE connection_id = %s",
                (connection_id,),
            ).fetchone()
        return None if row is None else RefreshLease(*row)

    def rotate_key(self) -> int:
        """Re-encrypt every row under the first key, all rows in one transaction."""
        with self._db.transaction() as db:
            rows = db.execute("SELECT id, secret FROM connections FOR UPDATE").fetchall()
            for cid, secret in rows:
                sealed = self._encryptor.rotate(bytes(secret))
                db.execute("UPDATE connections SET secret=%s WHERE id=%s", (sealed, cid))
        return len(rows)


# The subscription statements, shared by the sync store (the CLI, the manager) and the async
# one (the trigger runner). Leases: each is one autocommit statement; the row locks of a claim
# last only for that statement, never across a poll. Lease times are on the database's clock
# (shared by every host); ``now`` (the runner's clock) only decides what is due, as next_run_at
# was set by it.
_SUB_GET = "SELECT data FROM subscriptions WHERE id=%s"
_SUB_SAVE = "UPDATE subscriptions SET data=%s, status=%s, next_run_at=%s WHERE id=%s"
#: ``FOR UPDATE SKIP LOCKED``: concurrent claimers never wait on or take each other's rows; a
#: row another claim just leased is re-checked (and skipped) once its lock goes.
_SUB_CLAIM = (
    f"UPDATE subscriptions SET lease_owner=%(owner)s, lease_until={NOW} + %(lease)s "
    "WHERE id IN (SELECT id FROM subscriptions WHERE status <> 'paused' "
    f"AND next_run_at <= %(now)s AND (lease_until IS NULL OR lease_until < {NOW}) "
    "ORDER BY next_run_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "RETURNING next_run_at, data"
)
_SUB_NEXT_DUE = (
    "SELECT min(next_run_at) FROM subscriptions WHERE status <> 'paused' "
    f"AND (lease_until IS NULL OR lease_until < {NOW})"
)
_SUB_FINISH = (
    "UPDATE subscriptions SET data=%s, status=%s, next_run_at=%s, lease_owner=NULL, "
    "lease_until=NULL WHERE id=%s AND lease_owner=%s"
)
_SUB_RENEW = (
    f"UPDATE subscriptions SET lease_until={NOW} + %s "
    "WHERE lease_owner=%s AND id = ANY(%s) RETURNING id"
)
_SUB_RELEASE = (
    "UPDATE subscriptions SET lease_owner=NULL, lease_until=NULL "
    "WHERE lease_owner=%s AND id = ANY(%s)"
)


def _saved(sub: Subscription) -> tuple[str, str, float, str]:
    return (SubscriptionStore._encode(sub), sub.status, sub.next_run_at, sub.id)


def _claim_params(owner: str, now: float, limit: int, lease_seconds: float) -> dict[str, Any]:
    return {"owner": owner, "lease": lease_seconds, "now": now, "limit": max(0, limit)}


def _claimed(rows: Sequence[Any]) -> builtins.list[Subscription]:
    return [SubscriptionStore._decode(r[1]) for r in sorted(rows, key=lambda r: r[0])]


def _found(sub_id: str, row: Any) -> Subscription:
    if row is None:
        raise NotFound(f"no subscription {sub_id!r}")
    return SubscriptionStore._decode(row[0])


def _due(row: Any) -> float | None:
    return None if row is None or row[0] is None else float(row[0])


class PgSubscriptionStore:
    """Trigger subscriptions and their cursors; ``status`` and ``next_run_at`` are columns too,
    so workers can select due subscriptions by index."""

    def __init__(self, url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self._db = PgDatabase(url, "subscription store", lock_timeout=lock_timeout)
        self.url = self._db.where

    def __repr__(self) -> str:
        return f"PgSubscriptionStore({self.url!r})"

    def add(self, sub: Subscription) -> Subscription:
        sub = replace(sub, id=sub.id or uuid.uuid4().hex[:12])
        with self._db.connection() as db:
            db.execute(
                "INSERT INTO subscriptions (id, data, status, next_run_at) VALUES (%s,%s,%s,%s)",
                (sub.id, SubscriptionStore._encode(sub), sub.status, sub.next_run_at),
            )
        return sub

    def save(self, sub: Subscription) -> None:
        with self._db.connection() as db:
            db.execute(_SUB_SAVE, _saved(sub))

    def get(self, sub_id: str) -> Subscription:
        with self._db.connection() as db:
            return _found(sub_id, db.execute(_SUB_GET, (sub_id,)).fetchone())

    def list(self) -> list[Subscription]:
        with self._db.connection() as db:
            rows = db.execute("SELECT data FROM subscriptions ORDER BY id").fetchall()
        return [SubscriptionStore._decode(r[0]) for r in rows]

    def remove(self, sub_id: str) -> None:
        with self._db.connection() as db:
            if db.execute("DELETE FROM subscriptions WHERE id=%s", (sub_id,)).rowcount == 0:
                raise NotFound(f"no subscription {sub_id!r}")

    def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]:
        with self._db.connection() as db:
            params = _claim_params(owner, now, limit, lease_seconds)
            return _claimed(db.execute(_SUB_CLAIM, params).fetchall())

    def next_due(self) -> float | None:
        with self._db.connection() as db:
            return _due(db.execute(_SUB_NEXT_DUE).fetchone())

    def finish(self, sub: Subscription, owner: str) -> bool:
        with self._db.connection() as db:
            return db.execute(_SUB_FINISH, (*_saved(sub), owner)).rowcount == 1

    def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        if not ids:
            return set()
        with self._db.connection() as db:
            rows = db.execute(_SUB_RENEW, (lease_seconds, owner, list(ids))).fetchall()
        return {r[0] for r in rows}

    def release(self, owner: str, ids: Sequence[str]) -> None:
        if ids:
            with self._db.connection() as db:
                db.execute(_SUB_RELEASE, (owner, list(ids)))


class AsyncPgSubscriptionStore:
    """The subscription calls of the trigger runner's hot path on psycopg's async pool: a
    claim, a re-read or a commit waits for PostgreSQL without holding the event loop, so the
    polls in flight keep going meanwhile. Same statements as :class:`PgSubscriptionStore`."""

    def __init__(
        self, url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, pool_size: int = 10
    ) -> None:
        self._db = AsyncPgDatabase(
            url, "subscription store", lock_timeout=lock_timeout, pool_size=pool_size
        )
        self.url = self._db.where

    def __repr__(self) -> str:
        return f"AsyncPgSubscriptionStore({self.url!r})"

    async def get(self, sub_id: str) -> Subscription:
        async with self._db.connection() as db:
            return _found(sub_id, await (await db.execute(_SUB_GET, (sub_id,))).fetchone())

    async def save(self, sub: Subscription) -> None:
        async with self._db.connection() as db:
            await db.execute(_SUB_SAVE, _saved(sub))

    async def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]:
        async with self._db.connection() as db:
            params = _claim_params(owner, now, limit, lease_seconds)
            return _claimed(await (await db.execute(_SUB_CLAIM, params)).fetchall())

    async def next_due(self) -> float | None:
        async with self._db.connection() as db:
            return _due(await (await db.execute(_SUB_NEXT_DUE)).fetchone())

    async def finish(self, sub: Subscription, owner: str) -> bool:
        async with self._db.connection() as db:
            return (await db.execute(_SUB_FINISH, (*_saved(sub), owner))).rowcount == 1

    async def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        if not ids:
            return set()
        async with self._db.connection() as db:
            cur = await db.execute(_SUB_RENEW, (lease_seconds, owner, list(ids)))
            return {r[0] for r in await cur.fetchall()}

    async def release(self, owner: str, ids: Sequence[str]) -> None:
        if ids:
            async with self._db.connection() as db:
                await db.execute(_SUB_RELEASE, (owner, list(ids)))

    async def aclose(self) -> None:
        await self._db.aclose()


class PgWebhookStore(SealedWebhookRows):
    """Webhook subscriptions (secrets encrypted) and seen delivery ids, shared by every
    receiver process; pruning as in SQLite (``retention``, ``max_deliveries``)."""

    def __init__(
        self,
        url: str,
        encryptor: Encryptor | None = None,
        *,
        retention: float = 7 * 24 * 3600.0,
        max_deliveries: int = 1_000_000,
        prune_every: int = 1000,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        processing_timeout: float = PROCESSING_TIMEOUT,
    ) -> None:
        self._db = PgDatabase(url, "webhook store", lock_timeout=lock_timeout)
        self.url = self._db.where
        self._encryptor = encryptor or Encryptor.from_env()
        self.processing_timeout = processing_timeout
        self.retention = retention
        self.max_deliveries = max_deliveries
        self.prune_every = prune_every
        self._claims = 0
        self._cache: dict[tuple[str, int], tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"PgWebhookStore({self.url!r})"

    def create(self, sub: WebhookSubscription) -> WebhookSubscription:
        now = time.time()
        sub = replace(sub, id=sub.id or new_subscription_id(), version=1, created_at=now)
        sub = replace(sub, updated_at=now)
        with self._db.connection() as db:
            db.execute(
                "INSERT INTO webhook_subscriptions (id, connector, webhook, registration, "
                "version, created_at, updated_at, secret) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
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

    def get(self, subscription_id: str) -> WebhookSubscription:
        with self._db.connection() as db:
            row = db.execute(
                "SELECT id, connector, webhook, registration, version, created_at, updated_at, "
                "secret FROM webhook_subscriptions WHERE id = %s",
                (subscription_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return self._row(row)

    def list(self) -> list[WebhookSubscription]:
        """Every subscription with secrets left sealed (listing never needs the key)."""
        with self._db.connection() as db:
            rows = db.execute(
                "SELECT id, connector, webhook, registration, version, created_at, updated_at "
                "FROM webhook_subscriptions ORDER BY created_at"
            ).fetchall()
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

    def set_secrets(self, subscription_id: str, secrets: Sequence[str]) -> WebhookSubscription:
        if not secrets:
            raise ConfigError("a webhook subscription needs at least one secret")
        with self._db.connection() as db:
            cur = db.execute(
                "UPDATE webhook_subscriptions SET secret=%s, version=version+1, updated_at=%s "
                "WHERE id=%s",
                (
                    self._encryptor.encrypt(json.dumps(list(secrets)).encode()),
                    time.time(),
                    subscription_id,
                ),
            )
            if cur.rowcount != 1:
                raise NotFound(f"no webhook subscription {subscription_id!r}")
        return self.get(subscription_id)

    def delete(self, subscription_id: str) -> None:
        with self._db.transaction() as db:
            cur = db.execute("DELETE FROM webhook_subscriptions WHERE id = %s", (subscription_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no webhook subscription {subscription_id!r}")
            db.execute("DELETE FROM webhook_deliveries WHERE subscription = %s", (subscription_id,))

    def claim(self, subscription_id: str, delivery_id: str, now: float | None = None) -> bool:
        """Claim a delivery id for processing; False when another process handled it or is
        handling it now. A claim left unfinished past ``processing_timeout`` (its receiver
        died mid-handler) is taken over: one statement, so one process wins."""
        now = time.time() if now is None else now
        with self._db.connection() as db:
            cur = db.execute(
                "INSERT INTO webhook_deliveries (subscription, delivery_id, received_at) "
                "VALUES (%s,%s,%s) ON CONFLICT (subscription, delivery_id) DO UPDATE "
                "SET received_at = EXCLUDED.received_at "
                "WHERE webhook_deliveries.done_at IS NULL AND webhook_deliveries.received_at < %s",
                (subscription_id, delivery_id, now, now - self.processing_timeout),
            )
            claimed = cur.rowcount == 1
        self._claims += 1
        if self._claims % self.prune_every == 0:
            self.prune(now)
        return claimed

    def release(self, subscription_id: str, delivery_id: str) -> None:
        with self._db.connection() as db:
            db.execute(
                "DELETE FROM webhook_deliveries WHERE subscription=%s AND delivery_id=%s",
                (subscription_id, delivery_id),
            )

    def complete(self, subscription_id: str, delivery_id: str, now: float | None = None) -> None:
        """The handlers ran: from now on a copy is a duplicate, never taken over."""
        now = time.time() if now is None else now
        with self._db.connection() as db:
            db.execute(
                "UPDATE webhook_deliveries SET done_at=%s WHERE subscription=%s AND delivery_id=%s",
                (now, subscription_id, delivery_id),
            )

    def processing(self, subscription_id: str, delivery_id: str) -> bool:
        """Whether a claim on this delivery is still being processed (handlers not done)."""
        with self._db.connection() as db:
            row = db.execute(
                "SELECT done_at IS NULL FROM webhook_deliveries WHERE subscription=%s AND "
                "delivery_id=%s",
                (subscription_id, delivery_id),
            ).fetchone()
        return bool(row and row[0])

    def prune(self, now: float | None = None) -> int:
        """Drop ids past ``retention``, then the oldest beyond ``max_deliveries``."""
        now = time.time() if now is None else now
        with self._db.transaction() as db:
            removed = db.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < %s", (now - self.retention,)
            ).rowcount
            removed += db.execute(
                "DELETE FROM webhook_deliveries WHERE ctid IN (SELECT ctid FROM "
                "webhook_deliveries ORDER BY received_at DESC OFFSET %s)",
                (self.max_deliveries,),
            ).rowcount
        return int(removed)

    def delivery_count(self, subscription_id: str | None = None) -> int:
        with self._db.connection() as db:
            if subscription_id is None:
                row = db.execute("SELECT COUNT(*) FROM webhook_deliveries").fetchone()
            else:
                row = db.execute(
                    "SELECT COUNT(*) FROM webhook_deliveries WHERE subscription=%s",
                    (subscription_id,),
                ).fetchone()
        return int(row[0]) if row else 0
