"""One SQLite file shared by the token store, subscriptions and webhook deliveries.

Each thread gets its own connection (sqlite3 connections are not shared across threads); WAL
lets readers run beside a writer, ``synchronous=NORMAL`` keeps commits safe against a crashed
process (only a power cut can lose the last one), and a busy timeout makes writers queue instead
of failing while another process holds the write lock (the cross-process single-flight refresh).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalConnections:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db
