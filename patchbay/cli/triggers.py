"""``patchbay triggers …``: polling trigger subscriptions, stored beside the connections."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import click
import httpx

from patchbay.cli._common import (
    JSON_OPTION,
    STORE_OPTION,
    emit_json,
    fail,
    open_store,
    open_subscriptions,
    pairs,
)
from patchbay.cli._metrics import exported_metrics, metrics_options
from patchbay.runtime import PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import SpecRegistry

#: Set in the environment of the worker processes of ``triggers run --workers N``.
PARENT_ENV = "PATCHBAY_TRIGGERS_PARENT"


@click.group()
def triggers() -> None:
    """Polling trigger subscriptions (stored beside the connections)."""


@triggers.command("add")
@click.argument("connection_id")
@click.argument("connector")
@click.argument("trigger")
@click.option("--interval", type=float, default=None, help="Seconds (default: the spec's).")
@click.option("--param", "params", multiple=True, help="Action input name=value (repeatable).")
@click.option("--backfill", type=click.IntRange(min=0), default=0, help="Deliver N existing items.")
@STORE_OPTION
@click.pass_obj
def triggers_add(
    registry: SpecRegistry,
    connection_id: str,
    connector: str,
    trigger: str,
    interval: float | None,
    params: tuple[str, ...],
    backfill: int,
    store_path: str | None,
) -> None:
    """Subscribe a connection to a polling trigger."""
    from patchbay.runtime.triggers import Subscription, trigger_of

    try:
        spec_trigger = trigger_of(registry.get(connector), trigger)
    except PatchbayError as exc:
        fail(exc)
    sub = open_subscriptions(store_path).add(
        Subscription(
            "",
            connection_id,
            connector,
            trigger,
            interval or spec_trigger.default_interval_seconds,
            params=pairs(params, "--param"),
            backfill=backfill,
        )
    )
    click.echo(f"subscribed {connector}.{trigger} for {connection_id}: id {sub.id}")


@triggers.command("list")
@STORE_OPTION
@JSON_OPTION
def triggers_list(store_path: str | None, as_json: bool) -> None:
    """List subscriptions with their status and delivery count."""
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "connection": s.connection_id,
                    "connector": s.connector,
                    "trigger": s.trigger,
                    "interval_seconds": s.interval_seconds,
                    "status": s.status,
                    "delivered": s.delivered,
                    "message": s.message,
                }
                for s in open_subscriptions(store_path).list()
            ]
        )
        return
    click.echo(f"{'id':<14} {'trigger':<32} {'every':>6} {'status':<12} {'sent':>6}  message")
    for s in open_subscriptions(store_path).list():
        name = f"{s.connector}.{s.trigger}"
        every = f"{s.interval_seconds:g}"
        click.echo(f"{s.id:<14} {name:<32} {every:>6} {s.status:<12} {s.delivered:>6}  {s.message}")


@triggers.command("show")
@click.argument("subscription_id")
@STORE_OPTION
def triggers_show(subscription_id: str, store_path: str | None) -> None:
    """Show one subscription as JSON."""
    try:
        sub = open_subscriptions(store_path).get(subscription_id)
    except PatchbayError as exc:
        fail(exc)
    shown = {**sub.__dict__, "seen": len(sub.seen)}
    click.echo(json.dumps(shown, indent=2, default=str))


@triggers.command("remove")
@click.argument("subscription_id")
@STORE_OPTION
def triggers_remove(subscription_id: str, store_path: str | None) -> None:
    """Delete one subscription."""
    try:
        open_subscriptions(store_path).remove(subscription_id)
    except PatchbayError as exc:
        fail(exc)
    click.echo(f"removed {subscription_id}")


@triggers.command("run")
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: never).")
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=256),
    default=1,
    help="Worker processes sharing the store (more than 1 needs a postgresql:// store).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    help="Due subscriptions a worker claims per store round trip.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    show_default=True,
    help="Polls in flight per worker process. Enough to cover the vendors' latency; more "
    "only costs CPU (every request scans the connection pool).",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=1.0, max=3600.0),
    default=60.0,
    help="Seconds a claim holds (renewed while its poll runs); a dead worker's subscriptions "
    "go to the others after this long.",
)
@metrics_options
@STORE_OPTION
@click.pass_obj
def triggers_run(
    registry: SpecRegistry,
    seconds: float | None,
    workers: int,
    batch: int,
    concurrency: int,
    lease: float,
    metrics_port: int | None,
    metrics_host: str,
    store_path: str | None,
) -> None:
    """Run every subscription; events are printed as JSON lines, with a status line per tick.

    With --workers N, N processes share the work through the store's row leases; SIGINT or
    SIGTERM stops them all cleanly (polls in flight give their leases back)."""
    if workers > 1:
        from patchbay.runtime.stores import store_location

        if not isinstance(store_location(store_path), str):
            fail(
                ConfigError(
                    f"--workers {workers} needs a postgresql:// store (--store or "
                    "$PATCHBAY_STORE): a SQLite file is one process's store; run one worker, "
                    "or put the subscriptions in PostgreSQL"
                )
            )
        args = ["triggers", "run", "--workers", "1", "--batch", str(batch), "--lease", str(lease)]
        args += ["--concurrency", str(concurrency)]
        if seconds is not None:
            args += ["--seconds", str(seconds)]
        if store_path is not None:
            args += ["--store", store_path]
        with exported_metrics(metrics_host, metrics_port, workers=True) as export:
            env, on_exit = (export.env, export.worker_exited) if export else ({}, None)
            code = _run_workers(workers, [*_global_args(), *args], env, on_exit)
        sys.exit(code)
    with exported_metrics(metrics_host, metrics_port, workers=False):
        _run_worker(registry, seconds, batch, concurrency, lease, store_path)


def _global_args() -> list[str]:
    """The top-level options this command was started with, for the worker processes."""
    root = click.get_current_context().find_root().params
    args: list[str] = []
    for name in ("specs_dir", "golden_dir", "log_level"):
        if root.get(name) is not None:
            args += [f"--{name.replace('_', '-')}", str(root[name])]
    args += ["-v"] * int(root.get("verbose") or 0)
    if root.get("quiet"):
        args.append("-q")
    return args


def _run_workers(
    count: int,
    args: list[str],
    extra_env: Mapping[str, str] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Start ``count`` worker processes of this command and relay their output whole lines at
    a time; a stop signal is passed on to each, and the first worker to fail stops the rest.
    ``extra_env`` goes into each worker's environment; ``on_exit`` gets each pid once its
    worker has ended."""
    import signal
    import subprocess
    import threading

    env = {**os.environ, **(extra_env or {}), PARENT_ENV: str(os.getpid())}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "patchbay", *args], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(count)
    ]
    out = threading.Lock()

    def relay(child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None
        for line in child.stdout:
            with out:
                sys.stdout.write(line)
                sys.stdout.flush()

    relays = [threading.Thread(target=relay, args=(c,), daemon=True) for c in children]
    for thread in relays:
        thread.start()
    stopping = threading.Event()

    def stop_all(signum: int = signal.SIGTERM, _frame: object = None) -> None:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, stop_all) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed = 0
        while any(c.poll() is None for c in children):
            for child in children:
                code = child.poll()
                if code not in (None, 0) and not stopping.is_set():
                    failed = failed or int(code) % 256 or 1
                    stop_all()
            stopping.wait(0.2)
        for thread in relays:
            thread.join(timeout=5)
        for child in children:
            if on_exit is not None:
                on_exit(child.pid)
        # A worker stopped by the signal passed on before it could catch it stopped cleanly.
        stopped = {0, -signal.SIGTERM, -signal.SIGINT} if stopping.is_set() else {0}
        codes = [c.returncode for c in children if c.returncode not in stopped]
        return failed or next((int(c) % 256 or 1 for c in codes), 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_worker(
    registry: SpecRegistry,
    seconds: float | None,
    batch: int,
    concurrency: int,
    lease: float,
    store_path: str | None,
) -> None:
    import asyncio
    import signal

    from patchbay.runtime.accounts import IntegrationManager
    from patchbay.runtime.http import AsyncGenericExecutor
    from patchbay.runtime.triggers import Subscription, TriggerEvent, TriggerRunner

    manager = IntegrationManager(registry, store=open_store(store_path), generic_enabled=True)
    shared: list[httpx.AsyncClient] = []

    def executors(connection_id: str) -> Any:
        spec, conn = manager.connection(connection_id)
        return spec, AsyncGenericExecutor(spec, conn, client=shared[0])

    def emit(events: list[TriggerEvent]) -> None:
        for e in events:
            click.echo(
                json.dumps(
                    {"subscription": e.subscription, "key": e.dedupe_key, "payload": e.payload},
                    default=str,
                )
            )

    def status(subs: list[Subscription]) -> None:
        for s in subs:
            click.echo(
                f"# {s.id} {s.connector}.{s.trigger} {s.status} sent={s.delivered} {s.message}",
                err=True,
            )

    from patchbay.runtime.stores import open_subscription_leases

    try:
        leases = open_subscription_leases(store_path)
    except PatchbayError as exc:
        fail(exc)
    runner = TriggerRunner(open_subscriptions(store_path), executors, emit, leases=leases)

    async def go() -> None:
        shared.append(polling_client(concurrency))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if seconds is not None:
            loop.call_later(seconds, stop.set)
        parent = os.environ.get(PARENT_ENV)
        if parent is not None:
            # A worker of --workers N: stop when that parent is gone (killed with SIGKILL, it
            # could not pass a signal on), instead of polling on as an orphan.
            def orphaned() -> None:
                if str(os.getppid()) != parent:
                    stop.set()
                else:
                    loop.call_later(1.0, orphaned)

            orphaned()
        try:
            await runner.run(
                stop=stop,
                on_tick=status,
                tick_seconds=5.0,
                concurrency=concurrency,
                batch_size=batch,
                lease_seconds=lease,
            )
        finally:
            await shared[0].aclose()
            await leases.aclose()

    asyncio.run(go())


def polling_client(concurrency: int = 100) -> httpx.AsyncClient:
    """One connection pool for every poll of a worker: a client per poll would open a new
    connection (and TLS session) to the vendor each time, and leave it open. As many kept-alive
    connections as polls in flight (httpx keeps 20 by default: past that, a connection that
    goes idle is closed, and the next poll opens a new one). Cookies are refused: the executor
    never sends them, and a jar shared by every connection would only grow with whatever
    vendors set."""
    from http.cookiejar import DefaultCookiePolicy

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(limits=limits)
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client
