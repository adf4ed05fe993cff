"""Per-operation latency of the stores on SQLite and on PostgreSQL (a throwaway cluster).

    .venv/bin/python bench/stores.py [--ops 2000]

Starts a PostgreSQL cluster on loopback (as tests do; its start-up time is printed), then times
each store operation one at a time from one thread: the refresh lease round (claim + commit),
claim alone, a token read, a subscription save (a cursor commit) and a webhook delivery claim.
Prints median and p99 in microseconds per backend and PostgreSQL's median over SQLite's. No
targets: this is the cost of a round trip to a server versus a local file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pg_cluster import PgCluster  # noqa: E402

from patchbay.runtime.accounts import (  # noqa: E402
    Encryptor,
    StoredConnection,
    TokenSet,
    new_key,
)
from patchbay.runtime.storage import close_pools  # noqa: E402
from patchbay.runtime.stores import (  # noqa: E402
    open_subscription_store,
    open_token_store,
    open_webhook_store,
)
from patchbay.runtime.triggers import Subscription  # noqa: E402


def timed(op: Callable[[int], Any], n: int) -> list[float]:
    for i in range(min(50, n)):  # warm up (pool, statement caches)
        op(-i - 1)
    out = []
    for i in range(n):
        began = time.perf_counter()
        op(i)
        out.append((time.perf_counter() - began) * 1e6)
    return out


def measure(location: str | Path, n: int) -> dict[str, list[float]]:
    enc = Encryptor([new_key()])
    tokens = open_token_store(location, enc)
    subs = open_subscription_store(location)
    hooks = open_webhook_store(location, enc)
    conn = tokens.create(
        StoredConnection("", "slack", "oauth", tokens=TokenSet("at_FAKE", "rt_FAKE"))
    )
    sub = subs.add(Subscription("", conn.id, "github", "new_issue", 30.0))

    def lease_round(i: int) -> None:
        assert tokens.claim_refresh(conn.id, f"o{i}", 30.0)
        tokens.commit_refresh(conn.id, f"o{i}", tokens=TokenSet(f"at_FAKE_{i}", "rt_FAKE"))

    def claim_only(i: int) -> None:
        assert tokens.claim_refresh(conn.id, f"c{i}", 30.0)
        tokens.release_refresh(conn.id, f"c{i}")  # not timed separately: part of the pair

    return {
        "claim+commit": timed(lease_round, n),
        "claim+release": timed(claim_only, n),
        "token get": timed(lambda i: tokens.get(conn.id), n),
        "cursor save": timed(lambda i: subs.save(replace(sub, cursor=str(i))), n),
        "delivery claim": timed(lambda i: hooks.claim("s", f"d{i}"), n),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    began = time.perf_counter()
    cluster = PgCluster().start()
    print(f"PostgreSQL cluster start (initdb + pg_ctl start): {time.perf_counter() - began:.2f}s")
    try:
        db_began = time.perf_counter()
        url = cluster.new_database("bench")
        print(f"fresh database: {(time.perf_counter() - db_began) * 1000:.0f} ms")
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = measure(Path(tmp) / "bench.db", args.ops)
        pg = measure(url, args.ops)
    finally:
        close_pools()
        cluster.stop()
    print(f"\n{args.ops} operations each, one thread; microseconds")
    header = ("sqlite p50", 12), ("sqlite p99", 12), ("pg p50", 10), ("pg p99", 10)
    print(f"{'operation':<16}" + "".join(f"{h:>{w}}" for h, w in header) + f"{'pg/sqlite':>11}")
    for name, values in sqlite.items():
        s50, p50 = statistics.median(values), statistics.median(pg[name])
        s99 = sorted(values)[int(0.99 * len(values))]
        p99 = sorted(pg[name])[int(0.99 * len(pg[name]))]
        print(f"{name:<16}{s50:>12.0f}{s99:>12.0f}{p50:>10.0f}{p99:>10.0f}{p50 / s50:>10.1f}x")


if __name__ == "__main__":
    main()
