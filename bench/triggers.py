"""Schedule lag of the TriggerRunner with many subscriptions in one process.

    .venv/bin/python bench/triggers.py [--subscriptions 10000] [--interval 5] [--seconds 15]

Every subscription polls GitHub's ``new_issue`` trigger against the in-process spec-driven mock
(no sockets). Lag is how late a run started after it was due; printed as p50/p99/max next to
the number of runs. Target: p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from patchbay.mocks.server import MockOptions, MockServer  # noqa: E402
from patchbay.runtime import AsyncGenericExecutor, Connection, ExecutorOptions, RetryPolicy  # noqa: E402
from patchbay.runtime.spec import ConnectorSpec, SpecRegistry  # noqa: E402
from patchbay.runtime.triggers import (  # noqa: E402
    Subscription,
    SubscriptionStore,
    TriggerEvent,
    TriggerRunner,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    spec = SpecRegistry(ROOT / "specs").get("github")
    server = MockServer(spec, MockOptions(golden_root=None, records=3))
    token = server.credentials["token"]
    options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
    shared = httpx.AsyncClient(transport=server.transport())
    cache: dict[str, AsyncGenericExecutor] = {}

    def executors(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        # One executor per connection, compiled once, all on one shared connection pool (as a
        # long-running worker would keep them); the runner's close is a no-op for a given client.
        found = cache.get(connection_id)
        if found is None:
            conn = Connection("github", credentials={"token": token})
            found = cache[connection_id] = AsyncGenericExecutor(
                spec, conn, client=shared, options=options
            )
        return spec, found

    delivered = 0

    def handler(events: list[TriggerEvent]) -> None:
        nonlocal delivered
        delivered += len(events)

    with tempfile.TemporaryDirectory() as tmp:
        store = SubscriptionStore(Path(tmp) / "subs.db")
        start = time.time()
        for i in range(args.subscriptions):
            store.add(
                Subscription(
                    f"s{i:05d}",
                    f"c{i}",
                    "github",
                    "new_issue",
                    args.interval,
                    params={"owner": "o", "repo": f"r{i % 50}"},
                    # Spread the first runs over one interval, as a running system would be.
                    next_run_at=start + args.interval * i / args.subscriptions,
                )
            )
        runner = TriggerRunner(store, executors, handler)

        async def run() -> None:
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(args.seconds, stop.set)
            await runner.run(stop=stop, concurrency=args.concurrency, tick_seconds=0.2)

        asyncio.run(run())
    lag = list(runner.lag)  # the last 100,000 runs at most
    print(f"{args.subscriptions} subscriptions, interval {args.interval:g}s, {args.seconds:g}s run")
    print(
        f"runs started: {len(lag)} ({len(lag) / args.seconds:.0f}/s), events delivered: {delivered}"
    )
    if lag:
        print(
            f"schedule lag p50 {percentile(lag, 0.50) * 1000:.0f} ms, "
            f"p99 {percentile(lag, 0.99) * 1000:.0f} ms, max {max(lag) * 1000:.0f} ms, "
            f"mean {statistics.fmean(lag) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
