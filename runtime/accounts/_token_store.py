"""Stored connections: SQLite by default, secrets encrypted at rest.

A row keeps what can be listed without the key (connector, auth variant, status, account label,
expiry) in clear, and everything secret (credentials, tokens, variables) in one encrypted blob.

Token refresh is single-flight across threads, tasks and processes through a *refresh lease*,
a row per connection naming its owner (a random token per attempt) and an expiry. The lease
protocol (:class:`RefreshLeases`) is three short writes, none of them held while the vendor is
called: :meth:`~SQLiteTokenStore.claim_refresh` takes the lease when it is free or expired,
:meth:`~SQLiteTokenStore.commit_refresh` stores the outcome only while the caller still owns it
(and frees it), :meth:`~SQLiteTokenStore.release_refresh` frees it after a failure. Any store
with an atomic conditional write (PostgreSQL's ``INSERT ... ON CONFLICT ... WHERE``) can do
the same; lease times come from the store's clock, shared by every process on the host.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from patchbay.runtime.accounts._encryption import Encryptor
from patchbay.runtime.accounts._oauth import TokenSet
from patchbay.runtime.errors import Conflict, NotFound, StoreError
from patchbay.runtime.http._redaction import REDACTED
from patchbay.runtime.storage._sqlite import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded

Status = Literal["active", "needs_reauth", "revoked"]


@dataclass(frozen=True)
class StoredConnection:
    id: str
    connector: str
    auth: str
    status: Status = "active"
    account_label: str | None = None
    account_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    tokens: TokenSet | None = field(default=None, repr=False)
    version: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    def __repr__(self) -> str:
        return (
            f"StoredConnection(id={self.id!r}, connector={self.connector!r}, auth={self.auth!r}, "
            f"status={self.status!r}, account_label={self.account_label!r}, "
            f"credentials={{{', '.join(f'{k}={REDACTED}' for k in sorted(self.credentials))}}}, "
            f"tokens={'set' if self.tokens else None}, version={self.version})"
        )

    @property
    def expires_at(self) -> float | None:
        return self.tokens.expires_at if self.tokens else None


def default_store_path() -> Path:
    """``$PATCHBAY_STORE``, else ``~/.patchbay/connections.db``."""
    import os

    configured = os.environ.get("PATCHBAY_STORE")
    return Path(configured) if configured else Path.home() / ".patchbay" / "connections.db"


@dataclass(frozen=True)
class RefreshLease:
    """Who is refreshing a connection's tokens, and until when (store clock, epoch seconds)."""

    connection_id: str
    owner: str
    expires_at: float


class LeaseLost(Conflict):
    """A refresh outlived its lease and another caller took it: its outcome was not stored."""


class RefreshLeases(Protocol):
    """The single-flight refresh protocol: short writes around (never across) the vendor call."""

    def claim_refresh(self, connection_id: str, owner: str, ttl: float) -> bool:
        """Take the lease for ``ttl`` seconds if nobody holds it or its holder's time ran out."""
        ...

    def commit_refresh(
        self,
        connection_id: str,
        owner: str,
        *,
        tokens: TokenSet | None = None,
        status: Status | None = None,
    ) -> StoredConnection:
        """Store new tokens (their variables merged) and/or a status, and free the lease, in
        one transaction; :class:`LeaseLost` (nothing written) when ``owner`` no longer holds it."""
        ...

    def release_refresh(self, connection_id: str, owner: str) -> None:
        """Free the lease if ``owner`` still holds it (after a failed refresh)."""
        ...

    def refresh_lease(self, connection_id: str) -> RefreshLease | None:
        """The current lease, expired or not (for status pages and tests)."""
        ...


class TokenStore(RefreshLeases, Protocol):
    """What other backends implement (a database, a secrets manager)."""

    def create(self, connection: StoredConnection) -> StoredConnection: ...

    def get(self, connection_id: str) -> StoredConnection: ...

    def list(self) -> list[StoredConnection]: ...

    def delete(self, connection_id: str) -> None: ...

    def save(self, connection: StoredConnection) -> StoredConnection: ...


def _token_dict(tokens: TokenSet | None) -> dict[str, Any] | None:
    if tokens is None:
        return None
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at,
        "token_type": tokens.token_type,
        "scope": tokens.scope,
        "variables": tokens.variables,
        "obtained_at": tokens.obtained_at,
    }


def _tokens(data: dict[str, Any] | None) -> TokenSet | None:
    return None if data is None else TokenSet(**data)


_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    auth TEXT NOT NULL,
    status TEXT NOT NULL,
    account_label TEXT,
    account_id TEXT,
    expires_at REAL,
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    secret BLOB NOT NULL
)
""",
    """
CREATE TABLE IF NOT EXISTS refresh_leases (
    connection_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
)
""",
)

_UPDATE = (
    "UPDATE connections SET status=?, account_label=?, account_id=?, expires_at=?, "
    "version=?, updated_at=?, secret=? WHERE id=? AND version=?"
)


class SealedConnections:
    """Row (de)coding shared by the SQLite and PostgreSQL token stores: secrets sealed in one
    encrypted blob, the rest in clear columns (in this order: id, connector, auth, status,
    account_label, account_id, expires_at, version, created_at, updated_at, secret)."""

    _encryptor: Encryptor

    def _where(self) -> str:
        raise NotImplementedError

    def _seal(self, conn: StoredConnection) -> bytes:
        payload = {
            "variables": conn.variables,
            "credentials": conn.credentials,
            "tokens": _token_dict(conn.tokens),
        }
        return self._encryptor.encrypt(json.dumps(payload).encode())

    def _row(self, row: Sequence[Any], *, open_secrets: bool = True) -> StoredConnection:
        (
            cid,
            connector,
            auth,
            status,
            label,
            account_id,
            _exp,
            version,
            created,
            updated,
            secret,
        ) = row
        secrets: dict[str, Any] = {"variables": {}, "credentials": {}, "tokens": None}
        try:
            if open_secrets:
                secrets = json.loads(
                    self._encryptor.decrypt(bytes(secret), what=f"connection {cid}")
                )
            return StoredConnection(
                id=cid,
                connector=connector,
                auth=auth,
                status=status,
                account_label=label,
                account_id=account_id,
                variables=secrets["variables"],
                credentials=secrets["credentials"],
                tokens=_tokens(secrets["tokens"]),
                version=version,
                created_at=created,
                updated_at=updated,
            )
        except (ValueError, KeyError, TypeError):  # it decrypted, yet is not what we wrote
            raise StoreError(
                f"connection {cid} in {self._where()} holds secrets in an unexpected shape",
                details={"path": self._where()},
            ) from None


class SQLiteTokenStore(SealedConnections):
    """The default store: one SQLite file (path configurable), safe across processes."""

    def __init__(
        self,
        path: str | Path,
        encryptor: Encryptor | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self._connections = ThreadLocalConnections(
            self.path, "token store", busy_timeout=busy_timeout
        )
        self._encryptor = encryptor or Encryptor.from_env()
        with self._connections.guard():
            db = self._connect()
            for statement in _SCHEMA:
                db.execute(statement)

    def __repr__(self) -> str:
        return f"SQLiteTokenStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        return self._connections.get()

    def _where(self) -> str:
        return str(self.path)

    # ---------------------------------------------------------------------------- access

    @guarded
    def create(self, connection: StoredConnection) -> StoredConnection:
        now = time.time()
        conn = replace(
            connection,
            id=connection.id or uuid.uuid4().hex[:12],
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._connect().execute(
            "INSERT INTO connections VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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

    @guarded
    def get(self, connection_id: str) -> StoredConnection:
        row = (
            self._connect()
            .execute("SELECT * FROM connections WHERE id = ?", (connection_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no stored connection {connection_id!r}")
        return self._row(row)

    @guarded
    def list(self) -> list[StoredConnection]:
        """Every connection, secrets left sealed (listing never needs the key)."""
        rows = self._connect().execute("SELECT * FROM connections ORDER BY created_at").fetchall()
        return [self._row(r, open_secrets=False) for r in rows]

    @guarded
    def delete(self, connection_id: str) -> None:
        """The connection and its refresh lease, in one transaction."""
        with self._connections.write() as db:
            cur = db.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no stored connection {connection_id!r}")
            db.execute("DELETE FROM refresh_leases WHERE connection_id = ?", (connection_id,))

    @guarded
    def save(self, connection: StoredConnection) -> StoredConnection:
        """Compare-and-swap on ``version``: a concurrent writer makes this raise ``conflict``."""
        return self._save(self._connect(), connection)

    def _save(self, db: sqlite3.Connection, connection: StoredConnection) -> StoredConnection:
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

    @guarded
    def claim_refresh(self, connection_id: str, owner: str, ttl: float) -> bool:
        # One statement, so atomic on its own: insert, or take over a lease whose time ran out.
        now = time.time()
        cur = self._connect().execute(
            "INSERT INTO refresh_leases VALUES (?,?,?) ON CONFLICT(connection_id) DO UPDATE "
            "SET owner=excluded.owner, expires_at=excluded.expires_at "
            "WHERE refresh_leases.expires_at <= ?",
            (connection_id, owner, now + ttl, now),
        )
        return cur.rowcount == 1

    @guarded
    def commit_refresh(
        self,
        connection_id: str,
        owner: str,
        *,
        tokens: TokenSet | None = None,
        status: Status | None = None,
    ) -> StoredConnection:
        with self._connections.write() as db:
            held = db.execute(
                "SELECT owner FROM refresh_leases WHERE connection_id = ?", (connection_id,)
            ).fetchone()
            if held is None or held[0] != owner:
                raise LeaseLost(
                    f"the token refresh of connection {connection_id} outlived its lease and "
                    "another caller took over; its outcome was not stored",
                    retryable=True,
                )
            row = db.execute("SELECT * FROM connections WHERE id = ?", (connection_id,)).fetchone()
            if row is None:
                raise NotFound(f"no stored connection {connection_id!r}")
            # Re-read under the write lock: a label or status saved meanwhile is kept.
            current = self._row(row)
            if tokens is not None:
                current = replace(
                    current, tokens=tokens, variables={**current.variables, **tokens.variables}
                )
            if status is not None:
                current = replace(current, status=status)
            saved = self._save(db, current)
            db.execute("DELETE FROM refresh_leases WHERE connection_id = ?", (connection_id,))
        return saved

    @guarded
    def release_refresh(self, connection_id: str, owner: str) -> None:
        self._connect().execute(
            "DELETE FROM refresh_leases WHERE connection_id = ? AND owner = ?",
            (connection_id, owner),
        )

    @guarded
    def refresh_lease(self, connection_id: str) -> RefreshLease | None:
        row = (
            self._connect()
            .execute(
                "SELECT connection_id, owner, expires_at FROM refresh_leases "
                "WHERE connection_id = ?",
                (connection_id,),
            )
            .fetchone()
        )
        return None if row is None else RefreshLease(*row)

    @guarded
    def rotate_key(self) -> int:
        """Re-encrypt every row under the first key of ``PATCHBAY_SECRET_KEY``, all rows in one
        transaction (a failure leaves every row as it was)."""
        with self._connections.write() as db:
            rows = db.execute("SELECT id, secret FROM connections").fetchall()
            for cid, secret in rows:
                sealed = self._encryptor.rotate(secret)
                db.execute("UPDATE connections SET secret=? WHERE id=?", (sealed, cid))
        return len(rows)
