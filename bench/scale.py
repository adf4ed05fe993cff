"""Trigger workers on PostgreSQL: claimed polls/s, schedule lag and CPU for N worker processes.

    .venv/bin/python bench/scale.py [--subscriptions 400] [--interval 2] [--seconds 10]
                                    [--workers 1,2,4] [--batch 100] [--concurrency 10]
                                    [--warmup 5] [--store-api async|sync] [--profile FILE]
    # the targets: --subscriptions 100000 --interval 300 --seconds 90
    #              --subscriptions 10000 --interval 5 --seconds 40

A throwaway PostgreSQL cluster (tests/pg_cluster.py) holds the subscriptions; a loopback HTTP
vendor runs in a process of its own (one small answer per poll); each worker is a process
running ``TriggerRunner.run`` with batch claims. Every N starts from the same fresh set of
subscriptions, first runs spread over one interval from the end of a warm-up (worker start-up is
not lag). Concurrency defaults to 10 polls in flight per worker: the loopback vendor answers in
about a millisecond, and every extra connection in httpx's pool costs CPU on each request.
Printed per N: polls run per second (all
workers), schedule lag p50/p99 (how late a poll started after it was due), CPU seconds per
worker, database transactions per poll (every statement is one: claims, re-reads, commits,
renewals, next-due looks), the time in store calls per worker ("in store": with sync calls the
share of the wall time the event loop waited for PostgreSQL; with async calls the average number
of store calls in flight), PostgreSQL's share of all CPU spent (its server processes against the
workers'), and each figure's ratio to N=1 measured in the same run. On a
machine with fewer cores than workers + vendor + PostgreSQL, the ratios say more about the
machine than the design.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import io
import json
import multiprocessing
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from pg_cluster import PgCluster  # noqa: E402

SPEC: dict[str, Any] = {
    "name": "acme",
    "title": "Acme",
    "version": "1.0.0",
    "connection": {"base_url": "http://127.0.0.1:1"},
    "auth": [
        {
            "name": "token",
            "type": "bearer",
            "token": "{api_key}",
            "fields": {"api_key": {"description": "API key"}},
        }
    ],
    "test_connection": {"path": "/me", "account_label_path": "name"},
    "actions": [
        {
            "name": "list_things",
            "method": "GET",
            "path": "/things",
            "output": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "n": {"type": "integer"},
                                },
                            },
                        },
                        "next": {"type": "string"},
                    },
                }
            },
            "pagination": {
                "style": "cursor",
                "items_path": "data",
                "cursor_param": "after",
                "next_cursor_path": "next",
            },
        }
    ],
    "triggers": {
        "polling": [
            {
                "name": "new_thing",
                "action": "list_things",
                "dedupe_key": "id",
                "start": "read",
                "cursor": {"kind": "id", "field": "n"},
            }
        ]
    },
}
ANSWER = json.dumps({"data": [{"id": "t-1", "n": 1}]}).encode()


def vendor_main(port_out: Any) -> None:
    """The loopback vendor: the same small list for every poll."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            return  # a worker closing its connections at the end of a run

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def worker_main(url: str, vendor: str, seconds: float, opts: dict[str, Any], out: Any) -> None:
    """One worker process: runs the scheduler for ``seconds``, then reports its figures."""
    import httpx

    from patchbay.runtime import AsyncGenericExecutor, Connection, ExecutorOptions, RetryPolicy
    from patchbay.runtime.spec import ConnectorSpec, parse_spec
    from patchbay.runtime.stores import open_subscription_leases, open_subscription_store
    from patchbay.runtime.triggers import TriggerRunner

    class TimedStore:
        """The store, with the wall time of its calls summed (the database's share)."""

        seconds = 0.0

        def __init__(self, store: Any) -> None:
            self._store = store

        def __getattr__(self, name: str) -> Any:
            found = getattr(self._store, name)
            if name.startswith("_") or not callable(found):
                return found

            def timed(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return found(*args, **kwargs)
                finally:
                    TimedStore.seconds += time.perf_counter() - began

            async def awaited(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await found(*args, **kwargs)
                finally:
                    TimedStore.seconds += time.perf_counter() - began

            return awaited if inspect.iscoroutinefunction(found) else timed

    spec = parse_spec({**SPEC, "connection": {"base_url": vendor}})
    options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
    polls = 0

    async def main() -> list[float]:
        nonlocal polls
        limits = httpx.Limits(
            max_connections=opts["concurrency"], max_keepalive_connections=opts["concurrency"]
        )
        shared = httpx.AsyncClient(limits=limits)
        cache: dict[str, AsyncGenericExecutor] = {}

        def executors(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
            nonlocal polls
            polls += 1
            found = cache.get(connection_id)
            if found is None:
                conn = Connection("acme", credentials={"api_key": "bench-key"})
                found = cache[connection_id] = AsyncGenericExecutor(
                    spec, conn, client=shared, options=options
                )
            return spec, found

        store = open_subscription_store(url)
        if opts["store_api"] == "async":
            leases = TimedStore(open_subscription_leases(url))
            runner = TriggerRunner(store, executors, lambda events: None, leases=leases)
        else:
            leases = None
            runner = TriggerRunner(TimedStore(store), executors, lambda events: None)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await runner.run(
            stop=stop,
            concurrency=opts["concurrency"],
            batch_size=opts["batch"],
            idle_seconds=0.05,
        )
        await shared.aclose()
        if leases is not None:
            await leases.aclose()
        return list(runner.lag)

    profiler = None
    if opts.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, wall = time.process_time(), time.perf_counter()
    lag = asyncio.run(main())
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(opts["profile"])
    report = {"polls": polls, "lag": lag, "cpu": cpu, "db": TimedStore.seconds / wall}
    out.put({**report, "end": time.time()})


def load(url: str, count: int, interval: float) -> None:
    """A fresh set of ``count`` subscriptions, first runs spread over one interval from time 0
    (moved to the real start by :func:`begin_at`)."""
    from patchbay.runtime.triggers import Subscription, SubscriptionStore

    buffer = io.StringIO()
    for i in range(count):
        sub = Subscription(
            f"s{i:06d}",
            f"c{i}",
            "acme",
            "new_thing",
            interval,
            next_run_at=interval * i / count,
        )
        data = SubscriptionStore._encode(sub)
        buffer.write(f"{sub.id}\t{_copy_text(data)}\tactive\t{sub.next_run_at}\n")
    with psycopg.connect(url) as db:
        db.execute("TRUNCATE subscriptions")
        with db.cursor().copy(
            "COPY subscriptions (id, data, status, next_run_at) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())


def begin_at(url: str, start: float) -> None:
    """Shift every first run by ``start`` (column and stored row alike), right before the
    workers start: loading takes seconds at 100k, and none of it may count as lag."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "UPDATE subscriptions SET next_run_at = next_run_at + %(s)s, data = jsonb_set("
            "data::jsonb, '{next_run_at}', to_jsonb(next_run_at + %(s)s))::text",
            {"s": start},
        )
        db.execute("VACUUM ANALYZE subscriptions")


def _commits(url: str) -> int:
    """Transactions committed in the bench database so far (the statistics collector's count,
    flushed by the time a worker's session has ended)."""
    time.sleep(1.0)  # let the sessions that just ended report their counts
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _cpu_by_pid(parent: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``parent`` and of each of its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == parent or int(fields[1]) == parent:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


class CpuSampler:
    """PostgreSQL's CPU during a run: the postmaster and its backends, sampled a few times a
    second, each backend at its last reading (a worker's sessions end before it reports)."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.before = _cpu_by_pid(parent)
        self.last: dict[int, float] = dict(self.before)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.2):
            self.last.update(_cpu_by_pid(self.parent))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        self.last.update(_cpu_by_pid(self.parent))
        return sum(v - self.before.get(pid, 0.0) for pid, v in self.last.items())


def _postmaster(cluster: PgCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=400)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,2,4", help="Comma-separated worker counts.")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="Seconds from the workers' start to the first due poll (excluded from polls/s).",
    )
    parser.add_argument(
        "--store-api",
        choices=("async", "sync"),
        default="async",
        help="The runner's store calls: awaited on psycopg's async pool, or the sync store's.",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile one worker of the first run into FILE."
    )
    args = parser.parse_args()
    if args.seconds <= args.warmup:
        parser.error("--seconds must be longer than --warmup")
    counts = [int(n) for n in args.workers.split(",")]
    context = multiprocessing.get_context("spawn")

    from patchbay.runtime.storage import PgDatabase, close_pools

    cluster = PgCluster().start()
    ports = context.Queue()
    vendor = context.Process(target=vendor_main, args=(ports,), daemon=True)
    vendor.start()
    try:
        url = cluster.new_database()
        PgDatabase(url, "bench")  # migrations applied once, before the workers start
        close_pools()
        base = f"http://127.0.0.1:{ports.get(timeout=30)}"
        opts = {"batch": args.batch, "concurrency": args.concurrency, "store_api": args.store_api}
        print(
            f"{args.subscriptions} subscriptions, interval {args.interval:g}s, "
            f"{args.seconds:g}s per run, batch {args.batch}, concurrency {args.concurrency}, "
            f"{args.store_api} store calls, {os.cpu_count()} CPUs"
        )
        rows: list[tuple[int, float, float, float, float, float, float, float]] = []
        for n in counts:
            load(url, args.subscriptions, args.interval)
            start = time.time() + args.warmup
            begin_at(url, start)
            commits = _commits(url)
            out = context.Queue()
            procs = [
                context.Process(
                    target=worker_main,
                    args=(url, base, args.seconds, {**opts, "profile": profile}, out),
                )
                for profile in [args.profile if not rows else None] + [None] * (n - 1)
            ]
            sampler = CpuSampler(_postmaster(cluster))
            for p in procs:
                p.start()
            reports = [out.get(timeout=args.seconds + 120) for _ in procs]
            pg_cpu = sampler.stop()
            for p in procs:
                p.join(30)
            xacts = _commits(url) - commits
            polls = sum(r["polls"] for r in reports)
            lag = [x for r in reports for x in r["lag"]]
            cpu = sum(r["cpu"] for r in reports) / n
            rate = polls / (max(r["end"] for r in reports) - start)
            p50, p99 = percentile(lag, 0.5), percentile(lag, 0.99)
            db = sum(r["db"] for r in reports) / n
            pg_share = pg_cpu / max(1e-9, pg_cpu + sum(r["cpu"] for r in reports))
            rows.append((n, rate, p50, p99, cpu, xacts / max(1, polls), db, pg_share))
        first = rows[0]
        print(
            f"{'workers':>7} {'polls/s':>9} {'lag p50':>9} {'lag p99':>9} {'cpu/worker':>11} "
            f"{'db xact/poll':>12} {'in store':>8} {'pg cpu':>6}"
        )
        for n, rate, p50, p99, cpu, per_poll, db, pg_share in rows:
            print(
                f"{n:>7} {rate:>9.0f} {p50 * 1000:>7.0f}ms {p99 * 1000:>7.0f}ms {cpu:>10.2f}s "
                f"{per_poll:>12.2f} {db:>8.0%} {pg_share:>6.0%}"
                f"   x{rate / first[1]:.2f} polls/s, x{p99 / first[3]:.2f} p99, "
                f"x{cpu / first[4]:.2f} cpu/worker (vs {first[0]} worker)"
            )
    finally:
        vendor.kill()
        vendor.join()
        cluster.stop()


if __name__ == "__main__":
    main()
