"""TriggerRunner v1: polling subscriptions with persisted cursors, dedupe and backoff.

Delivery is at-least-once with a stable dedupe key per event: a batch is handed to the handler,
and only after the handler returned is the new cursor (and the seen-ID ledger) committed. A crash
in between redelivers the batch with the same keys. A lookback window re-reads records the
vendor indexed late; the bounded ledger keeps them from being delivered twice. The first run
starts from "now" (optionally delivering the newest ``backfill`` items). A sync token the
vendor declares stale (Google's 410) starts a full resync that the ledger de-duplicates.

The scheduler shares a store with any number of others (``triggers run --workers N``, several
hosts on one PostgreSQL): due subscriptions are leased to one worker by batch claims
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite); a poll's commit is
conditional on its lease, and no transaction outlives one store call.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import contextvars
import inspect
import json
import logging
import os
import random
import socket
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from prometheus_client import CollectorRegistry

from patchbay.runtime.errors import NotFound, PatchbayError, describe_unexpected
from patchbay.runtime.http._executors import AsyncGenericExecutor
from patchbay.runtime.http._options import Page
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.observability import log_event, metrics_for
from patchbay.runtime.spec._model import ConnectorSpec, PollingCursor, PollingTrigger
from patchbay.runtime.storage._sqlite import DEFAULT_BUSY_TIMEOUT, ThreadLocalConnections, guarded
from patchbay.runtime.triggers._events import BatchHandler, TriggerEvent
from patchbay.runtime.triggers._polling import (
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

Status = Literal["active", "backing_off", "paused"]

#: The lease the current task's poll runs under (None: a direct ``run_once``, no lease).
_LEASE: contextvars.ContextVar[tuple[str, float] | None] = contextvars.ContextVar(
    "lease", default=None
)

#: A worker's lease on a claimed subscription, renewed every third of it while the poll runs.
DEFAULT_LEASE_SECONDS = 60.0


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


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    # Leases in a table of their own: a store file written before leases existed needs no
    # change to its rows, and a lease never rewrites a subscription's JSON.
    "CREATE TABLE IF NOT EXISTS subscription_leases "
    "(id TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS subscriptions_due ON subscriptions "
    "(json_extract(data, '$.next_run_at'))",
)

#: The due-time expression the claim orders by (the same text as the index, so it is used).
_DUE = "json_extract(s.data, '$.next_run_at')"


class SubscriptionBackend(Protocol):
    """What the runner needs of a subscription store (SQLite or PostgreSQL)."""

    def add(self, sub: Subscription) -> Subscription: ...

    def save(self, sub: Subscription) -> None: ...

    def get(self, sub_id: str) -> Subscription: ...

    def list(self) -> list[Subscription]: ...

    def remove(self, sub_id: str) -> None: ...

    def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]:
        """Lease up to ``limit`` due, unpaused, unleased subscriptions to ``owner`` (oldest due
        first) in one short write; a lease held by another owner until past the store's clock
        is skipped, an expired one is taken over."""
        ...

    def next_due(self) -> float | None:
        """When the earliest unpaused subscription no live lease holds is due (None: none)."""
        ...

    def finish(self, sub: Subscription, owner: str) -> bool:
        """Save ``sub`` and free its lease in one write, only while ``owner`` still holds it;
        False (nothing written) when the lease went to another worker."""
        ...

    def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        """Extend ``owner``'s leases on ``ids``; returns the ids it still holds."""
        ...

    def release(self, owner: str, ids: Sequence[str]) -> None:
        """Free ``owner``'s leases on ``ids`` without saving (a clean shutdown mid-poll)."""
        ...


class AsyncSubscriptionLeases(Protocol):
    """The store calls of the runner's hot path, awaited: PostgreSQL's async store waits for
    the database without holding the event loop (see ``patchbay.runtime.stores``)."""

    async def get(self, sub_id: str) -> Subscription: ...

    async def save(self, sub: Subscription) -> None: ...

    async def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]: ...

    async def next_due(self) -> float | None: ...

    async def finish(self, sub: Subscription, owner: str) -> bool: ...

    async def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]: ...

    async def release(self, owner: str, ids: Sequence[str]) -> None: ...

    async def aclose(self) -> None: ...


class InlineLeases:
    """A sync store's calls behind the async protocol, made inline: a local SQLite file
    answers in microseconds, and its write lock is not something to wait for in a thread."""

    def __init__(self, store: SubscriptionBackend) -> None:
        self.store = store

    async def get(self, sub_id: str) -> Subscription:
        return self.store.get(sub_id)

    async def save(self, sub: Subscription) -> None:
        self.store.save(sub)

    async def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]:
        return self.store.claim_due(owner, now, limit, lease_seconds)

    async def next_due(self) -> float | None:
        return self.store.next_due()

    async def finish(self, sub: Subscription, owner: str) -> bool:
        return self.store.finish(sub, owner)

    async def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        return self.store.renew(owner, ids, lease_seconds)

    async def release(self, owner: str, ids: Sequence[str]) -> None:
        self.store.release(owner, ids)

    async def aclose(self) -> None:
        return None


class SubscriptionStore:
    """The schedule registry, in the same SQLite file as the token store (its own table)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self._connections = ThreadLocalConnections(
            self.path, "subscription store", busy_timeout=busy_timeout
        )
        with self._connections.guard():
            for statement in _SCHEMA:
                self._db().execute(statement)

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
        with self._connections.write() as db:
            if db.execute("DELETE FROM subscriptions WHERE id=?", (sub_id,)).rowcount == 0:
                raise NotFound(f"no subscription {sub_id!r}")
            db.execute("DELETE FROM subscription_leases WHERE id=?", (sub_id,))

    # Leases: each call is one BEGIN IMMEDIATE transaction, so processes sharing the file on
    # one machine never claim the same subscription; the lease clock is this machine's.

    @guarded
    def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> builtins.list[Subscription]:
        with self._connections.write() as db:
            clock = time.time()
            rows = db.execute(
                "SELECT s.data FROM subscriptions s LEFT JOIN subscription_leases l "
                "ON l.id = s.id WHERE json_extract(s.data, '$.status') <> 'paused' "
                f"AND {_DUE} <= ? AND (l.id IS NULL OR l.until < ?) ORDER BY {_DUE} LIMIT ?",
                (now, clock, max(0, limit)),
            ).fetchall()
            subs = [self._decode(r[0]) for r in rows]
            db.executemany(
                "INSERT OR REPLACE INTO subscription_leases (id, owner, until) VALUES (?, ?, ?)",
                [(s.id, owner, clock + lease_seconds) for s in subs],
            )
        return subs

    @guarded
    def next_due(self) -> float | None:
        row = (
            self._db()
            .execute(
                f"SELECT min({_DUE}) FROM subscriptions s LEFT JOIN subscription_leases l "
                "ON l.id = s.id WHERE json_extract(s.data, '$.status') <> 'paused' "
                "AND (l.id IS NULL OR l.until < ?)",
                (time.time(),),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])

    @guarded
    def finish(self, sub: Subscription, owner: str) -> bool:
        with self._connections.write() as db:
            held = db.execute(
                "DELETE FROM subscription_leases WHERE id=? AND owner=?", (sub.id, owner)
            ).rowcount
            if held:
                db.execute(
                    "UPDATE subscriptions SET data=? WHERE id=?", (self._encode(sub), sub.id)
                )
        return bool(held)

    @guarded
    def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        with self._connections.write() as db:
            db.execute(
                f"UPDATE subscription_leases SET until=? WHERE owner=? AND id IN ({marks})",
                (time.time() + lease_seconds, owner, *ids),
            )
            rows = db.execute(
                f"SELECT id FROM subscription_leases WHERE owner=? AND id IN ({marks})",
                (owner, *ids),
            ).fetchall()
        return {r[0] for r in rows}

    @guarded
    def release(self, owner: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        with self._connections.write() as db:
            db.execute(
                f"DELETE FROM subscription_leases WHERE owner=? AND id IN ({marks})",
                (owner, *ids),
            )


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
        leases: AsyncSubscriptionLeases | None = None,
    ) -> None:
        self.store = store
        #: The hot path's store calls (re-read, commit, claims, renewals); by default the
        #: store's own, inline. Closing it is the caller's: the runner does not own it.
        self.leases: AsyncSubscriptionLeases = leases or InlineLeases(store)
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
        return await self._run(sub_id, None)

    async def _run(
        self, sub_id: str, owner: str | None, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> RunOutcome:
        """One poll; under ``owner``'s lease (the scheduler) the commit is conditional on it.

        The row is read again after the claim: a pause or resume written in between wins, and a
        store that cannot be read fails here, before any vendor call (the lease then holds the
        subscription until it expires, instead of a re-run on every pass)."""
        sub = await self.leases.get(sub_id)
        if sub_id in self._running or sub.status == "paused":
            if owner is not None:
                await self.leases.release(owner, [sub_id])
            return RunOutcome(sub, 0)
        self._running.add(sub_id)
        token = _LEASE.set(None if owner is None else (owner, lease_seconds))
        try:
            return await self._poll(sub)
        finally:
            _LEASE.reset(token)
            self._running.discard(sub_id)

    async def _commit(self, sub: Subscription) -> None:
        """Save a poll's result; under a lease, only while the lease is still ours (one write
        that also frees it). A lost lease means another worker took the subscription over after
        ours expired: its result stands, and anything this poll delivered is delivered again
        there with the same dedupe keys (the cursor here was never saved)."""
        lease = _LEASE.get()
        if lease is None:
            await self.leases.save(sub)
        elif not await self.leases.finish(sub, lease[0]):
            log_event(
                logging.WARNING,
                "trigger.lease_lost",
                connector=sub.connector,
                trigger=sub.trigger,
                subscription=sub.id,
            )

    async def _poll(self, sub: Subscription) -> RunOutcome:
        now = self._clock()
        try:
            spec, executor = self._executors(sub.connection_id)
            trigger = trigger_of(spec, sub.trigger)
            if not sub.started and trigger.start == "now":
                return await self._start_now(sub, trigger, now)
            async with executor:
                items, token = await self._fetch(executor, trigger, sub)
            events, cursor, keys = self._select(spec, trigger, sub, items, token)
        except PatchbayError as exc:
            self._count(sub, exc.code)
            failed = await self._failed(sub, exc, now, pause=exc.code in PAUSING)
            return RunOutcome(failed, 0, exc)
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
            return RunOutcome(await self._failed(sub, error, now, pause=False), 0, error)
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
        if events and not await self._still_ours(sub):
            return RunOutcome(sub, 0)  # another worker has it now: hand nothing over twice
        if events:
            try:
                result = self._handler(events)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the handler failed: keep the cursor, back off
                self._count(sub, "handler_failed")
                error = PatchbayError(f"handler failed: {type(exc).__name__}: {exc}")
                return RunOutcome(await self._failed(sub, error, now, pause=False), 0, error)
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
        await self._commit(done)  # the commit: only after the handler acknowledged the batch
        self._count(sub, "ok")
        if events:
            self._metrics.trigger_events.labels(sub.connector, sub.trigger).inc(len(events))
        return RunOutcome(done, len(events))

    async def _still_ours(self, sub: Subscription) -> bool:
        """Under a lease, renew it right before the hand-over, the step that cannot be taken
        back: a poll whose lease lapsed (its worker stalled past the lease) delivers nothing,
        and the worker that took over delivers the batch once."""
        lease = _LEASE.get()
        if lease is None or sub.id in await self.leases.renew(lease[0], [sub.id], lease[1]):
            return True
        log_event(
            logging.WARNING,
            "trigger.lease_lost",
            connector=sub.connector,
            trigger=sub.trigger,
            subscription=sub.id,
        )
        return False

    async def _start_now(
        self, sub: Subscription, trigger: PollingTrigger, now: float
    ) -> RunOutcome:
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
        await self._commit(done)
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

    async def _failed(
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
            await self._commit(paused)
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
        await self._commit(backing)
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
        batch_size: int = 100,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        idle_seconds: float = 1.0,
        owner: str | None = None,
    ) -> None:
        """Run due subscriptions until ``stop`` is set; any number of these loops (processes,
        hosts) can share one store.

        Work is taken by claims: one store write leases up to ``batch_size`` due subscriptions
        to this worker (``owner``), so the store sees one statement per batch, not one per
        subscription, and never a listing of everything. A poll has no fixed maximum duration
        (pages, retries, a slow handler), so instead of a lease longer than any poll the lease
        is short and renewed every third of ``lease_seconds`` for every poll in flight, in one
        write: a worker that dies (``kill -9``) stops renewing, and its subscriptions are due
        for the others within ``lease_seconds``. A poll whose lease was lost (renewal found
        another owner) is cancelled before it commits. With the store failing, a claimed
        subscription stays leased until the lease runs out: it is not re-run on every pass.

        ``on_tick`` gets, every ``tick_seconds``, the subscriptions this worker finished since
        the last tick. With nothing due, the loop sleeps until the store's next due time, and
        at most ``idle_seconds``.
        """
        owner = owner or worker_id()
        #: The current poll of each subscription this worker holds (renewed, cancelled when
        #: its lease is lost) and every poll task not finished yet: a cancelled poll may still
        #: be unwinding when its subscription is claimed again, and it must neither take the
        #: new poll's place nor outlive the loop.
        polls: dict[str, asyncio.Task[Any]] = {}
        tasks: set[asyncio.Task[Any]] = set()
        finished: list[Subscription] = []
        wake = asyncio.Event()
        low_water = max(1, min(batch_size, concurrency) // 4)
        last_tick = 0.0
        # Whether the last claim was cut short by the concurrency limit: only then does a
        # finished poll wake the loop early (else every finish would be a claim of its own).
        starved = False

        async def one(sub: Subscription, claimed_at: float) -> None:
            # A new subscription (next_run_at 0) is due from the moment it is first claimed.
            due_at = sub.next_run_at or claimed_at
            lag = max(0.0, self._clock() - due_at)
            self.lag.append(lag)
            self._metrics.trigger_lag.labels(sub.connector, sub.trigger).observe(lag)
            try:
                finished.append((await self._run(sub.id, owner, lease_seconds)).subscription)
            except Exception as exc:
                # Even the bookkeeping failed (the store is locked or gone): nothing was saved
                # and the lease is kept (no longer renewed) until it expires.
                log_event(
                    logging.WARNING,
                    "trigger.run_failed",
                    connector=sub.connector,
                    trigger=sub.trigger,
                    type=type(exc).__name__,
                    code=getattr(exc, "code", None),
                )

        def done(sub_id: str) -> Callable[[asyncio.Task[Any]], None]:
            def forget(task: asyncio.Task[Any]) -> None:
                tasks.discard(task)
                if polls.get(sub_id) is task:
                    del polls[sub_id]
                if starved and concurrency - len(tasks) >= low_water:
                    wake.set()

            return forget

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease_seconds / 3)
                ids = list(polls)
                try:
                    held = await self.leases.renew(owner, ids, lease_seconds)
                except Exception as exc:
                    log_event(logging.WARNING, "trigger.renew_failed", type=type(exc).__name__)
                    continue
                for sub_id in ids:
                    task = polls.get(sub_id)
                    if sub_id not in held and task is not None:
                        log_event(logging.WARNING, "trigger.lease_lost", subscription=sub_id)
                        task.cancel()

        renewer = asyncio.create_task(renew())
        try:
            while not stop.is_set():
                now = self._clock()
                want = min(batch_size, concurrency - len(tasks))
                starved = want < min(batch_size, concurrency)
                claimed: list[Subscription] = []
                if want > 0:
                    try:
                        claimed = await self.leases.claim_due(owner, now, want, lease_seconds)
                    except Exception as exc:
                        log_event(
                            logging.WARNING,
                            "trigger.claim_failed",
                            type=type(exc).__name__,
                            code=getattr(exc, "code", None),
                        )
                for sub in claimed:
                    task = asyncio.create_task(one(sub, now))
                    polls[sub.id] = task
                    tasks.add(task)
                    task.add_done_callback(done(sub.id))
                if on_tick is not None and now - last_tick >= tick_seconds:
                    ticked, finished[:] = list(finished), []
                    on_tick(ticked)
                    last_tick = now
                if claimed and len(claimed) == want:
                    await asyncio.sleep(0)  # a full batch: more may be due, claim again at once
                    continue
                wait = min(idle_seconds, tick_seconds)
                if not starved:
                    # Sleep until the next due time, but look again after ``idle_seconds`` at
                    # most: new subscriptions, resumes and other workers' leases change it.
                    try:
                        due = await self.leases.next_due()
                    except Exception:
                        due = None  # the claim above logs store trouble; just wait
                    if due is not None:
                        wait = min(wait, max(0.005, due - self._clock()))
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await _first(stop.wait(), wake.wait())
        finally:
            renewer.cancel()
            cut, running = list(polls), list(tasks)
            for task in running:
                task.cancel()
            await asyncio.gather(renewer, *running, return_exceptions=True)
            # Polls cut short by the stop saved nothing: free their leases for the others now
            # (their cursors did not move, so the next worker re-reads the same records).
            with contextlib.suppress(Exception):
                await self.leases.release(owner, cut)


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until any of ``waits`` finishes; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def worker_id() -> str:
    """A lease owner unique to this runner: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _order_key(value: Any, cursor: PollingCursor) -> tuple[int, Any]:
    """Cursor values in order; a value the format cannot read sorts after all readable ones
    (and never moves the cursor) instead of stopping the run."""
    try:
        return (0, sortable(value, cursor)) if value is not None else (2, "")
    except ValueError:
        return (1, str(value))
