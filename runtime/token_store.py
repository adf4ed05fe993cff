"""Stored connections: SQLite by default, secrets encrypted at rest.

A row keeps what can be listed without the key (connector, auth variant, status, account label,
expiry) in clear, and everything secret (credentials, tokens, variables) in one encrypted blob.
``transaction`` takes SQLite's write lock (``BEGIN IMMEDIATE``), which is what makes a token
refresh single-flight across processes sharing the file; the token provider adds locks for
threads and tasks on top.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from .encryption import Encryptor
from .errors import Conflict, NotFound
from .oauth import TokenSet
from .redaction import REDACTED
from .sqlite_db import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded

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


class TokenStore(Protocol):
    """What other backends implement (a database, a secrets manager)."""

    def create(self, connection: StoredConnection) -> StoredConnection: ...

    def get(self, connection_id: str) -> StoredConnection: ...

    def list(self) -> list[StoredConnection]: ...

    def delete(self, connection_id: str) -> None: ...

    def save(self, connection: StoredConnection) -> StoredConnection: ...

    def transaction(self, connection_id: str) -> Any: ...


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


_SCHEMA = """
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
"""


class SQLiteTokenStore:
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
            self._connect().execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteTokenStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        return self._connections.get()

    # ------------------------------------------------------------------------- (de)coding

    def _seal(self, conn: StoredConnection) -> bytes:
        payload = {
            "variables": conn.variables,
            "credentials": conn.credentials,
            "tokens": _token_dict(conn.tokens),
        }
        return self._encryptor.encrypt(json.dumps(payload).encode())

    def _row(
        self, row: sqlite3.Row | tuple[Any, ...], *, open_secrets: bool = True
    ) -> StoredConnection:
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
        if open_secrets:
            secrets = json.loads(self._encryptor.decrypt(secret, what=f"connection {cid}"))
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
        cur = self._connect().execute("DELETE FROM connections WHERE id = ?", (connection_id,))
        if cur.rowcount == 0:
            raise NotFound(f"no stored connection {connection_id!r}")

    @guarded
    def save(self, connection: StoredConnection) -> StoredConnection:
        """Compare-and-swap on ``version``: a concurrent writer makes this raise ``conflict``."""
        updated = replace(connection, version=connection.version + 1, updated_at=time.time())
        cur = self._connect().execute(
            "UPDATE connections SET status=?, account_label=?, account_id=?, expires_at=?, "
            "version=?, updated_at=?, secret=? WHERE id=? AND version=?",
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

    @contextmanager
    def transaction(self, connection_id: str) -> Iterator[SQLiteTokenStore]:
        """Hold SQLite's write lock: other processes' writers wait until this block ends."""
        with self._connections.write():
            yield self

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
