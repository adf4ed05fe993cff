"""TriggerRunner v1: polling subscriptions with persisted cursors, dedupe and backoff.

Delivery is at-least-once with a stable dedupe key per event: a batch is handed to the handler,
and only after the handler returned is the new cursor (and the seen-ID ledger) committed. A crash
in between redelivers the batch with the same keys. A lookback window re-reads records the
vendor indexed late; the bounded ledger keeps them from being delivered twice. The first run
starts from "now" (optionally delivering the newest ``backfill`` items). A sync token the
vendor declares stale (Google's 410) starts a full resync that the ledger de-duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry

from patchbay.runtime.errors import NotFound, PatchbayError, describe_unexpected
from patchbay.runtime.events import BatchHandler, TriggerEvent
from patchbay.runtime.executor import AsyncGenericExecutor, Page
from patchbay.runtime.observability import log_event, metrics_for
from patchbay.runtime.paths import get_path
from patchbay.runtime.polling import (
    cursor_at,
    is_stale,
    poll_input,
    polled_action,
    reached_cursor,
    read_pages,
    resumes_past_cap,
    shift,
    sortable,
    trigger_of,
    wanted,
)
from patchbay.runtime.spec import ConnectorSpec, PollingCursor, PollingTrigger
from patchbay.runtime.sqlite_db import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded

Status = Literal["active", "backing_off", "paused"]


Handler = BatchHandler


@dataclass(frozen=True)
class Subscription:
    id: str
    connection_id: str
    connector: str
    trigger: str
    interval_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    backfill: int = 0
    cursor: Any = None
    seen: tuple[str, ...] = ()
    started: bool = False
    status: Status = "active"
    message: str = ""
    failures: int = 0
    next_run_at: float = 0.0
    last_run_at: float | None = None
    delivered: int = 0


_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
)
"""


class SubscriptionBackend(Protocol):
    """What the runner needs of a subscription store (SQLite or PostgreSQL)."""

    def add(self, sub: Subscription) -> Subscription: ...

    def save(self, sub: Subscription) -> None: ...

    def get(self, sub_id: str) -> Subscription: ...

    def list(self) -> list[Subscription]: ...

    def remove(self, sub_id: str) -> None: ...


class SubscriptionStore:
    """The schedule registry, in the same SQLite file as the token store (its own table)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self._connections = ThreadLocalConnections(
            self.path, "subscription store", busy_timeout=busy_timeout
        )
        with self._connections.guard():
            self._db().execute(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    @staticmethod
    def _encode(sub: Subscription) -> str:
        data = dict(sub.__dict__)
        data["seen"] = list(sub.seen)
        return json.dumps(data, default=str)

    @staticmethod
    def _decode(text: str) -> Subscription:
        data = json.loads(text)
        data["seen"] = tuple(data["seen"])
        return Subscription(**data)

    @guarded
    def add(self, sub: Subscription) -> Subscription:
        sub = replace(sub, id=sub.id or uuid.uuid4().hex[:12])
        self._db().execute("INSERT INTO subscriptions VALUES (?, ?)", (sub.id, self._encode(sub)))
        return sub

    @guarded
    def save(self, sub: Subscription) -> None:
        self._db().execute(
            "UPDATE subscriptions SET data=? WHERE id=?", (self._encode(sub), sub.id)
        )

    @guarded
    def get(self, sub_id: str) -> Subscription:
        row = self._db().execute("SELECT data FROM subscriptions WHERE id=?", (sub_id,)).fetchone()
        if row is None:
            raise NotFound(f"no subscription {sub_id!r}")
        return self._decode(row[0])

    @guarded
    def list(self) -> list[Subscription]:
        rows = self._db().execute("SELECT data FROM subscriptions ORDER BY id").fetchall()
        return [self._decode(r[0]) for r in rows]

    @guarded
    def remove(self, sub_id: str) -> None:
        if self._db().execute("DELETE FROM subscriptions WHERE id=?", (sub_id,)).rowcount == 0:
            raise NotFound(f"no subscription {sub_id!r}")


#: Errors waiting cannot fix: the subscription pauses with a clear status until resumed.
PAUSING = frozenset({"auth_expired", "auth_invalid", "permission_denied", "bad_response", "config"})

#: The ``outcome`` metric label of a poll that raised something other than a PatchbayError.
UNEXPECTED_OUTCOME = "unexpected_error"

ExecutorFactory = Callable[[str], tuple[ConnectorSpec, AsyncGenericExecutor]]


@dataclass(frozen=True)
class RunOutcome:
    subscription: Subscription
    delivered: int
    error: PatchbayError | None = None


class TriggerRunner:
    """Runs subscriptions: ``run_once`` for one poll, ``run`` for the scheduler loop."""

    def __init__(
        self,
        store: SubscriptionBackend,
        executors: ExecutorFactory,
        handler: Handler,
        *,
        clock: Callable[[], float] = time.time,
        jitter: float = 0.1,
        max_backoff: float = 3600.0,
        ledger_size: int = 2000,
        max_items: int = 1000,
        random_source: Callable[[], float] = random.random,
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self._executors = executors
        self._handler = handler
        self._clock = clock
        self._jitter = jitter
        self._max_backoff = max_backoff
        self._ledger = ledger_size
        self._max_items = max_items
        self._random = random_source
        self._running: set[str] = set()
        self._metrics = metrics_for(metrics_registry)
        #: Recent schedule lags in seconds (bounded; the histogram keeps the long view).
        self.lag: deque[float] = deque(maxlen=100_000)

    # ---------------------------------------------------------------------------- one poll

    async def run_once(self, sub_id: str) -> RunOutcome:
        """Poll one subscription now (unless it is already running: runs never overlap)."""
        sub = self.store.get(sub_id)
        if sub_id in self._running or sub.status == "paused":
            return RunOutcome(sub, 0)
        self._running.add(sub_id)
        try:
            return await self._poll(sub)
        finally:
            self._running.discard(sub_id)

    async def _poll(self, sub: Subscription) -> RunOutcome:
        now = self._clock()
        try:
            spec, executor = self._executors(sub.connection_id)
            trigger = trigger_of(spec, sub.trigger)
            if not sub.started and trigger.start == "now":
                return self._start_now(sub, trigger, now)
            async with executor:
                items, token = await self._fetch(executor, trigger, sub)
            events, cursor, keys = self._select(spec, trigger, sub, items, token)
        except PatchbayError as exc:
            self._count(sub, exc.code)
            return RunOutcome(self._failed(sub, exc, now, pause=exc.code in PAUSING), 0, exc)
        except Exception as exc:
            # Not an error Patchbay raised on purpose (a RecursionError, a bug): nothing says
            # waiting cannot fix it, so back off like any transient failure, never re-poll at
            # once. Only the type is kept: the text of a raw exception may quote a secret.
            error = PatchbayError(f"poll failed: {describe_unexpected(exc)}")
            log_event(
                logging.WARNING,
                "trigger.poll_crashed",
                connector=sub.connector,
                trigger=sub.trigger,
                type=type(exc).__name__,
            )
            self._count(sub, UNEXPECTED_OUTCOME)
            return RunOutcome(self._failed(sub, error, now, pause=False), 0, error)
        message = ""
        capped = len(items) >= self._max_items
        # A narrowing cursor resumes after a cut, unless the cut left it where it was (more
        # records than the cap share the cursor's value): then the next poll reads the same.
        stuck = capped and sub.started and cursor == sub.cursor and cursor is not None
        if capped and (stuck or not resumes_past_cap(trigger, token)):
            # Not silent: records past the cap were not read, and the next poll will not start
            # where this one stopped.
            message = (
                f"warning: the poll stopped at the {self._max_items}-item cap; records past it "
                "were not read (the trigger needs a cursor that narrows the list, or a higher cap)"
            )
            log_event(
                logging.WARNING,
                "trigger.poll_truncated",
                connector=spec.name,
                trigger=trigger.name,
                max_items=self._max_items,
            )
        if events:
            try:
                result = self._handler(events)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the handler failed: keep the cursor, back off
                self._count(sub, "handler_failed")
                error = PatchbayError(f"handler failed: {type(exc).__name__}: {exc}")
                return RunOutcome(self._failed(sub, error, now, pause=False), 0, error)
        ledger = (*sub.seen, *keys)[-self._ledger :]
        done = replace(
            sub,
            cursor=cursor,
            seen=ledger,
            started=True,
            status="active",
            message=message,
            failures=0,
            last_run_at=now,
            next_run_at=now + self._interval(sub.interval_seconds),
            delivered=sub.delivered + len(events),
        )
        self.store.save(done)  # the commit: only after the handler acknowledged the batch
        self._count(sub, "ok")
        if events:
            self._metrics.trigger_events.labels(sub.connector, sub.trigger).inc(len(events))
        return RunOutcome(done, len(events))

    def _start_now(self, sub: Subscription, trigger: PollingTrigger, now: float) -> RunOutcome:
        """A list only readable oldest first cannot show what is newest: the cursor starts at
        the current time instead (reading from the oldest would deliver history as new)."""
        message = ""
        if sub.backfill:
            message = (
                f"backfill is not available for {trigger.name} (its list is read oldest first)"
            )
        done = replace(
            sub,
            cursor=cursor_at(now, trigger.cursor),
            started=True,
            status="active",
            message=message,
            last_run_at=now,
            next_run_at=now + self._interval(sub.interval_seconds),
        )
        self.store.save(done)
        self._count(sub, "ok")
        return RunOutcome(done, 0)

    def _count(self, sub: Subscription, outcome: str) -> None:
        self._metrics.trigger_polls.labels(sub.connector, sub.trigger, outcome).inc()

    async def _fetch(
        self, executor: AsyncGenericExecutor, trigger: PollingTrigger, sub: Subscription
    ) -> tuple[list[Any], Any]:
        cursor_spec = trigger.cursor
        cursor = sub.cursor if sub.started else None
        sent = cursor
        if cursor is not None and cursor_spec.kind == "timestamp" and trigger.lookback_seconds:
            sent = shift(cursor, cursor_spec, trigger.lookback_seconds)  # re-read late records
        now = self._clock()
        # A sync without a token reads to the end, past the item cap: the token comes with the
        # last page (Google's nextSyncToken), and stopping early would never get one.
        full = cursor_spec.kind == "sync_token"
        keep = self._ledger + sub.backfill
        try:
            data = poll_input(trigger, sent, sub.params, now=now)
            action = polled_action(trigger, sent)
            if full and sent is None:
                pages = await self._pages(executor, action, data, keep=keep)
            else:
                pages = await self._pages(executor, action, data, reached_cursor(trigger, sent))
        except PatchbayError as exc:
            if not is_stale(exc, cursor_spec):
                raise
            # The vendor says the token is stale: resync everything; the ledger dedupes.
            data = poll_input(trigger, None, sub.params, now=now)
            pages = await self._pages(executor, trigger.action, data, keep=keep)
        items = [item for page in pages for item in page.items]
        token = None
        if cursor_spec.kind == "sync_token":
            for page in pages:
                found = get_path(page.body, cursor_spec.token_path or "", None)
                token = found if found is not None else token
        return items, token

    async def _pages(
        self,
        executor: AsyncGenericExecutor,
        action: str,
        data: dict[str, Any],
        stop: Callable[[Page], bool] | None = None,
        *,
        keep: int | None = None,
    ) -> list[Page]:
        """A poll's pages: up to the item cap, or with ``keep`` all of them (holding the tail)."""
        limit = None if keep is not None else self._max_items
        return await read_pages(executor.paginate(action, data, max_items=limit), stop, keep=keep)

    def _select(
        self,
        spec: ConnectorSpec,
        trigger: PollingTrigger,
        sub: Subscription,
        items: list[Any],
        token: Any,
    ) -> tuple[list[TriggerEvent], Any, list[str]]:
        """New events (oldest first, none in the ledger), the next cursor, and their keys."""
        cursor_spec = trigger.cursor
        keyed = []
        for item in items:
            raw = get_path(item, trigger.dedupe_key, None)
            if raw is None:
                continue
            keyed.append((f"{spec.name}:{trigger.name}:{raw}", item))
        seen = set(sub.seen)
        fresh = [(k, i) for k, i in keyed if k not in seen]
        if cursor_spec.kind == "sync_token":
            next_cursor = token if token is not None else sub.cursor
        else:
            path = cursor_spec.field or ""
            values = [
                (key[1], v)
                for _, i in keyed
                if (v := get_path(i, path, None)) is not None
                and (key := _order_key(v, cursor_spec))[0] == 0
            ]
            best = max(values, key=lambda pair: pair[0])[1] if values else None
            current = sub.cursor
            if current is not None and (
                best is None or _order_key(best, cursor_spec) < _order_key(current, cursor_spec)
            ):
                best = current
            next_cursor = best
            fresh.sort(key=lambda pair: _order_key(get_path(pair[1], path, None), cursor_spec))
        fresh = [(k, i) for k, i in fresh if wanted(trigger, i)]  # the others only move the cursor
        if not sub.started:
            # First run: start from "now"; only the newest ``backfill`` items are delivered.
            chosen = fresh[-sub.backfill :] if sub.backfill else []
            keys = [k for k, _ in fresh]
        else:
            chosen = fresh
            keys = [k for k, _ in fresh]
        events = [TriggerEvent(spec.name, sub.id, k, trigger.name, i) for k, i in chosen]
        return events, next_cursor, keys

    # ----------------------------------------------------------------------- bookkeeping

    def _interval(self, base: float) -> float:
        return base * (1 + self._jitter * (2 * self._random() - 1))

    def _failed(
        self, sub: Subscription, exc: PatchbayError, now: float, *, pause: bool
    ) -> Subscription:
        """Pause on what waiting cannot fix (auth, permissions, malformed responses); else back
        off exponentially, at least as long as the vendor's ``retry_after``."""
        if pause:
            paused = replace(
                sub,
                status="paused",
                message=f"paused: [{exc.code}] {exc.message}",
                failures=sub.failures + 1,
                last_run_at=now,
            )
            self.store.save(paused)
            return paused
        failures = sub.failures + 1
        wait = min(self._max_backoff, sub.interval_seconds * (2 ** min(failures, 16)))
        if exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        backing = replace(
            sub,
            status="backing_off",
            message=f"[{exc.code}] {exc.message}; retrying in {wait:g}s",
            failures=failures,
            last_run_at=now,
            next_run_at=now + wait,
        )
        self.store.save(backing)
        return backing

    def resume(self, sub_id: str) -> None:
        sub = self.store.get(sub_id)
        self.store.save(replace(sub, status="active", message="", failures=0, next_run_at=0.0))

    # -------------------------------------------------------------------------- scheduler

    async def run(
        self,
        *,
        stop: asyncio.Event,
        concurrency: int = 100,
        on_tick: Callable[[list[Subscription]], None] | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        """Run every due subscription until ``stop`` is set; never two runs of one at once."""
        limit = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[Any]] = set()
        scheduled: set[str] = set()
        seen_at: dict[str, float] = {}
        last_tick = 0.0

        held: dict[str, float] = {}

        async def one(sub: Subscription) -> None:
            async with limit:
                # A new subscription (next_run_at 0) is due from the moment it is first seen.
                due_at = sub.next_run_at or seen_at.get(sub.id, self._clock())
                lag = max(0.0, self._clock() - due_at)
                self.lag.append(lag)
                self._metrics.trigger_lag.labels(sub.connector, sub.trigger).observe(lag)
                try:
                    await self.run_once(sub.id)
                except Exception as exc:
                    # Even the bookkeeping failed (the store is locked or gone): nothing was
                    # saved, so hold this subscription here for an interval instead of
                    # re-running it on the next pass.
                    held[sub.id] = self._clock() + min(self._max_backoff, sub.interval_seconds)
                    log_event(
                        logging.WARNING,
                        "trigger.run_failed",
                        connector=sub.connector,
                        trigger=sub.trigger,
                        type=type(exc).__name__,
                        code=getattr(exc, "code", None),
                    )

        while not stop.is_set():
            now = self._clock()
            subs = self.store.list()
            for sub in subs:
                seen_at.setdefault(sub.id, now)
                due = sub.next_run_at <= now and held.get(sub.id, 0.0) <= now
                if sub.status != "paused" and due and sub.id not in scheduled:
                    scheduled.add(sub.id)  # until this run ends: runs never overlap
                    task = asyncio.create_task(one(sub))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(_forget(scheduled, sub.id))
            if on_tick is not None and now - last_tick >= tick_seconds:
                on_tick(subs)
                last_tick = now
            upcoming = [
                max(s.next_run_at, held.get(s.id, 0.0)) for s in subs if s.status != "paused"
            ]
            delay = min([max(0.01, t - now) for t in upcoming], default=tick_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(delay, tick_seconds))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _forget(scheduled: set[str], sub_id: str) -> Callable[[asyncio.Task[Any]], None]:
    def done(_task: asyncio.Task[Any]) -> None:
        scheduled.discard(sub_id)

    return done


def _order_key(value: Any, cursor: PollingCursor) -> tuple[int, Any]:
    """Cursor values in order; a value the format cannot read sorts after all readable ones
    (and never moves the cursor) instead of stopping the run."""
    try:
        return (0, sortable(value, cursor)) if value is not None else (2, "")
    except ValueError:
        return (1, str(value))
