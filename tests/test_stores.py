"""What every store backend guarantees, run on SQLite and on PostgreSQL (``store_backend``):
the refresh lease protocol, subscriptions and cursors, delivery dedupe under concurrency; then
what only the PostgreSQL backend has (URL selection, migrations, password-free messages)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import StoreBackend
from pg_cluster import PgCluster, free_port

from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.accounts._oauth import TokenSet
from patchbay.runtime.accounts._token_store import LeaseLost, SQLiteTokenStore, StoredConnection
from patchbay.runtime.errors import Conflict, NotFound, StoreError
from patchbay.runtime.storage._postgres import MIGRATIONS, PgDatabase, close_pools
from patchbay.runtime.storage._postgres_stores import (
    PgSubscriptionStore,
    PgTokenStore,
    PgWebhookStore,
)
from patchbay.runtime.stores import (
    open_subscription_store,
    open_token_store,
    open_webhook_store,
    store_location,
)
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore
from patchbay.runtime.webhooks import SQLiteWebhookStore, WebhookSubscription

KEY = new_key()
ROOT = Path(__file__).resolve().parent.parent


def _connection(store: Any) -> StoredConnection:
    tokens = TokenSet("at_FAKE_old", refresh_token="rt_FAKE_old", expires_at=time.time() - 60)
    made: StoredConnection = store.create(
        StoredConnection("", "slack", "oauth", account_label="team", tokens=tokens)
    )
    return made


# ------------------------------------------------------------------------ refresh leases


def test_the_refresh_lease_protocol(store_backend: StoreBackend) -> None:
    store = store_backend.token_store(Encryptor([KEY]))
    conn = _connection(store)
    assert store.refresh_lease(conn.id) is None
    assert store.claim_refresh(conn.id, "a", 60.0)
    assert not store.claim_refresh(conn.id, "b", 60.0)  # held and live
    lease = store.refresh_lease(conn.id)
    assert lease is not None and lease.owner == "a" and lease.expires_at > time.time() + 50
    store.release_refresh(conn.id, "b")  # not b's: nothing happens
    assert store.refresh_lease(conn.id) == lease
    with pytest.raises(LeaseLost):
        store.commit_refresh(conn.id, "b", status="needs_reauth")
    assert store.get(conn.id) == conn  # nothing written by the loser
    # A label saved meanwhile survives the commit (re-read under the lock).
    store.save(replace(store.get(conn.id), account_label="renamed"))
    new = TokenSet("at_FAKE_new", refresh_token="rt_FAKE_new", variables={"team": "T1"})
    saved = store.commit_refresh(conn.id, "a", tokens=new)
    assert store.refresh_lease(conn.id) is None  # freed with the commit
    got = store.get(conn.id)
    assert got == saved and got.tokens == new and got.account_label == "renamed"
    assert got.variables == {"team": "T1"} and got.version == conn.version + 2
    # An expired lease is taken over; a released one is free again.
    assert store.claim_refresh(conn.id, "gone", -1.0)
    assert store.claim_refresh(conn.id, "c", 60.0)
    store.release_refresh(conn.id, "c")
    assert store.refresh_lease(conn.id) is None
    store.delete(conn.id)
    with pytest.raises(NotFound):
        store.get(conn.id)


def test_one_claim_wins_among_many_threads_and_handles(store_backend: StoreBackend) -> None:
    """20 threads over 4 store handles race for one lease and one delivery id: one wins each."""
    handles = [store_backend.token_store(Encryptor([KEY])) for _ in range(4)]
    hooks = [store_backend.webhook_store(Encryptor([KEY])) for _ in range(4)]
    conn = _connection(handles[0])
    start = threading.Barrier(20)
    leases: list[bool] = []
    claims: list[bool] = []

    def race(i: int) -> None:
        start.wait()
        leases.append(handles[i % 4].claim_refresh(conn.id, f"owner{i}", 60.0))
        claims.append(hooks[i % 4].claim("sub", "evt_same"))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(leases) == [False] * 19 + [True]
    assert sorted(claims) == [False] * 19 + [True]
    assert hooks[0].delivery_count("sub") == 1


# ------------------------------------------------------------------ subscriptions, cursors


def test_subscriptions_keep_their_cursor_and_state(store_backend: StoreBackend) -> None:
    store = store_backend.subscription_store()
    sub = store.add(Subscription("", "conn1", "github", "new_issue", 30.0, params={"o": "x"}))
    assert sub.id and store.get(sub.id) == sub
    moved = replace(
        sub,
        cursor={"since": "2026-01-01T00:00:00Z"},
        seen=("k1", "k2"),
        started=True,
        status="backing_off",
        failures=2,
        next_run_at=123.5,
        delivered=7,
    )
    store.save(moved)
    other = store_backend.subscription_store()  # another handle (another process) sees it
    assert other.get(sub.id) == moved and other.list() == [moved]
    other.remove(sub.id)
    assert store.list() == []
    with pytest.raises(NotFound):
        store.remove(sub.id)
    with pytest.raises(NotFound):
        store.get(sub.id)


def test_webhook_subscriptions_round_trip(store_backend: StoreBackend) -> None:
    store = store_backend.webhook_store(Encryptor([KEY]))
    sub = store.create(
        WebhookSubscription("", "github", "events", ("whsec_FAKE",), registration={"id": 9})
    )
    assert store.get(sub.id) == sub
    rotated = store.add_secret(sub.id, "whsec_FAKE_2")
    assert rotated.secrets == ("whsec_FAKE_2", "whsec_FAKE") and rotated.version == 2
    assert store.claim(sub.id, "d1") and not store.claim(sub.id, "d1")
    store.release(sub.id, "d1")
    assert store.claim(sub.id, "d1")
    store.delete(sub.id)
    assert store.delivery_count(sub.id) == 0 and store.list() == []
    with pytest.raises(NotFound):
        store.delete(sub.id)


def test_a_delivery_claim_is_processing_until_completed_then_a_duplicate(
    store_backend: StoreBackend,
) -> None:
    store = store_backend.webhook_store(Encryptor([KEY]), processing_timeout=60.0)
    sub = store.create(WebhookSubscription("", "github", "events", ("whsec_FAKE",)))
    assert store.claim(sub.id, "d1", now=1000.0)
    assert store.processing(sub.id, "d1")
    assert not store.claim(sub.id, "d1", now=1030.0)  # the first receiver is still on it
    store.complete(sub.id, "d1", now=1031.0)
    assert not store.processing(sub.id, "d1")
    assert not store.claim(sub.id, "d1", now=5000.0)  # done: a duplicate forever after
    assert not store.processing(sub.id, "never-seen")


def test_a_claim_left_unfinished_past_the_timeout_is_taken_over_once(
    store_backend: StoreBackend,
) -> None:
    """A receiver that died mid-handler: the vendor's retry after the processing timeout takes
    the delivery over (exactly one of several concurrent retries does), so nothing is lost."""
    stores = [
        store_backend.webhook_store(Encryptor([KEY]), processing_timeout=60.0) for _ in range(3)
    ]
    sub = stores[0].create(WebhookSubscription("", "github", "events", ("whsec_FAKE",)))
    assert stores[0].claim(sub.id, "d1", now=1000.0)  # ... and its receiver is killed
    assert not stores[1].claim(sub.id, "d1", now=1059.0)
    won = []
    barrier = threading.Barrier(len(stores))

    def retry(store: Any) -> None:
        barrier.wait()
        if store.claim(sub.id, "d1", now=1061.0):
            won.append(store)

    threads = [threading.Thread(target=retry, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    won[0].complete(sub.id, "d1", now=1062.0)
    assert not stores[2].claim(sub.id, "d1", now=9999.0)


# --------------------------------------------------------------- selection by URL or path


def test_the_location_picks_the_backend(
    tmp_path: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    encryptor = Encryptor([KEY])
    path = tmp_path / "x.db"
    assert isinstance(open_token_store(path, encryptor), SQLiteTokenStore)
    assert isinstance(open_subscription_store(str(path)), SubscriptionStore)
    assert isinstance(open_webhook_store(path, encryptor), SQLiteWebhookStore)
    url = pg_cluster.new_database()
    try:
        monkeypatch.setenv("PATCHBAY_STORE", url)
        assert store_location() == url  # a URL stays a string: a Path would fold its //
        assert isinstance(open_token_store(None, encryptor), PgTokenStore)
        assert isinstance(open_subscription_store(), PgSubscriptionStore)
        assert isinstance(open_webhook_store(None, encryptor), PgWebhookStore)
        monkeypatch.setenv("PATCHBAY_STORE", str(path))
        assert store_location() == path
    finally:
        close_pools()


def test_sqlite_users_never_import_psycopg_and_a_missing_extra_names_it(tmp_path: Path) -> None:
    code = f"""
import sys
sys.modules["psycopg"] = None  # as if the [postgres] extra were not installed
sys.modules["psycopg_pool"] = None
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.stores import open_token_store
store = open_token_store({str(tmp_path / "t.db")!r}, Encryptor([new_key()]))
store.list()
try:
    open_token_store("postgresql://patchbay@127.0.0.1:1/x", Encryptor([new_key()]))
except ConfigError as exc:
    print(exc.message)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "[postgres]" in done.stdout and "pip install 'patchbay[postgres]'" in done.stdout


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    url = f"postgresql://patchbay:pw_FAKE_secret@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(StoreError) as error:
        PgTokenStore(url, Encryptor([KEY]))
    exc = error.value
    assert exc.code == "config" and "cannot be reached" in exc.message
    assert "pw_FAKE_secret" not in exc.message and "127.0.0.1" in exc.message
    assert exc.__cause__ is None


def test_the_password_stays_out_of_reprs_and_errors(pg_cluster: PgCluster) -> None:
    url = pg_cluster.new_database().replace("patchbay@", "patchbay:pw_FAKE_secret@")
    try:
        store = PgTokenStore(url, Encryptor([KEY]))  # trust auth: the password is not checked
        conn = store.create(StoredConnection("dup", "stripe", "api_key"))
        assert "pw_FAKE_secret" not in repr(store)
        with pytest.raises(Conflict) as error:
            store.create(conn)
        assert "pw_FAKE_secret" not in error.value.message and "***" in error.value.message
    finally:
        close_pools()


# --------------------------------------------------------------------------- migrations


def _migrate(url: str, out: Any) -> None:
    try:
        PgDatabase(url, "test store")
        out.put("ok")
    except Exception as exc:
        out.put(repr(exc))
    finally:
        close_pools()


def test_migrations_apply_once_even_when_processes_start_together(pg_cluster: PgCluster) -> None:
    url = pg_cluster.new_database()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_migrate, args=(url, out)) for _ in range(4)]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(60)
    assert results == ["ok"] * 4
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT version, name FROM patchbay_migrations ORDER BY 1").fetchall()
    assert rows == [(version, name) for version, name, _ in MIGRATIONS]
    close_pools()  # forget what this process applied: the database itself says it is done
    try:
        assert PgDatabase(url, "test store").migrate() == []
    finally:
        close_pools()


def test_a_newer_migration_is_applied_to_an_older_database(
    pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_cluster.new_database()
    import patchbay.runtime.storage._postgres as pg_db

    try:
        monkeypatch.setattr(pg_db, "MIGRATIONS", MIGRATIONS[:1])
        PgDatabase(url, "test store")
        close_pools()
        monkeypatch.setattr(pg_db, "MIGRATIONS", MIGRATIONS)
        assert PgDatabase(url, "test store").migrate() == []  # done at construction
        with psycopg.connect(url) as db:
            versions = [r[0] for r in db.execute("SELECT version FROM patchbay_migrations")]
        assert sorted(versions) == [v for v, _, _ in MIGRATIONS]
        assert PgSubscriptionStore(url).list() == []  # the later tables exist
    finally:
        close_pools()
