"""PostgreSQL under the stores: a shared connection pool, numbered migrations, error mapping.

Selected by URL (``PATCHBAY_STORE=postgresql://user@host/db``); SQLite paths keep working and
never import psycopg. psycopg 3 and psycopg-pool come with Patchbay's ``[postgres]`` extra and
are imported lazily: a missing extra is a :class:`~runtime.errors.ConfigError` naming it.

One pool per (URL, lock timeout) in a process, shared by the token, subscription and webhook
stores. Every store call borrows a connection for one short transaction and gives it back
before returning: no transaction or row lock ever spans a network call or an ``await`` (the
refresh lease protocol exists for exactly that). A lock wait longer than the lock timeout is a
retryable :class:`~runtime.errors.StoreLocked`, like SQLite's busy timeout.

The schema is a list of numbered migrations (:data:`MIGRATIONS`), applied in order, each in the
same transaction as its row in ``patchbay_migrations``, under a transaction-scoped advisory
lock, so processes starting together apply each migration exactly once.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from patchbay.runtime.errors import (
    ConfigError,
    Conflict,
    PatchbayError,
    StoreError,
    StoreLocked,
)

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

SCHEMES = ("postgresql://", "postgres://")
#: Any fixed 64-bit number shared by every Patchbay process; it names the migration lock.
MIGRATION_LOCK = 0x7061746368626179  # "patchbay"
DEFAULT_LOCK_TIMEOUT = 30.0

#: (version, name, statements). Append only: a released migration is never edited.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "connections and refresh leases",
        (
            """CREATE TABLE connections (
                id TEXT PRIMARY KEY,
                connector TEXT NOT NULL,
                auth TEXT NOT NULL,
                status TEXT NOT NULL,
                account_label TEXT,
                account_id TEXT,
                expires_at DOUBLE PRECISION,
                version INTEGER NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                secret BYTEA NOT NULL
            )""",
            """CREATE TABLE refresh_leases (
                connection_id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
        ),
    ),
    (
        2,
        "trigger subscriptions",
        (
            """CREATE TABLE subscriptions (
                id TEXT PRIMARY KEY,
                data TEXT NOT NULL,
                status TEXT NOT NULL,
                next_run_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX subscriptions_due ON subscriptions (next_run_at)",
        ),
    ),
    (
        3,
        "webhook subscriptions and deliveries",
        (
            """CREATE TABLE webhook_subscriptions (
                id TEXT PRIMARY KEY,
                connector TEXT NOT NULL,
                webhook TEXT NOT NULL,
                registration TEXT NOT NULL,
                version INTEGER NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                secret BYTEA NOT NULL
            )""",
            """CREATE TABLE webhook_deliveries (
                subscription TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                received_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (subscription, delivery_id)
            )""",
            "CREATE INDEX webhook_deliveries_age ON webhook_deliveries (received_at)",
        ),
    ),
    (
        4,
        "trigger subscription leases",
        (
            "ALTER TABLE subscriptions ADD COLUMN lease_owner TEXT, "
            "ADD COLUMN lease_until DOUBLE PRECISION",
            # Claims read due rows in next_run_at order and skip paused ones (subscriptions_due
            # from migration 2 stays for the other readers).
            "CREATE INDEX subscriptions_claimable ON subscriptions (next_run_at) "
            "WHERE status <> 'paused'",
        ),
    ),
    (
        5,
        "webhook delivery processing claims",
        (
            # NULL while a receiver runs the handlers; a claim left NULL past the processing
            # timeout (its receiver died) may be taken over by the vendor's retry.
            "ALTER TABLE webhook_deliveries ADD COLUMN done_at DOUBLE PRECISION",
            "UPDATE webhook_deliveries SET done_at = received_at",
        ),
    ),
)

#: The store clock, shared by every host: lease expiry never depends on a worker's own clock.
NOW = "extract(epoch from clock_timestamp())"


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


def redact_url(url: str) -> str:
    """The URL without its password (for messages, reprs and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(
            "a postgresql:// store needs Patchbay's [postgres] extra (missing: psycopg, "
            "psycopg_pool); install it with: pip install 'patchbay[postgres]'"
        ) from None


_POOLS: dict[tuple[str, float], psycopg_pool.ConnectionPool[Any]] = {}
_MIGRATED: set[str] = set()
_LOCK = threading.Lock()


def _session_settings(lock_timeout: float) -> dict[str, Any]:
    """What every pooled session runs with, sync or async: autocommit (each statement is its
    own transaction) and the lock timeout that turns a long lock wait into StoreLocked."""
    return {"options": f"-c lock_timeout={max(1, int(lock_timeout * 1000))}", "autocommit": True}


def _pool(url: str, lock_timeout: float, max_size: int) -> psycopg_pool.ConnectionPool[Any]:
    pool_module = _import("psycopg_pool")
    _import("psycopg")
    key = (url, lock_timeout)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = pool_module.ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                kwargs=_session_settings(lock_timeout),
                open=False,
                name=f"patchbay {redact_url(url)}",
            )
            pool.open(wait=False)
            if not _POOLS:
                atexit.unregister(close_pools)  # registered once, whatever was closed before
                atexit.register(close_pools)
            _POOLS[key] = pool
        return pool


def close_pools() -> None:
    """Close every pool of this process (tests, forked children, shutdown)."""
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
        _MIGRATED.clear()
    for pool in pools:
        pool.close()


def migrate(url: str, connect_timeout: float = 10.0) -> list[int]:
    """Apply the migrations the database at ``url`` lacks (once per process); returns the
    versions applied.

    Runs on a connection of its own (not a pool's), so a wrong URL or a server that is down
    fails here at once with the server's own reason."""
    if url in _MIGRATED:
        return []
    psycopg = _import("psycopg")
    applied: list[int] = []
    with (
        psycopg.connect(url, connect_timeout=max(1, int(connect_timeout))) as db,
        db.transaction(),
    ):
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        db.execute(
            "CREATE TABLE IF NOT EXISTS patchbay_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = db.execute("SELECT coalesce(max(version), 0) FROM patchbay_migrations").fetchone()
        done = int(row[0]) if row else 0
        for version, name, statements in MIGRATIONS:
            if version <= done:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute(
                "INSERT INTO patchbay_migrations (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(version)
    _MIGRATED.add(url)
    return applied


class _Handle:
    """What both handles share: the store's name and redacted URL in every error, and the
    migrations, applied (once per process) before a handle is used."""

    def __init__(self, url: str, name: str, *, lock_timeout: float, connect_timeout: float) -> None:
        self.url = url
        self.where = redact_url(url)
        self.name = name
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self.migrate()

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks; returns the versions applied."""
        with self.guard():
            return migrate(self.url, self.connect_timeout)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Raise psycopg and pool errors from the block as Patchbay errors naming the store."""
        psycopg = _import("psycopg")
        pool_module = _import("psycopg_pool")
        try:
            yield
        except PatchbayError:
            raise
        except pool_module.PoolTimeout as exc:
            raise StoreLocked(
                f"{self.name} {self.where}: no database connection within "
                f"{self.connect_timeout:g}s ({exc}); retry later",
                retryable=True,
                details={"url": self.where},
            ) from None
        except psycopg.Error as exc:
            raise self._error(exc, psycopg) from None

    def _error(self, exc: Exception, psycopg: Any) -> PatchbayError:
        where = f"{self.name} {self.where}"
        sqlstate = getattr(exc, "sqlstate", None) or ""
        details = {"url": self.where, "sqlstate": sqlstate}
        errors = psycopg.errors
        busy = (errors.LockNotAvailable, errors.SerializationFailure, errors.DeadlockDetected)
        if isinstance(exc, busy):
            return StoreLocked(
                f"{where} is locked: another connection held a lock this change needed for "
                f"longer than the {self.lock_timeout:g}s lock timeout (the write lock); this "
                "change was not written, retry when that writer is done",
                retryable=True,
                details=details,
            )
        if isinstance(exc, psycopg.IntegrityError):
            return Conflict(f"{where}: {exc}", details=details)
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"{where} cannot be reached: {exc} (check the URL, that the server is up and "
                "that it accepts this user)",
                retryable=True,
                details=details,
            )
        return StoreError(f"{where} failed: {exc}", details=details)


class PgDatabase(_Handle):
    """A store's handle on one PostgreSQL database; ``name`` ("token store") goes into errors."""

    def __init__(
        self,
        url: str,
        name: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, name, lock_timeout=lock_timeout, connect_timeout=connect_timeout)
        with self.guard():
            self._pool = _pool(url, lock_timeout, pool_size)

    def __repr__(self) -> str:
        return f"PgDatabase({self.where!r})"

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode: each statement is its own transaction."""
        with self.guard(), self._pool.connection(timeout=self.connect_timeout) as db:
            yield db

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection, committed whole or rolled back whole; it
        must stay short and synchronous (never a network call)."""
        with self.connection() as db, db.transaction():
            yield db


class AsyncPgDatabase(_Handle):
    """The handle of an async caller (the trigger runner): psycopg's async pool, so a store
    call waits without holding the event loop. The pool belongs to this handle and to the
    event loop it was first used on (asyncio objects cannot cross loops); :meth:`aclose` it
    before that loop ends, after which it refuses calls (a pool reopened then would be left
    running when the loop ends). Migrations run once, synchronously, when the handle is made."""

    def __init__(
        self,
        url: str,
        name: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, name, lock_timeout=lock_timeout, connect_timeout=connect_timeout)
        self._pool_size = pool_size
        self._pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"AsyncPgDatabase({self.where!r})"

    async def _opened(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        if self._pool is not None:
            return self._pool
        async with self._opening:  # callers racing to the first use open one pool
            if self._closed:
                # A pool opened now would outlive its owner's aclose (and its loop).
                raise StoreError(f"{self.name} {self.where} is closed")
            if self._pool is not None:
                return self._pool
            pool_module = _import("psycopg_pool")
            pool: psycopg_pool.AsyncConnectionPool[Any] = pool_module.AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=self._pool_size,
                kwargs=_session_settings(self.lock_timeout),
                open=False,
                name=f"patchbay async {self.where}",
            )
            await pool.open(wait=False)
            self._pool = pool
            return pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection in autocommit mode: each statement is its own transaction."""
        with self.guard():
            pool = await self._opened()
            async with pool.connection(timeout=self.connect_timeout) as db:
                yield db

    async def aclose(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
