"""Databases under the stores: one SQLite file by default, or PostgreSQL by URL when several
processes or hosts share connections, subscriptions and webhook deliveries.

Private modules: ``_sqlite`` (the shared file), ``_postgres`` (pool, numbered migrations, error
mapping; psycopg is imported only when a ``postgresql://`` location is used) and
``_postgres_stores`` (the PostgreSQL twins of the token, subscription and webhook stores). Pick a
store by location with :mod:`patchbay.runtime.stores`.
"""

from __future__ import annotations

from patchbay.runtime.storage._postgres import PgDatabase, close_pools, is_postgres_url

__all__ = ["PgDatabase", "close_pools", "is_postgres_url"]
