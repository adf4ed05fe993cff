"""Open the token, subscription or webhook store named by a location: a SQLite file path (the
default, ``~/.patchbay/connections.db``) or a ``postgresql://`` URL.

``PATCHBAY_STORE`` names the location when the caller gives none. A SQLite location never
imports psycopg; a PostgreSQL one without the ``[postgres]`` extra is a ConfigError naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

from patchbay.runtime.accounts._encryption import Encryptor
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, TokenStore
from patchbay.runtime.storage._postgres import is_postgres_url
from patchbay.runtime.storage._postgres_stores import (
    AsyncPgSubscriptionStore,
    PgSubscriptionStore,
    PgTokenStore,
    PgWebhookStore,
)
from patchbay.runtime.triggers._runner import (
    AsyncSubscriptionLeases,
    InlineLeases,
    SubscriptionBackend,
    SubscriptionStore,
)
from patchbay.runtime.webhooks._store import SQLiteWebhookStore, WebhookStore

Location = str | Path


def store_location(location: Location | None = None) -> Location:
    """``location``, else ``$PATCHBAY_STORE``, else ``~/.patchbay/connections.db``; a
    ``postgresql://`` URL stays a string (a Path would fold its ``//``)."""
    if location is None or location == "":
        location = os.environ.get("PATCHBAY_STORE") or Path.home() / ".patchbay/connections.db"
    if isinstance(location, str) and not is_postgres_url(location):
        return Path(location)
    return location


def open_token_store(
    location: Location | None = None, encryptor: Encryptor | None = None
) -> TokenStore:
    where = store_location(location)
    if isinstance(where, str):
        return PgTokenStore(where, encryptor)
    return SQLiteTokenStore(where, encryptor)


def open_subscription_store(location: Location | None = None) -> SubscriptionBackend:
    where = store_location(location)
    if isinstance(where, str):
        return PgSubscriptionStore(where)
    return SubscriptionStore(where)


def open_subscription_leases(location: Location | None = None) -> AsyncSubscriptionLeases:
    """The trigger runner's hot-path calls for a location (``TriggerRunner(leases=…)``): on
    PostgreSQL an async pool of its own, so a worker never blocks its event loop on the
    database; on SQLite the file store's calls, inline. ``await leases.aclose()`` when done."""
    where = store_location(location)
    if isinstance(where, str):
        return AsyncPgSubscriptionStore(where)
    return InlineLeases(SubscriptionStore(where))


def open_webhook_store(
    location: Location | None = None, encryptor: Encryptor | None = None
) -> WebhookStore:
    where = store_location(location)
    if isinstance(where, str):
        return PgWebhookStore(where, encryptor)
    return SQLiteWebhookStore(where, encryptor)
