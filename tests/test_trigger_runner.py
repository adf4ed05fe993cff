"""TriggerRunner v1 against the stateful mocks and vendor-like transports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import open_backend, spec_doc
from prometheus_client import CollectorRegistry

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import (
    AsyncGenericExecutor,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    RetryPolicy,
    parse_spec,
)
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.triggers._events import TriggerEvent, per_event
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore, TriggerRunner

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
NOW = 1_800_000_000.0


async def _no_sleep(seconds: float) -> None:
    return None


def factory(
    spec: ConnectorSpec, transport: httpx.AsyncBaseTransport, credentials: dict[str, str]
) -> Any:
    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection(spec.name, credentials=credentials)
        options = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
        return spec, AsyncGenericExecutor(
            spec, conn, transport=transport, options=options, sleep=_no_sleep
        )

    return make


class Collector:
    """A handler with its own dedupe by key, as the docs tell handler authors to write."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.processed: dict[str, Any] = {}

    def __call__(self, events: list[TriggerEvent]) -> None:
        for event in events:
            self.received.append(event.dedupe_key)
            self.processed.setdefault(event.dedupe_key, event.payload)


@pytest.fixture
def store_kind() -> str:
    """SQLite unless a test is parametrized over both backends with ``BOTH``."""
    return "sqlite"


#: Runs a test on SQLite and on PostgreSQL (overrides the ``store_kind`` fixture).
BOTH = pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])


@pytest.fixture
def subs(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    for backend in open_backend(store_kind, tmp_path, request):
        yield backend.subscription_store()


def github_reading() -> ConnectorSpec:
    """GitHub's spec with a first poll that reads (``start: read``). GitHub's own trigger starts
    at "now" without reading (tests/test_trigger_cursors.py); these tests exercise the runner's
    reading first poll, its ledger and commits, on GitHub's shapes against the stateful mock."""
    spec = REGISTRY.get("github")
    trigger = spec.triggers.polling[0].model_copy(update={"start": "read"})
    triggers = spec.triggers.model_copy(update={"polling": [trigger]})
    return spec.model_copy(update={"triggers": triggers})


def github_setup(
    subs: SubscriptionStore, **opts: Any
) -> tuple[MockServer, TriggerRunner, Collector, Subscription]:
    spec = github_reading()
    server = MockServer(spec, MockOptions(golden_root=None, records=5, **opts))
    creds = {"token": server.credentials["token"]}
    handler = Collector()
    runner = TriggerRunner(
        subs, factory(spec, server.transport(), creds), handler, clock=lambda: NOW
    )
    sub = subs.add(
        Subscription("", "conn-1", "github", "new_issue", 60, params={"owner": "o", "repo": "r"})
    )
    return server, runner, handler, sub


@BOTH
def test_first_run_starts_from_now_then_new_records_arrive_exactly_once(
    subs: SubscriptionStore,
) -> None:
    server, runner, handler, sub = github_setup(subs)
    first = asyncio.run(runner.run_once(sub.id))
    assert first.delivered == 0 and first.subscription.started and len(first.subscription.seen) == 5
    spec = server.spec
    sync = GenericExecutor(
        spec,
        Connection("github", credentials={"token": server.credentials["token"]}),
        transport=server.transport(),
    )
    created = sync.call("create_issue", {"owner": "o", "repo": "r", "title": "Fresh"})
    second = asyncio.run(runner.run_once(sub.id))
    assert second.delivered == 1
    assert handler.received == [f"github:new_issue:{created['id']}"]
    third = asyncio.run(runner.run_once(sub.id))
    assert third.delivered == 0 and len(handler.received) == 1
    stored = subs.get(sub.id)
    assert stored.delivered == 1 and stored.status == "active" and stored.cursor is not None


@BOTH
def test_backfill_delivers_the_newest_items_on_the_first_run(subs: SubscriptionStore) -> None:
    _server, runner, handler, sub = github_setup(subs)
    subs.save(Subscription(**{**sub.__dict__, "backfill": 2}))
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert len(handler.received) == 2


class CrashingStore(SubscriptionStore):
    """A store whose next commit fails: the process 'dies' between handler and commit."""

    crash_next = False

    def save(self, sub: Subscription) -> None:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("crashed before the commit")
        super().save(sub)


def test_crash_between_handler_and_commit_redelivers_with_the_same_key(tmp_path: Path) -> None:
    subs = CrashingStore(tmp_path / "s.db")
    server, runner, handler, sub = github_setup(subs)
    asyncio.run(runner.run_once(sub.id))
    sync = GenericExecutor(
        server.spec,
        Connection("github", credentials={"token": server.credentials["token"]}),
        transport=server.transport(),
    )
    sync.call("create_issue", {"owner": "o", "repo": "r", "title": "Twice?"})
    subs.crash_next = True
    with pytest.raises(RuntimeError, match="crashed"):
        asyncio.run(runner.run_once(sub.id))
    asyncio.run(runner.run_once(sub.id))
    assert len(handler.received) == 2 and len(set(handler.received)) == 1
    assert len(handler.processed) == 1
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0


def test_rate_limit_backs_off_with_retry_after_and_revoked_token_pauses(
    subs: SubscriptionStore,
) -> None:
    server, runner, _handler, sub = github_setup(subs, scenario="rate_limited", retry_after=900)
    outcome = asyncio.run(runner.run_once(sub.id))
    assert outcome.error is not None and outcome.error.code == "rate_limited"
    stored = subs.get(sub.id)
    assert (
        stored.status == "backing_off" and stored.next_run_at >= NOW + 900 and stored.failures == 1
    )
    server.options.scenario = None
    assert asyncio.run(runner.run_once(sub.id)).error is None
    assert subs.get(sub.id).status == "active" and subs.get(sub.id).failures == 0
    server.credentials = {"token": "rotated-elsewhere"}  # the token no longer works
    paused = asyncio.run(runner.run_once(sub.id)).subscription
    assert paused.status == "paused" and "auth_invalid" in paused.message
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0  # paused stays paused
    runner.resume(sub.id)
    assert subs.get(sub.id).status == "active"


def test_handler_failure_keeps_the_cursor_and_malformed_responses_pause(
    subs: SubscriptionStore,
) -> None:
    server, runner, _handler, sub = github_setup(subs)
    asyncio.run(runner.run_once(sub.id))
    before = subs.get(sub.id)
    sync = GenericExecutor(
        server.spec,
        Connection("github", credentials={"token": server.credentials["token"]}),
        transport=server.transport(),
    )
    sync.call("create_issue", {"owner": "o", "repo": "r", "title": "Boom"})

    def broken(events: list[TriggerEvent]) -> None:
        raise ValueError("handler bug")

    failing = TriggerRunner(
        subs,
        factory(server.spec, server.transport(), {"token": server.credentials["token"]}),
        broken,
        clock=lambda: NOW,
    )
    outcome = asyncio.run(failing.run_once(sub.id))
    after = subs.get(sub.id)
    assert outcome.error is not None and "handler bug" in outcome.error.message
    assert (
        after.cursor == before.cursor
        and after.seen == before.seen
        and after.status == "backing_off"
    )
    server.options.scenario = "malformed"
    paused = asyncio.run(runner.run_once(sub.id)).subscription
    assert paused.status == "paused" and "bad_response" in paused.message


def _timeline_spec() -> ConnectorSpec:
    item = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "updated_at": {"type": "string"}},
    }
    return parse_spec(
        spec_doc(
            [
                {
                    "name": "list_records",
                    "method": "GET",
                    "path": "/records",
                    "parameters": [{"name": "since", "in": "query"}],
                    "output": {"schema": {"type": "array", "items": item}},
                    "pagination": {"style": "link_header", "items_path": ""},
                }
            ],
            triggers={
                "polling": [
                    {
                        "name": "changed_record",
                        "action": "list_records",
                        "cursor": {
                            "kind": "timestamp",
                            "field": "updated_at",
                            "param": "since",
                            "format": "iso8601",
                        },
                        "dedupe_key": "id",
                        "order": "asc",
                        "lookback_seconds": 300,
                    }
                ]
            },
        )
    )


def test_a_record_indexed_late_inside_the_lookback_window_is_delivered_once(
    subs: SubscriptionStore,
) -> None:
    records = [{"id": "r1", "updated_at": "2026-05-01T10:00:00Z"}]
    sent: list[str] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since", "")
        sent.append(since)
        return httpx.Response(200, json=[r for r in records if r["updated_at"] >= since])

    spec = _timeline_spec()
    handler = Collector()
    runner = TriggerRunner(
        subs,
        factory(spec, httpx.MockTransport(vendor), {"api_key": "k_FAKE"}),
        handler,
        clock=lambda: NOW,
    )
    sub = subs.add(Subscription("", "c", "acme", "changed_record", 60))
    asyncio.run(runner.run_once(sub.id))
    records.append({"id": "r2", "updated_at": "2026-05-01T10:05:00Z"})
    records.append({"id": "late", "updated_at": "2026-05-01T09:58:00Z"})  # indexed late
    asyncio.run(runner.run_once(sub.id))
    assert sent[1] == "2026-05-01T09:55:00Z"  # the cursor 10:00 moved back by the lookback
    assert handler.received == ["acme:changed_record:late", "acme:changed_record:r2"]
    asyncio.run(runner.run_once(sub.id))
    assert len(handler.received) == 2  # re-read inside the window, delivered once
    assert subs.get(sub.id).cursor == "2026-05-01T10:05:00Z"


def test_a_stale_sync_token_resyncs_without_duplicates(subs: SubscriptionStore) -> None:
    spec = REGISTRY.get("google_calendar")
    events = [{"id": "e1", "etag": '"1"', "status": "confirmed"}]
    calls: list[dict[str, str]] = []

    def google(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        calls.append(params)
        if params.get("syncToken") == "tok-stale":
            return httpx.Response(
                410,
                json={
                    "error": {
                        "code": 410,
                        "message": "Sync token is no longer valid",
                        "errors": [{"reason": "fullSyncRequired"}],
                    }
                },
            )
        return httpx.Response(
            200,
            json={
                "kind": "calendar#events",
                "items": events,
                "nextSyncToken": "tok-stale" if len(calls) < 3 else "tok-fresh",
            },
        )

    variant = spec.auth[0]
    creds = {f: "FAKE" for f in variant.fields}
    from patchbay.runtime import StaticTokenProvider

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection(
            spec.name,
            auth=variant.name,
            credentials=creds,
            token_provider=StaticTokenProvider("at_FAKE"),
        )
        return spec, AsyncGenericExecutor(
            spec,
            conn,
            transport=httpx.MockTransport(google),
            options=ExecutorOptions(retry=RetryPolicy(max_attempts=1)),
        )

    handler = Collector()
    runner = TriggerRunner(subs, make, handler, clock=lambda: NOW)
    trigger = spec.triggers.polling[0]
    sub = subs.add(
        Subscription("", "c", spec.name, trigger.name, 60, params={"calendarId": "primary"})
    )
    asyncio.run(runner.run_once(sub.id))
    assert subs.get(sub.id).cursor == "tok-stale"
    events.append({"id": "e2", "etag": '"2"', "status": "confirmed"})
    outcome = asyncio.run(runner.run_once(sub.id))
    assert outcome.error is None, outcome.error
    assert [c.get("syncToken") for c in calls] == [None, "tok-stale", None]
    key = trigger.dedupe_key
    assert handler.received == [f"google_calendar:{trigger.name}:{events[1][key]}"]
    assert subs.get(sub.id).cursor == "tok-fresh"


def test_scheduler_runs_due_subscriptions_without_overlap(subs: SubscriptionStore) -> None:
    """Polls take longer than the interval: the scheduler must still never run one subscription
    twice at once, while all subscriptions keep running."""
    spec = github_reading()
    server = MockServer(spec, MockOptions(golden_root=None, records=2))
    in_flight: dict[str, int] = {}
    worst: dict[str, int] = {}
    polls: dict[str, int] = {}

    class SlowVendor(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            repo = request.url.path.split("/")[3]
            in_flight[repo] = in_flight.get(repo, 0) + 1
            worst[repo] = max(worst.get(repo, 0), in_flight[repo])
            await asyncio.sleep(0.03)  # longer than the 0.01 s interval
            in_flight[repo] -= 1
            polls[repo] = polls.get(repo, 0) + 1
            await request.aread()
            return server.handler(request)

    registry = CollectorRegistry()
    runner = TriggerRunner(
        subs,
        factory(spec, SlowVendor(), {"token": server.credentials["token"]}),
        Collector(),
        jitter=0.0,
        metrics_registry=registry,
    )
    repos = [f"r{i}" for i in range(5)]
    for repo in repos:
        subs.add(
            Subscription("", repo, "github", "new_issue", 0.01, params={"owner": "o", "repo": repo})
        )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop=stop, tick_seconds=0.005))
        async with asyncio.timeout(30):  # a hang guard, not a speed assertion
            while not all(polls.get(r, 0) >= 3 for r in repos):
                await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert set(worst) == set(repos)
    assert all(worst[r] == 1 for r in repos), worst
    assert all(subs.get(s.id).started for s in subs.list())
    assert runner.lag  # the scheduler measured how late each run started
    labels = {"connector": "github", "trigger": "new_issue"}
    observed = registry.get_sample_value("patchbay_trigger_schedule_lag_seconds_count", labels)
    assert observed == len(runner.lag)


def test_events_carry_typed_payload_fields_and_the_cli_lists_subscriptions(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from patchbay.cli import main

    db = tmp_path / "t.db"
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "triggers",
            "add",
            "conn-9",
            "github",
            "new_issue",
            "--param",
            "owner=o",
            "--param",
            "repo=r",
            "--store",
            str(db),
        ],
    )
    assert added.exit_code == 0, added.output
    sub_id = added.output.split()[-1]
    listed = runner.invoke(main, ["triggers", "list", "--store", str(db)])
    assert (
        sub_id in listed.output and "github.new_issue" in listed.output and "300" in listed.output
    )
    assert json.loads(runner.invoke(main, ["triggers", "show", sub_id, "--store", str(db)]).output)[
        "params"
    ] == {"owner": "o", "repo": "r"}
    assert runner.invoke(main, ["triggers", "remove", sub_id, "--store", str(db)]).exit_code == 0
    assert sub_id not in runner.invoke(main, ["triggers", "list", "--store", str(db)]).output


WITH_TRIGGERS = [n for n in REGISTRY.names() if REGISTRY.get(n).triggers.polling]


def _required_params(spec: ConnectorSpec, trigger_name: str) -> dict[str, Any]:
    from patchbay.mocks.synthesis import rng_for, synthesize
    from patchbay.runtime.http._validation import input_schema

    trigger = next(t for t in spec.triggers.polling if t.name == trigger_name)
    schema = input_schema(spec.action(trigger.action), spec.defs)
    out: dict[str, Any] = {}
    for name in schema.get("required", []):
        if name in trigger.input:
            continue
        prop = schema["properties"][name]
        kind = prop.get("type")
        if "pattern" in prop:  # an id with a declared shape (Airtable's app + 14 characters)
            out[name] = synthesize(prop, dict(spec.defs), rng_for(0, name))
        else:
            out[name] = 1 if kind == "integer" else f"mock_{name}"
    return out


def _mock_runner(
    spec: ConnectorSpec,
    subs: SubscriptionStore,
    handler: Collector,
    *,
    records: int,
    **options: Any,
) -> tuple[MockServer, TriggerRunner]:
    """A runner whose executors talk to the spec's stateful mock with ``records`` records."""
    from patchbay.runtime import StaticTokenProvider

    variables = {
        v: (
            var.example or "https://mock.test"
            if spec.connection.base_url.startswith("{" + v + "}")
            else (var.default or var.example or (var.enum[0] if var.enum else f"mock_{v}"))
        )
        for v, var in spec.connection.variables.items()
    }
    server = MockServer(spec, MockOptions(golden_root=None, records=records, variables=variables))
    variant = spec.auth[0]

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection(
            spec.name,
            auth=variant.name,
            variables=variables,
            credentials={f: server.credentials[f] for f in variant.fields},
            token_provider=StaticTokenProvider("mock_access_token"),
        )
        return spec, AsyncGenericExecutor(
            spec,
            conn,
            transport=server.transport(),
            options=ExecutorOptions(retry=RetryPolicy(max_attempts=1)),
        )

    return server, TriggerRunner(subs, make, handler, clock=lambda: NOW, **options)


@pytest.mark.parametrize("name", WITH_TRIGGERS)
def test_every_polling_trigger_delivers_new_records_exactly_once(
    name: str, subs: SubscriptionStore
) -> None:
    spec = REGISTRY.get(name)
    trigger = spec.triggers.polling[0]
    handler = Collector()
    # A trigger that starts at "now" reads nothing first, and the mock does not filter by time:
    # there, the vendor's history is empty when the subscription starts.
    existing = 0 if trigger.start == "now" else 4
    server, runner = _mock_runner(spec, subs, handler, records=existing)
    sub = subs.add(
        Subscription("", "c", name, trigger.name, 60, params=_required_params(spec, trigger.name))
    )
    first = asyncio.run(runner.run_once(sub.id))
    assert first.error is None, first.error
    assert first.delivered == 0 and first.subscription.started
    assert first.subscription.message == ""
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0
    server.options.records = existing + 2  # two records appear at the vendor
    second = asyncio.run(runner.run_once(sub.id))
    assert second.error is None and second.delivered == 2
    assert len(set(handler.received)) == 2
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0


def test_a_poll_cut_by_the_item_cap_says_so_in_the_status(subs: SubscriptionStore) -> None:
    """Pipedrive's deals are read newest first with no filter: a poll that stops at the cap
    cannot resume where it stopped, and the subscription's status line says so instead of
    losing records silently."""
    spec = REGISTRY.get("pipedrive")
    trigger = spec.triggers.polling[0]
    server, runner = _mock_runner(spec, subs, Collector(), records=12, max_items=5)
    sub = subs.add(Subscription("", "c", "pipedrive", trigger.name, 60))
    outcome = asyncio.run(runner.run_once(sub.id))
    assert outcome.error is None and outcome.subscription.status == "active"
    assert "stopped at the 5-item cap" in outcome.subscription.message
    assert "stopped at the 5-item cap" in subs.get(sub.id).message
    server.options.records = 3  # fewer records than the cap: the warning goes away
    assert asyncio.run(runner.run_once(sub.id)).subscription.message == ""


def test_one_per_event_handler_serves_polling_too(subs: SubscriptionStore) -> None:
    spec = github_reading()
    server = MockServer(spec, MockOptions(golden_root=None, records=3))
    seen: list[TriggerEvent] = []
    runner = TriggerRunner(
        subs,
        factory(spec, server.transport(), {"token": server.credentials["token"]}),
        per_event(seen.append),
        clock=lambda: NOW,
    )
    sub = subs.add(
        Subscription(
            "", "c", "github", "new_issue", 60, params={"owner": "o", "repo": "r"}, backfill=2
        )
    )
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert [e.connector for e in seen] == ["github", "github"] and all(
        isinstance(e, TriggerEvent) for e in seen
    )


def test_polls_and_events_are_counted_by_outcome(subs: SubscriptionStore) -> None:
    registry = CollectorRegistry()
    spec = github_reading()
    server = MockServer(spec, MockOptions(golden_root=None, records=3))
    failing = {"on": False}

    def handler(events: list[TriggerEvent]) -> None:
        if failing["on"]:
            raise RuntimeError("downstream is down")

    runner = TriggerRunner(
        subs,
        factory(spec, server.transport(), {"token": server.credentials["token"]}),
        handler,
        clock=lambda: NOW,
        metrics_registry=registry,
    )
    sub = subs.add(
        Subscription("", "c", "github", "new_issue", 60, params={"owner": "o", "repo": "r"})
    )

    def polls(outcome: str) -> float:
        labels = {"connector": "github", "trigger": "new_issue", "outcome": outcome}
        return registry.get_sample_value("patchbay_trigger_polls_total", labels) or 0.0

    def events() -> float:
        labels = {"connector": "github", "trigger": "new_issue"}
        return registry.get_sample_value("patchbay_trigger_events_total", labels) or 0.0

    asyncio.run(runner.run_once(sub.id))
    server.options.records = 5
    asyncio.run(runner.run_once(sub.id))
    assert polls("ok") == 2 and events() == 2
    server.options.records = 6
    failing["on"] = True
    asyncio.run(runner.run_once(sub.id))
    assert polls("handler_failed") == 1 and events() == 2
    server.options.scenario = "rate_limited"
    asyncio.run(runner.run_once(subs.get(sub.id).id))
    assert polls("rate_limited") == 1


def test_a_poll_still_unwinding_when_its_subscription_is_claimed_again_outlives_nothing(
    subs: SubscriptionStore,
) -> None:
    """A poll cancelled for a lost lease can take a moment to unwind (an async store call
    finishing its round trip) while its subscription is claimed again. The new poll keeps its
    place (it is renewed, and cancelled at stop), and nothing is left running after ``run``:
    a poll left behind would go on using the store after its owner closed it."""
    sub = Subscription("s-unwind", "c", "github", "new_issue", 60)
    claims = 0
    unwinding = asyncio.Event()

    class SlowLeases:
        async def claim_due(
            self, owner: str, now: float, limit: int, lease_seconds: float
        ) -> list[Subscription]:
            # Claimed once, and once more while the first poll is still unwinding.
            nonlocal claims
            if claims == 0 or (claims == 1 and unwinding.is_set()):
                claims += 1
                return [sub]
            return []

        async def get(self, sub_id: str) -> Subscription:
            try:
                await asyncio.sleep(0.3)  # a slow round trip
            except asyncio.CancelledError:
                unwinding.set()
                await asyncio.sleep(0.1)  # the statement in flight completes first
                raise
            return sub

        async def renew(self, owner: str, ids: Any, lease_seconds: float) -> set[str]:
            # The first poll's lease is lost (so it is cancelled); the second's holds.
            return set(ids) if unwinding.is_set() else set()

        async def next_due(self) -> float | None:
            return None

        async def save(self, sub: Subscription) -> None:
            raise AssertionError("no poll gets that far")

        async def finish(self, sub: Subscription, owner: str) -> bool:
            raise AssertionError("no poll gets that far")

        async def release(self, owner: str, ids: Any) -> None:
            return None

        async def aclose(self) -> None:
            return None

    def no_executor(connection_id: str) -> Any:
        raise AssertionError("no poll gets that far")

    runner = TriggerRunner(subs, no_executor, Collector(), leases=SlowLeases())

    async def main() -> list[asyncio.Task[Any]]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        async with asyncio.timeout(30):  # a hang guard, not a speed assertion
            await runner.run(stop=stop, lease_seconds=0.03, idle_seconds=0.01)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(main()) == []
    assert claims == 2
