"""One SQLite file shared by the token store, subscriptions and webhook deliveries.

Each thread gets its own connection (sqlite3 connections are not shared across threads); WAL
lets readers run beside a writer, ``synchronous=NORMAL`` keeps commits safe against a crashed
process (only a power cut can lose the last one), and a busy timeout makes writers queue instead
of failing while another process holds the write lock (the cross-process single-flight refresh).

Every store method runs under :meth:`ThreadLocalConnections.guard` (the :func:`guarded`
decorator), the one place sqlite3 exceptions become Patchbay errors: a write lock still held
when the busy timeout runs out is a retryable :class:`~runtime.errors.StoreLocked`, anything
else a :class:`~runtime.errors.StoreError` naming the file.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, Protocol

from .errors import Conflict, PatchbayError, StoreError, StoreLocked

#: How long a writer waits for another connection's write lock before giving up.
DEFAULT_BUSY_TIMEOUT = 30.0
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class ThreadLocalConnections:
    """Per-thread connections to one store file; ``name`` ("token store") goes into errors."""

    def __init__(
        self, path: str | Path, name: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error:
                db.close()
                raise
            self._local.db = db
        return db

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Raise sqlite3 exceptions from the block as Patchbay errors naming the store file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> PatchbayError:
        where = f"{self.name} {self.path}"
        details = {"path": str(self.path), "sqlite_error": getattr(exc, "sqlite_errorname", "")}
        if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY:
            return StoreLocked(
                f"{where} is locked: another process (or connection) held its write lock for "
                f"longer than the {self.busy_timeout:g}s busy timeout; this change was not "
                "written, retry when that writer is done",
                retryable=True,
                details=details,
            )
        if isinstance(exc, sqlite3.IntegrityError):
            return Conflict(f"{where}: {exc}", details=details)
        return StoreError(
            f"{where} failed: {exc} (check that the file is a Patchbay store, readable and "
            "writable, and that its disk is not full)",
            details=details,
        )

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one transaction holding the write lock (``BEGIN IMMEDIATE``): it is
        committed whole or rolled back whole. Nested inside another, it joins that one."""
        db = self.get()
        if db.in_transaction:
            yield db
            return
        with self.guard():
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            with self.guard():
                db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # also after a failed COMMIT, so the connection is reusable
                with self.guard():
                    db.execute("ROLLBACK")
            raise


class SQLiteStore(Protocol):
    """What :func:`guarded` needs of a store: its connections."""

    _connections: ThreadLocalConnections


def guarded[S: SQLiteStore, **P, R](
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], R]:
    """A store method whose sqlite3 exceptions reach callers as Patchbay errors."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._connections.guard():
            return method(self, *args, **kwargs)

    return wrapper
