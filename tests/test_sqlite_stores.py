"""Store failures in the three stores reach callers as Patchbay errors, never raw; the same
tests run on SQLite and on PostgreSQL (the ``store_backend`` fixture).

Another connection holds the write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``LOCK TABLE
… IN EXCLUSIVE MODE``, readers still read) while a store with a tiny busy/lock timeout tries to
write: the store must raise the retryable ``StoreLocked`` naming its file or URL, and what was
stored before must be intact and writable again once the lock is gone.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import StoreBackend

from patchbay.runtime import Conflict, PatchbayError, StoreError, StoreLocked
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.storage._sqlite import ThreadLocalConnections
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore
from patchbay.runtime.webhooks import SQLiteWebhookStore, WebhookSubscription

KEY = new_key()
TINY = 0.01  # seconds a store waits for the lock; the lock is never released meanwhile


def assert_locked(error: pytest.ExceptionInfo[StoreLocked], where: str, store: str) -> None:
    exc = error.value
    assert exc.code == "timeout" and exc.retryable
    assert store in exc.message and where in exc.message
    assert "write lock" in exc.message and "retry" in exc.message
    assert exc.__cause__ is None and exc.__suppress_context__  # no raw sqlite3 chained


def test_a_locked_token_store_raises_store_locked_and_loses_nothing(
    store_backend: StoreBackend,
) -> None:
    store = store_backend.token_store(Encryptor([KEY]), TINY)
    kept = store.create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_test_FAKE"})
    )
    changed = replace(kept, credentials={"api_key": "sk_test_FAKE_NEW"}, account_label="new")
    with store_backend.write_locked():
        with pytest.raises(StoreLocked) as error:
            store.save(changed)
        assert_locked(error, store_backend.where, "token store")
        with pytest.raises(StoreLocked):
            store.create(StoredConnection("", "stripe", "api_key", credentials={"api_key": "x"}))
        with pytest.raises(StoreLocked):
            store.delete(kept.id)
        with pytest.raises(StoreLocked):
            store.rotate_key()
        with pytest.raises(StoreLocked):
            store.commit_refresh(kept.id, "owner", status="needs_reauth")
        with pytest.raises(StoreLocked):
            store.claim_refresh(kept.id, "owner", 60.0)
        assert store.get(kept.id) == kept  # readers are not blocked (WAL, MVCC)
    assert store.get(kept.id) == kept
    assert [c.id for c in store.list()] == [kept.id]
    saved = store.save(changed)  # the connection is usable again, no transaction left open
    assert store.get(kept.id) == saved and saved.version == kept.version + 1


def test_a_locked_subscription_store_raises_store_locked_and_loses_nothing(
    store_backend: StoreBackend,
) -> None:
    store = store_backend.subscription_store(TINY)
    kept = store.add(Subscription("", "conn1", "stripe", "new_charge", 60.0, cursor="c1"))
    with store_backend.write_locked():
        with pytest.raises(StoreLocked) as error:
            store.save(replace(kept, cursor="c2", delivered=5))
        assert_locked(error, store_backend.where, "subscription store")
        with pytest.raises(StoreLocked):
            store.add(Subscription("", "conn1", "stripe", "new_charge", 60.0))
        with pytest.raises(StoreLocked):
            store.remove(kept.id)
    assert store.list() == [kept]
    store.save(replace(kept, cursor="c2"))
    assert store.get(kept.id).cursor == "c2"


def test_a_locked_webhook_store_raises_store_locked_and_loses_nothing(
    store_backend: StoreBackend,
) -> None:
    store = store_backend.webhook_store(Encryptor([KEY]), TINY)
    kept = store.create(WebhookSubscription("", "stripe", "events", secrets=("whsec_FAKE",)))
    assert store.claim(kept.id, "evt_1")
    with store_backend.write_locked():
        with pytest.raises(StoreLocked) as error:
            store.claim(kept.id, "evt_2")
        assert_locked(error, store_backend.where, "webhook store")
        with pytest.raises(StoreLocked):
            store.set_secrets(kept.id, ["whsec_FAKE_NEW"])
        with pytest.raises(StoreLocked):
            store.delete(kept.id)
        with pytest.raises(StoreLocked):
            store.release(kept.id, "evt_1")
    assert store.get(kept.id) == kept
    assert store.delivery_count(kept.id) == 1
    assert not store.claim(kept.id, "evt_1")  # still recorded: a duplicate
    assert store.claim(kept.id, "evt_2")  # never recorded: processed now


def test_a_file_that_is_not_a_store_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the tables you are looking for" * 100)
    for open_store in (
        lambda: SQLiteTokenStore(path, Encryptor([KEY])),
        lambda: SubscriptionStore(path),
        lambda: SQLiteWebhookStore(path, Encryptor([KEY])),
    ):
        with pytest.raises(StoreError) as error:
            open_store()
        assert error.value.code == "config" and not error.value.retryable
        assert str(path) in error.value.message and "not a database" in error.value.message


def test_a_duplicate_id_is_a_conflict_not_an_integrity_error(store_backend: StoreBackend) -> None:
    store = store_backend.token_store(Encryptor([KEY]))
    first = store.create(StoredConnection("dup", "stripe", "api_key", credentials={"api_key": "a"}))
    with pytest.raises(Conflict, match=r"(?i)unique"):
        store.create(StoredConnection("dup", "stripe", "api_key", credentials={"api_key": "b"}))
    assert store.get("dup") == first


def test_an_error_inside_a_transaction_rolls_back_everything(store_backend: StoreBackend) -> None:
    """Key rotation re-encrypts every row in one transaction: a row no key opens undoes it all."""
    kept = store_backend.token_store(Encryptor([KEY])).create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "a"})
    )
    other_key = new_key()
    store_backend.token_store(Encryptor([other_key])).create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "b"})
    )
    rotating = store_backend.token_store(Encryptor([new_key(), KEY]))
    with pytest.raises(PatchbayError, match="cannot re-encrypt"):
        rotating.rotate_key()
    assert store_backend.token_store(Encryptor([KEY])).get(kept.id) == kept  # still under KEY
    rotating.save(replace(kept, account_label="after"))  # no transaction was left open


def test_a_transaction_never_joins_one_already_open(tmp_path: Path) -> None:
    """Joining an open transaction let one asyncio task's rollback undo another's commit."""
    connections = ThreadLocalConnections(tmp_path / "x.db", "test store")
    with connections.write() as db:
        db.execute("CREATE TABLE t (v TEXT)")
    with pytest.raises(StoreError, match="already open"), connections.write() as db:
        db.execute("INSERT INTO t VALUES ('outer')")
        with connections.write() as inner:
            inner.execute("INSERT INTO t VALUES ('inner')")
    assert connections.get().execute("SELECT * FROM t").fetchall() == []
    assert not connections.get().in_transaction
