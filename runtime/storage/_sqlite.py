"""One SQLite file shared by the token store, subscriptions and webhook deliveries.

Each thread gets its own connection (sqlite3 connections are not shared across threads); WAL
lets readers run beside a writer, ``synchronous=NORMAL`` keeps commits safe against a crashed
process (only a power cut can lose the last one), and a busy timeout makes writers queue instead
of failing while another process holds the write lock.

Transactions are short and private: a :meth:`ThreadLocalConnections.write` block opens one,
runs a few statements and commits before the store method returns, and it refuses to run
inside a transaction that is already open instead of silently joining it. No transaction ever
spans a network call or an ``await``, so asyncio tasks that share a thread (and so a
connection) can never commit or roll back each other's writes.

The file is created ``0600`` and any folder Patchbay creates for it ``0700`` (SQLite gives its
``-wal``/``-shm``/``-journal`` side files the main file's mode), without touching the process
umask, which other threads rely on.

Every store method runs under :meth:`ThreadLocalConnections.guard` (the :func:`guarded`
decorator), the one place sqlite3 and file-system exceptions become Patchbay errors: a write
lock still held when the busy timeout runs out is a retryable
:class:`~runtime.errors.StoreLocked`, anything else a :class:`~runtime.errors.StoreError`
naming the file.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, Protocol

from patchbay.runtime.errors import Conflict, PatchbayError, StoreError, StoreLocked

#: How long a writer waits for another connection's write lock before giving up. Writes are
#: a few statements long, so this is only reached when another process is stuck mid-write.
DEFAULT_BUSY_TIMEOUT = 30.0
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def create_private_file(path: Path) -> None:
    """Create ``path`` (and missing folders) readable by its owner only, if it does not exist.

    SQLite would create the file with ``0644`` minus the umask; creating it first, empty, makes
    SQLite keep our mode and copy it to its side files. An existing file is left as it is.
    """
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it first: its mode is its own
        os.chmod(created, FOLDER_MODE)  # exact, whatever the umask
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


class ThreadLocalConnections:
    """Per-thread connections to one store file; ``name`` ("token store") goes into errors."""

    def __init__(
        self, path: str | Path, name: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.busy_timeout = busy_timeout
        with self.guard():
            create_private_file(self.path)
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
        """Raise sqlite3 and file errors from the block as Patchbay errors naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise StoreError(
                f"{self.name} {self.path} cannot be created or opened: "
                f"{exc.strerror or type(exc).__name__}",
                details={"path": str(self.path)},
            ) from None

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
        committed whole or rolled back whole.

        The block must be short and synchronous (never a network call, never an ``await``).
        A transaction already open on this thread's connection is an error, not something to
        join: joining is how one task's rollback used to undo another task's commit.
        """
        db = self.get()
        if db.in_transaction:
            raise StoreError(
                f"{self.name} {self.path}: a transaction is already open on this connection; "
                "store transactions never nest and never outlive one store call",
                details={"path": str(self.path)},
            )
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
