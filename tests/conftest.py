"""Shared helpers: a minimal spec document builder and a recording fake sleep."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_cluster import PgCluster

from patchbay.runtime import ConnectorSpec, parse_spec
from patchbay.runtime.accounts._encryption import Encryptor
from patchbay.runtime.accounts._token_store import SQLiteTokenStore
from patchbay.runtime.storage._postgres import PgDatabase, close_pools
from patchbay.runtime.storage._postgres_stores import (
    PgSubscriptionStore,
    PgTokenStore,
    PgWebhookStore,
)
from patchbay.runtime.triggers._runner import SubscriptionStore
from patchbay.runtime.webhooks import SQLiteWebhookStore

ITEM_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
}


def spec_doc(actions: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A small valid connector document around ``actions`` (override any top-level key)."""
    doc: dict[str, Any] = {
        "name": "acme",
        "title": "Acme",
        "version": "1.0.0",
        "connection": {"base_url": "https://api.acme.test/v1"},
        "auth": [
            {
                "name": "token",
                "type": "bearer",
                "token": "{api_key}",
                "fields": {"api_key": {"description": "API key"}},
            }
        ],
        "test_connection": {"path": "/me", "account_label_path": "name"},
        "actions": actions,
    }
    doc.update(copy.deepcopy(top))
    return doc


def make_spec(actions: list[dict[str, Any]], **top: Any) -> ConnectorSpec:
    return parse_spec(spec_doc(actions, **top))


class FakeSleep:
    """Records requested waits instead of sleeping (sync and async)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def async_(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


# --------------------------------------------------------------- store backends (SQLite, PG)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster per test session; failing to start fails the tests."""
    cluster = PgCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@dataclass
class StoreBackend:
    """One store location of a kind (``sqlite`` file or ``postgres`` database) and its locks."""

    kind: str
    location: str | Path

    @property
    def where(self) -> str:
        """How the stores name this location in their errors (a URL without password)."""
        return str(self.location)

    def token_store(self, encryptor: Encryptor, timeout: float | None = None) -> Any:
        if self.kind == "sqlite":
            kw = {} if timeout is None else {"busy_timeout": timeout}
            return SQLiteTokenStore(self.location, encryptor, **kw)
        kw = {} if timeout is None else {"lock_timeout": timeout}
        return PgTokenStore(str(self.location), encryptor, **kw)

    def subscription_store(self, timeout: float | None = None) -> Any:
        if self.kind == "sqlite":
            kw = {} if timeout is None else {"busy_timeout": timeout}
            return SubscriptionStore(self.location, **kw)
        kw = {} if timeout is None else {"lock_timeout": timeout}
        return PgSubscriptionStore(str(self.location), **kw)

    def webhook_store(self, encryptor: Encryptor, timeout: float | None = None, **kw: Any) -> Any:
        if self.kind == "sqlite":
            if timeout is not None:
                kw["busy_timeout"] = timeout
            return SQLiteWebhookStore(self.location, encryptor, **kw)
        if timeout is not None:
            kw["lock_timeout"] = timeout
        return PgWebhookStore(str(self.location), encryptor, **kw)

    def raw_rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of ``table`` as stored (no decryption), read around the store."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.location) as db:
                return db.execute(f"SELECT * FROM {table}").fetchall()
        with psycopg.connect(str(self.location)) as db:
            return db.execute(f"SELECT * FROM {table}").fetchall()

    @contextmanager
    def write_locked(self) -> Iterator[None]:
        """Another connection holds the write lock (readers still read) during the block."""
        if self.kind == "sqlite":
            other = sqlite3.connect(self.location, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                other.execute("ROLLBACK")
                other.close()
            return
        with psycopg.connect(str(self.location)) as other:
            other.execute(f"LOCK TABLE {', '.join(PG_TABLES)} IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                other.rollback()


PG_TABLES = (
    "connections",
    "refresh_leases",
    "subscriptions",
    "webhook_subscriptions",
    "webhook_deliveries",
)


def open_backend(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreBackend]:
    """A fresh location of ``kind``: a file in ``tmp_path``, or a new database in the session's
    cluster (its pools closed after the test)."""
    if kind == "sqlite":
        yield StoreBackend("sqlite", tmp_path / "store.db")
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    PgDatabase(url, "test store")  # the tables exist before any test locks them
    try:
        yield StoreBackend("postgres", url)
    finally:
        close_pools()


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    """The same store test on SQLite (a file) and on PostgreSQL (a fresh database)."""
    yield from open_backend(request.param, tmp_path, request)
