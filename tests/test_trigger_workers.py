"""Trigger workers sharing one store through row leases (``claim_due``), on PostgreSQL and SQLite.

The multi-process tests run real worker processes (``multiprocessing`` spawn) against a loopback
vendor that logs every poll with the worker it came from (the worker's pid is its API key) and
every hand-over of events (each worker's handler acknowledges a batch to the vendor, after
writing the events to its own file). From those logs: no two polls of one subscription
overlap, no event is delivered twice while workers live, a worker killed with SIGKILL mid-poll
has its subscription taken over only after that (its lease expired), with its delivered events
re-delivered under the same dedupe keys, and in the end nothing the vendor produced is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from attack_support import Seen, origin
from conftest import StoreBackend, make_spec, open_backend

from patchbay.runtime import AsyncGenericExecutor, Connection, ExecutorOptions, RetryPolicy
from patchbay.runtime.errors import NotFound
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.storage._postgres_stores import PgSubscriptionStore
from patchbay.runtime.stores import open_subscription_leases
from patchbay.runtime.triggers._events import TriggerEvent
from patchbay.runtime.triggers._runner import Subscription, TriggerRunner

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "patchbay", "triggers", "run"]
HANG_GUARD = float(os.environ.get("HG", "90"))  # seconds: a hang guard, never a speed assertion

ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "n": {"type": "integer"},
        "stream": {"type": "string"},
    },
}
ACTIONS: list[dict[str, Any]] = [
    {
        "name": "list_things",
        "method": "GET",
        "path": "/streams/{stream}/things",
        "parameters": [{"name": "stream", "in": "path", "required": True}],
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": ITEM},
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
]
TRIGGERS = {
    "polling": [
        {
            "name": "new_thing",
            "action": "list_things",
            "dedupe_key": "id",
            "start": "read",
            "cursor": {"kind": "id", "field": "n"},
        }
    ]
}


def vendor_spec(base: str) -> ConnectorSpec:
    return make_spec(ACTIONS, connection={"base_url": base}, triggers=TRIGGERS)


def executors(spec: ConnectorSpec, key: str) -> Callable[[str], Any]:
    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection("acme", credentials={"api_key": key})
        options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
        return spec, AsyncGenericExecutor(spec, conn, options=options)

    return make


# ------------------------------------------------------------------------------ the vendor


@dataclass
class Poll:
    stream: str
    worker: str
    started: float
    acked: float | None = None
    item: str = ""


@dataclass
class Vendor:
    """Each poll of a stream adds one item and answers them all; ``/ack`` ends a poll."""

    failing: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    block_ack_of: str | None = None
    items: dict[str, list[str]] = field(default_factory=dict)
    polls: list[Poll] = field(default_factory=list)
    blocked: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    blocked_worker: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen, base: str) -> tuple[int, dict[str, str], bytes]:
        parts = seen.path.split("?")[0].strip("/").split("/")
        json_type = {"Content-Type": "application/json"}
        if seen.method == "GET" and parts[0] == "streams":
            stream = parts[1]
            worker = seen.headers.get("authorization", "").removeprefix("Bearer ")
            if stream in self.failing:
                status, headers = self.failing[stream]
                with self.lock:
                    self.polls.append(Poll(stream, worker, time.monotonic()))
                return status, {**json_type, **headers}, b'{"message": "no"}'
            with self.lock:
                made = self.items.setdefault(stream, [])
                made.append(f"{stream}-{len(made) + 1}")
                body = [{"id": i, "n": k + 1, "stream": stream} for k, i in enumerate(made)]
                self.polls.append(Poll(stream, worker, time.monotonic(), item=made[-1]))
            return 200, json_type, json.dumps({"data": body}).encode()
        if seen.method == "POST" and parts[0] == "ack":
            stream, worker = parts[1], seen.headers.get("x-worker", "")
            # Not the first poll: a re-run of a first poll starts afresh (only the newest
            # ``backfill`` items), a re-run of a later one must repeat exactly what was lost.
            later = len(self.items.get(stream, ())) >= 2
            if stream == self.block_ack_of and later and not self.blocked.is_set():
                self.blocked_worker = worker
                self.blocked.set()
                self.release.wait(HANG_GUARD)
                return 200, json_type, b"{}"  # its worker is dead by now: never an end
            with self.lock:
                mine = [p for p in self.polls if p.stream == stream and p.worker == worker]
                if mine and mine[-1].acked is None:
                    mine[-1].acked = time.monotonic()
            return 200, json_type, b"{}"
        return 404, json_type, b"{}"

    def count(self, stream: str, worker: str | None = None) -> int:
        with self.lock:
            return sum(1 for p in self.polls if p.stream == stream and worker in (None, p.worker))


# ------------------------------------------------------------------------------ a worker


def worker_main(url: str, vendor: str, out: str, lease: float, batch: int) -> None:
    """One worker process: polls until SIGTERM; its handler writes each event to ``out`` and
    then acknowledges the batch to the vendor (the ack may hang: that is the kill point)."""
    pid = f"worker-{os.getpid()}"
    spec = vendor_spec(vendor)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with httpx.AsyncClient(timeout=HANG_GUARD) as client:

            async def handler(events: list[TriggerEvent]) -> None:
                with open(out, "a", encoding="utf-8") as f:
                    for e in events:
                        line = {"key": e.dedupe_key, "t": time.monotonic()}
                        f.write(json.dumps(line) + "\n")
                stream = events[0].payload["stream"]
                ack = await client.post(f"{vendor}/ack/{stream}", headers={"x-worker": pid})
                ack.raise_for_status()

            # The hot path on the async pool, as `patchbay triggers run` runs it.
            leases = open_subscription_leases(url)
            runner = TriggerRunner(
                PgSubscriptionStore(url), executors(spec, pid), handler, leases=leases
            )
            try:
                await runner.run(
                    stop=stop,
                    concurrency=20,
                    batch_size=batch,
                    lease_seconds=lease,
                    idle_seconds=0.05,
                )
            finally:
                await leases.aclose()

    asyncio.run(main())


@dataclass
class Worker:
    process: Any
    out: Path

    @property
    def pid(self) -> str:
        return f"worker-{self.process.pid}"

    def delivered(self, before: float = math.inf) -> list[str]:
        """The keys this worker handed over (before a time of ``time.monotonic``, a clock
        shared by every process of the machine)."""
        if not self.out.exists():
            return []
        rows = [json.loads(line) for line in self.out.read_text().splitlines() if line]
        return [r["key"] for r in rows if r["t"] < before]


@pytest.fixture
def pg(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreBackend]:
    yield from open_backend("postgres", tmp_path, request)


def start_workers(
    count: int, url: str, vendor: str, tmp_path: Path, *, lease: float, batch: int
) -> list[Worker]:
    context = multiprocessing.get_context("spawn")
    workers = []
    for i in range(count):
        out = tmp_path / f"worker{i}.jsonl"
        process = context.Process(target=worker_main, args=(url, vendor, str(out), lease, batch))
        process.start()
        workers.append(Worker(process, out))
    return workers


def stop_workers(workers: list[Worker]) -> float:
    """SIGTERM to each live worker; returns when the first was sent.

    A stop frees the leases of the polls it cut short, and a worker not stopped yet may then
    hand such a batch over again (at-least-once, same keys): duplicates only count before."""
    stopped_at = time.monotonic()
    for w in workers:
        if w.process.is_alive():
            os.kill(w.process.pid, signal.SIGTERM)
    for w in workers:
        w.process.join(HANG_GUARD)
        if w.process.is_alive():  # never expected: a hang, not a result
            w.process.kill()
            w.process.join()
    return stopped_at


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, "hang guard: the workers stopped making progress"
        time.sleep(0.05)


def subscribe(store: Any, streams: list[str], interval: float) -> dict[str, Subscription]:
    return {
        s: store.add(
            Subscription(
                "", f"conn-{s}", "acme", "new_thing", interval, params={"stream": s}, backfill=1
            )
        )
        for s in streams
    }


def drain(store: Any, spec: ConnectorSpec, subs: dict[str, Subscription]) -> list[str]:
    """One more poll of every subscription from here, after the workers stopped: whatever
    a stop or a kill left undelivered comes out now (and the vendor adds one item each)."""
    got: list[str] = []
    runner = TriggerRunner(
        store, executors(spec, "drain"), lambda ev: got.extend(e.dedupe_key for e in ev)
    )
    for sub in subs.values():
        asyncio.run(runner.run_once(sub.id))
    return got


def assert_no_overlap(polls: list[Poll], exclude: Callable[[Poll], bool]) -> None:
    """Per stream, each poll (vendor request to acknowledged hand-over) ends before the next
    starts; only the last may be unfinished (cut short by the stop). The drain is left out."""
    by_stream: dict[str, list[Poll]] = {}
    for p in polls:
        if p.worker != "drain" and not exclude(p):
            by_stream.setdefault(p.stream, []).append(p)
    for stream, seq in by_stream.items():
        seq.sort(key=lambda p: p.started)
        for before, after in itertools.pairwise(seq):
            assert before.acked is not None and before.acked <= after.started, (stream, seq)


def key(stream_item: str) -> str:
    return f"acme:new_thing:{stream_item}"


# -------------------------------------------------------------------------------- tests


def test_three_worker_processes_share_the_work_without_overlap_or_duplicates(
    pg: StoreBackend, tmp_path: Path
) -> None:
    vendor = Vendor(
        failing={
            "limited": (429, {"Retry-After": "3600"}),
            "revoked": (401, {}),
        }
    )
    store = pg.subscription_store()
    streams = [f"s{i}" for i in range(40)]
    with origin(vendor) as server:
        subs = subscribe(store, [*streams, "limited", "revoked", "paused"], 0.3)
        store.save(replace(store.get(subs["paused"].id), status="paused"))
        workers = start_workers(3, str(pg.location), server.url, tmp_path, lease=5.0, batch=5)
        stopped_at = math.inf
        try:
            wait_until(lambda: all(vendor.count(s) >= 4 for s in streams))
        finally:
            stopped_at = stop_workers(workers)
        assert all(w.process.exitcode == 0 for w in workers)
        delivered = [k for w in workers for k in w.delivered()]
        early = [k for w in workers for k in w.delivered(before=stopped_at)]
        drained = drain(store, vendor_spec(server.url), {s: subs[s] for s in streams})

    # Every poll ran once at a time per subscription, and no event came twice.
    assert_no_overlap(
        vendor.polls,
        exclude=lambda p: p.stream in ("limited", "revoked") or p.started >= stopped_at,
    )
    assert len(early) == len(set(early)) and len(early) > len(streams)
    # The work was shared (claims in batches of 5 across three processes).
    assert len({p.worker for p in vendor.polls if p.worker != "drain"}) >= 2
    # Nothing lost: every item the vendor made reached a handler.
    made = {key(i) for s in streams for i in vendor.items[s]}
    assert made == set(delivered) | set(drained)
    # Pause and backoff hold across workers: one poll each, then no more.
    assert vendor.count("paused") == 0
    assert vendor.count("limited") == 1 and vendor.count("revoked") == 1
    assert store.get(subs["limited"].id).status == "backing_off"
    assert store.get(subs["revoked"].id).status == "paused"
    assert all(store.get(subs[s].id).status == "active" for s in streams)


def test_a_worker_killed_mid_poll_is_taken_over_after_its_lease_with_the_same_keys(
    pg: StoreBackend, tmp_path: Path
) -> None:
    # Short for a fast test, long enough that a worker starved of CPU on a loaded CI machine
    # still renews in time (renewals come every third of it).
    lease = 4.0
    vendor = Vendor(block_ack_of="s0")
    store = pg.subscription_store()
    streams = [f"s{i}" for i in range(30)]
    with origin(vendor) as server:
        subs = subscribe(store, streams, 0.3)
        workers = start_workers(3, str(pg.location), server.url, tmp_path, lease=lease, batch=4)
        try:
            assert vendor.blocked.wait(HANG_GUARD)  # a handler hangs in its hand-over of s0
            victim = next(w for w in workers if w.pid == vendor.blocked_worker)
            wait_until(lambda: any(k.startswith(key("s0-")) for k in victim.delivered()))
            # Hung for longer than a lease: renewals keep the others off its subscription.
            time.sleep(1.5 * lease)
            victim.process.kill()  # SIGKILL: no clean-up, its leases just stop being renewed
            victim.process.join()
            killed_at = time.monotonic()
            vendor.release.set()
            others = [w for w in workers if w is not victim]
            after = {s: vendor.count(s) for s in streams}
            wait_until(
                lambda: (
                    any(vendor.count("s0", w.pid) for w in others)
                    and all(vendor.count(s) >= after[s] + 2 for s in streams)
                )
            )
        finally:
            vendor.release.set()
            stopped_at = stop_workers(workers)
        assert victim.process.exitcode == -signal.SIGKILL
        assert all(w.process.exitcode == 0 for w in others)
        survivors = [k for w in others for k in w.delivered()]
        early = [k for w in others for k in w.delivered(before=stopped_at)]
        drained = drain(store, vendor_spec(server.url), subs)

    # The victim's subscription went to another worker only after the kill (its lease held
    # while it lived, even though its poll hung), and that worker re-delivered the victim's
    # undelivered-as-far-as-the-store-knows events under the same dedupe keys.
    hung = [p for p in vendor.polls if p.worker == victim.pid and p.acked is None]
    stuck = max((p for p in hung if p.stream == "s0"), key=lambda p: p.started)
    takeover = min(
        (p for p in vendor.polls if p.stream == "s0" and p.started > stuck.started),
        key=lambda p: p.started,
    )
    assert takeover.worker != victim.pid and takeover.started > killed_at
    assert key(stuck.item) in victim.delivered() and key(stuck.item) in survivors
    # No overlap among polls that ran to their end; no duplicates among the survivors.
    assert_no_overlap(
        vendor.polls,
        exclude=lambda p: (p.worker == victim.pid and p.acked is None) or p.started >= stopped_at,
    )
    assert len(early) == len(set(early)) and key(stuck.item) in early
    # Nothing lost.
    made = {key(i) for s in streams for i in vendor.items[s]}
    assert made == set(victim.delivered()) | set(survivors) | set(drained)


# ---------------------------------------------------------------- claims on both backends


class Awaited:
    """The runner's awaited store calls (``open_subscription_leases``) driven from a test's
    sync code, on one event loop of their own: an async pool belongs to its first loop."""

    def __init__(self, leases: Any) -> None:
        self.leases = leases
        self.loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.leases, name)
        return lambda *args: self.loop.run_until_complete(method(*args))

    def close(self) -> None:
        self.loop.run_until_complete(self.leases.aclose())
        self.loop.close()


@pytest.fixture(params=["sync", "async"])
def calls(request: pytest.FixtureRequest, store_backend: StoreBackend) -> Iterator[Any]:
    """The store's own calls, or the runner's awaited ones for the same location (PostgreSQL:
    the async pool; SQLite: the file store's calls inline)."""
    if request.param == "sync":
        yield store_backend.subscription_store()
        return
    from patchbay.runtime.stores import open_subscription_leases

    awaited = Awaited(open_subscription_leases(store_backend.location))
    try:
        yield awaited
    finally:
        awaited.close()


def test_claims_lease_due_subscriptions_once_in_due_order(
    store_backend: StoreBackend, calls: Any
) -> None:
    backend = store_backend
    store = backend.subscription_store()
    due = [
        store.add(replace(Subscription("", "c", "acme", "new_thing", 60), next_run_at=t))
        for t in (30.0, 10.0, 20.0, 40.0)
    ]
    later = store.add(replace(Subscription("", "c", "acme", "new_thing", 60), next_run_at=99))
    paused = store.add(Subscription("", "c", "acme", "new_thing", 60, status="paused"))

    assert calls.next_due() == 10.0  # the paused one (due at 0) does not count
    first = calls.claim_due("a", 50.0, 3, 60.0)
    assert [s.next_run_at for s in first] == [10.0, 20.0, 30.0]  # oldest due first
    assert calls.next_due() == 40.0  # leased ones do not count either
    rest = calls.claim_due("b", 50.0, 10, 60.0)
    assert [s.id for s in rest] == [due[3].id]  # held leases, paused and not-due skipped
    assert calls.claim_due("c", 50.0, 10, 60.0) == []
    assert later.id not in {s.id for s in first + rest} and paused.id not in {
        s.id for s in first + rest
    }

    # Only the holder commits, and the commit frees the lease.
    done = replace(first[0], cursor=7, next_run_at=45.0)
    assert not calls.finish(done, "b")
    assert calls.get(done.id).cursor is None
    assert calls.finish(done, "a")
    assert calls.get(done.id).cursor == 7
    assert [s.id for s in calls.claim_due("b", 50.0, 10, 60.0)] == [done.id]

    # Renewal reports what is still held; an expired lease is taken over, and then the
    # old holder neither renews nor commits.
    assert calls.renew("a", [first[1].id, first[2].id, done.id], 60.0) == {
        first[1].id,
        first[2].id,
    }
    calls.claim_due("x", 50.0, 10, -1.0)  # nothing left to take: leases are all live
    expired = store.add(replace(Subscription("", "c", "acme", "new_thing", 60), next_run_at=1))
    assert [s.id for s in calls.claim_due("old", 50.0, 1, -1.0)] == [expired.id]
    assert [s.id for s in calls.claim_due("new", 50.0, 1, 60.0)] == [expired.id]
    assert calls.renew("old", [expired.id], 60.0) == set()
    assert not calls.finish(replace(expired, cursor=1), "old")
    assert calls.finish(replace(expired, cursor=2, next_run_at=90.0), "new")

    # Release gives a lease back at once (a clean stop mid-poll), cursor untouched.
    calls.release("a", [first[1].id])
    assert [s.id for s in calls.claim_due("d", 50.0, 10, 60.0)] == [first[1].id]
    assert calls.get(first[1].id).cursor is None

    # A plain save (no lease: run_once, resume) writes the row as given.
    calls.save(replace(later, cursor=5, status="backing_off"))
    assert (store.get(later.id).cursor, store.get(later.id).status) == (5, "backing_off")
    with pytest.raises(NotFound):
        calls.get("no-such-subscription")


def test_concurrent_claimers_split_the_due_set_without_sharing(
    store_backend: StoreBackend,
) -> None:
    backend = store_backend
    store = backend.subscription_store()
    ids = {store.add(Subscription("", "c", "acme", "new_thing", 60)).id for _ in range(60)}
    got: dict[str, list[str]] = {}
    sizes: list[int] = []
    gate = threading.Barrier(6)

    def claimer(name: str) -> None:
        mine = backend.subscription_store()  # its own connections
        gate.wait()
        while batch := mine.claim_due(name, 1.0, 4, 60.0):
            got.setdefault(name, []).extend(s.id for s in batch)
            sizes.append(len(batch))

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD)
    claimed = [i for batch in got.values() for i in batch]
    assert sorted(claimed) == sorted(ids)  # each claimed exactly once
    assert max(sizes) == 4


def test_two_runners_on_one_store_claim_in_batches_and_never_overlap(
    store_backend: StoreBackend,
) -> None:
    """Two schedulers (two owners) in one loop over the same store: every subscription polled,
    none twice at once, and the store asked for work once per batch, not once per poll."""
    in_flight: dict[str, int] = {}
    worst: dict[str, int] = {}
    polls: dict[str, int] = {}

    class SlowVendor(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            stream = request.url.path.split("/")[2]
            in_flight[stream] = in_flight.get(stream, 0) + 1
            worst[stream] = max(worst.get(stream, 0), in_flight[stream])
            await asyncio.sleep(0.02)
            in_flight[stream] -= 1
            polls[stream] = polls.get(stream, 0) + 1
            n = polls[stream]
            items = [{"id": f"{stream}-{k}", "n": k, "stream": stream} for k in range(1, n + 1)]
            return httpx.Response(200, json={"data": items})

    spec = vendor_spec("https://api.acme.test")

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection("acme", credentials={"api_key": "test-key"})
        options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
        return spec, AsyncGenericExecutor(spec, conn, transport=SlowVendor(), options=options)

    store = store_backend.subscription_store()
    streams = [f"s{i}" for i in range(24)]
    subscribe(store, streams, 0.05)
    claims: list[int] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def claim_due(self, *args: Any) -> list[Subscription]:
            got: list[Subscription] = store.claim_due(*args)
            if got:
                claims.append(len(got))
            return got

    delivered: list[str] = []
    runners = [
        TriggerRunner(Counting(), make, lambda ev: delivered.extend(e.dedupe_key for e in ev))
        for _ in range(2)
    ]

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                r.run(stop=stop, batch_size=6, idle_seconds=0.01, owner=f"runner{i}")
            )
            for i, r in enumerate(runners)
        ]
        async with asyncio.timeout(HANG_GUARD):
            while not all(polls.get(s, 0) >= 3 for s in streams):
                await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert set(worst) == set(streams) and all(w == 1 for w in worst.values()), worst
    assert len(delivered) == len(set(delivered))
    # All 24 were due at once: the first claims were full batches of 6.
    assert claims[:4] == [6, 6, 6, 6]
    # Each claimed subscription was polled, but for those the stop cut short.
    assert sum(polls.values()) <= sum(claims) <= sum(polls.values()) + len(streams)
    assert all(runner.lag for runner in runners)


# ------------------------------------------------------------------------------------- CLI


def test_cli_workers_refuse_a_sqlite_store_and_stop_cleanly_on_sigterm(
    pg: StoreBackend, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATCHBAY_STORE": "", "PATCHBAY_SECRET_KEY": key}
    refused = subprocess.run(
        [*CLI, "--workers", "2", "--store", str(tmp_path / "s.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert refused.returncode == 3
    assert "--workers 2 needs a postgresql:// store" in refused.stderr

    parent = subprocess.Popen(
        [*CLI, "--workers", "2", "--store", str(pg.location), "--lease", "5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Both workers are up once each holds a PostgreSQL session of its own.
        import psycopg

        def sessions() -> int:
            with psycopg.connect(str(pg.location)) as db:
                row = db.execute(
                    "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
            return int(row[0]) if row else 0

        wait_until(lambda: parent.poll() is not None or sessions() >= 2)
        assert parent.poll() is None, parent.communicate()
        parent.send_signal(signal.SIGTERM)
        _out, err = parent.communicate(timeout=HANG_GUARD)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 0, err


def test_a_poll_whose_lease_went_elsewhere_hands_nothing_over(
    store_backend: StoreBackend,
) -> None:
    """The lease is taken over while the vendor answers (as after a stall longer than the
    lease): the batch is not handed over, the cursor not saved, the new holder keeps it."""
    store = store_backend.subscription_store()
    sub = subscribe(store, ["s0"], 60)["s0"]
    store.save(replace(store.get(sub.id), started=True))  # past the first run: items are new
    taken: list[str] = []

    class Thief(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            store.release("runner", [sub.id])
            taken.extend(s.id for s in store.claim_due("thief", 1e12, 10, 60.0))
            return httpx.Response(200, json={"data": [{"id": "s0-1", "n": 1, "stream": "s0"}]})

    spec = vendor_spec("https://api.acme.test")

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection("acme", credentials={"api_key": "test-key"})
        options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
        return spec, AsyncGenericExecutor(spec, conn, transport=Thief(), options=options)

    delivered: list[TriggerEvent] = []
    runner = TriggerRunner(store, make, delivered.extend)

    async def main() -> None:
        stop = asyncio.Event()
        ended: list[Subscription] = []
        task = asyncio.create_task(
            runner.run(
                stop=stop, owner="runner", idle_seconds=0.01, tick_seconds=0, on_tick=ended.extend
            )
        )
        async with asyncio.timeout(HANG_GUARD):
            while not ended:  # the poll ran to its end
                await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert taken == [sub.id]
    assert delivered == []
    stored = store.get(sub.id)
    assert stored.seen == () and stored.delivered == 0
    assert store.renew("thief", [sub.id], 60.0) == {sub.id}


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_cli_workers_stop_when_their_parent_is_killed(pg: StoreBackend) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATCHBAY_STORE": "", "PATCHBAY_SECRET_KEY": key}
    parent = subprocess.Popen(
        [*CLI, "--workers", "2", "--store", str(pg.location)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        wait_until(lambda: parent.poll() is not None or len(_children(parent.pid)) == 2)
        workers = _children(parent.pid)
        assert parent.poll() is None and len(workers) == 2
    finally:
        parent.kill()  # SIGKILL: it cannot pass anything on
        parent.wait()
    try:
        wait_until(lambda: not any(_alive(pid) for pid in workers))
    finally:
        for pid in workers:  # never left running, whatever the outcome
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ the CLI worker's client


def test_the_polling_client_keeps_no_cookies() -> None:
    from patchbay.cli.triggers import polling_client

    request = httpx.Request("GET", "http://127.0.0.1:9/things")
    response = httpx.Response(200, headers={"set-cookie": "sid=abc; Path=/"}, request=request)
    plain = httpx.AsyncClient()
    plain.cookies.extract_cookies(response)
    assert len(plain.cookies.jar) == 1  # what an ordinary client would keep, forever
    client = polling_client()
    client.cookies.extract_cookies(response)
    assert len(client.cookies.jar) == 0


def test_cli_worker_polls_over_one_vendor_connection(tmp_path: Path) -> None:
    """``triggers run`` shares one connection pool between polls: a client per poll opened a
    new TCP connection (and TLS session) each time and left it open."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from conftest import spec_doc
    from cryptography.fernet import Fernet

    from patchbay.runtime.accounts import StoredConnection
    from patchbay.runtime.accounts._encryption import Encryptor
    from patchbay.runtime.stores import open_subscription_store, open_token_store

    ports: list[int] = []
    body = json.dumps({"data": [{"id": "t-1", "n": 1, "stream": "s"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "sid=abc; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        vendor = f"http://127.0.0.1:{server.server_address[1]}"
        specs = tmp_path / "specs"
        specs.mkdir()
        doc = spec_doc(ACTIONS, connection={"base_url": vendor}, triggers=TRIGGERS)
        (specs / "acme.json").write_text(json.dumps(doc))
        key = Fernet.generate_key().decode()
        db = tmp_path / "store.db"
        conn = open_token_store(db, Encryptor([key])).create(
            StoredConnection("", "acme", "token", credentials={"api_key": "polling-key-1"})
        )
        open_subscription_store(db).add(
            Subscription("", conn.id, "acme", "new_thing", 1.0, params={"stream": "s"})
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PATCHBAY_SECRET_KEY": key}
        command = [sys.executable, "-m", "patchbay", "--specs-dir", str(specs), "triggers"]
        run = subprocess.run(
            [*command, "run", "--seconds", "3.5", "--concurrency", "4", "--store", str(db)],
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.stderr
    assert len(ports) >= 3, (ports, run.stderr)
    assert len(set(ports)) == 1, ports
