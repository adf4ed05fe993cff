"""``patchbay triggers …``: polling trigger subscriptions, stored beside the connections."""

from __future__ import annotations

import json
from typing import Any

import click

from patchbay.cli._common import (
    JSON_OPTION,
    STORE_OPTION,
    emit_json,
    fail,
    open_store,
    open_subscriptions,
    pairs,
)
from patchbay.runtime import PatchbayError
from patchbay.runtime.registry import SpecRegistry


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
    from patchbay.runtime.polling import trigger_of
    from patchbay.runtime.trigger_runner import Subscription

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
@STORE_OPTION
@click.pass_obj
def triggers_run(registry: SpecRegistry, seconds: float | None, store_path: str | None) -> None:
    """Run every subscription; events are printed as JSON lines, with a status line per tick."""
    import asyncio

    from patchbay.runtime.events import TriggerEvent
    from patchbay.runtime.executor import AsyncGenericExecutor
    from patchbay.runtime.manager import IntegrationManager
    from patchbay.runtime.trigger_runner import Subscription, TriggerRunner

    manager = IntegrationManager(registry, store=open_store(store_path), generic_enabled=True)

    def executors(connection_id: str) -> Any:
        spec, conn = manager.connection(connection_id)
        return spec, AsyncGenericExecutor(spec, conn)

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

    runner = TriggerRunner(open_subscriptions(store_path), executors, emit)

    async def go() -> None:
        stop = asyncio.Event()
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, stop.set)
        await runner.run(stop=stop, on_tick=status, tick_seconds=5.0)

    asyncio.run(go())
