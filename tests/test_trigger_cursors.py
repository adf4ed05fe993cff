"""Cursors written into query expressions, converted formats, {now}, and the item cap.

Salesforce and Drive filter on a creation time inside a query language (SOQL, Drive's q), so
their triggers template the cursor into an input instead of setting one parameter.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import spec_doc

from patchbay.mocks.server import default_credentials
from patchbay.runtime import (
    AsyncGenericExecutor,
    Connection,
    ExecutorOptions,
    RetryPolicy,
    StaticTokenProvider,
    parse_spec,
)
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._loading import SpecInvalid
from patchbay.runtime.spec._model import ConnectorSpec, PollingCursor
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.triggers._polling import poll_input, shift, write_cursor
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore, TriggerRunner

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.fixture
def subs(tmp_path: Path) -> SubscriptionStore:
    return SubscriptionStore(tmp_path / "subs.db")


def _trigger(connector: str) -> Any:
    return REGISTRY.get(connector).triggers.polling[0]


def test_salesforce_polls_a_soql_query_after_the_cursor() -> None:
    trigger = _trigger("salesforce")
    first = poll_input(trigger, None)
    assert first == {"q": trigger.input["q"]} and "ORDER BY CreatedDate DESC" in first["q"]
    later = poll_input(trigger, "2024-05-01T10:00:00.750+0000")
    assert later["q"] == (
        "SELECT Id, Name, CreatedDate FROM Account WHERE CreatedDate >= 2024-05-01T10:00:00Z "
        "ORDER BY CreatedDate ASC"
    )


def test_drive_filters_on_created_time_and_keeps_its_field_mask() -> None:
    trigger = _trigger("google_drive")
    assert "q" not in poll_input(trigger, None)
    data = poll_input(trigger, "2026-03-02T09:30:15.123Z")
    assert data["q"] == "createdTime >= '2026-03-02T09:30:15Z' and trashed = false"
    assert data["orderBy"] == "createdTime"
    assert "createdTime" in data["fields"] and data["fields"].startswith("nextPageToken,")


@pytest.mark.parametrize(
    ("fmt", "write_as", "value", "written"),
    [
        ("iso8601", "iso8601", "2024-05-01T12:00:00.999+02:00", "2024-05-01T10:00:00Z"),
        ("iso8601", "epoch_milliseconds", "2024-05-01T10:00:00.5Z", "1714557600500"),
        ("rfc2822", "date", "Mon, 13 Aug 2018 23:08:40 +0000", "2018-08-13"),
        ("rfc2822", "iso8601", "Tue, 14 Aug 2018 01:08:40 +0200", "2018-08-13T23:08:40Z"),
        ("epoch_seconds", "iso8601", 1714557600, "2024-05-01T10:00:00Z"),
        ("epoch_milliseconds", "epoch_seconds", 1714557600999, "1714557600"),
        ("iso8601", "stored", "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.5Z"),
    ],
)
def test_cursors_are_written_as_the_vendor_reads_them_rounded_down(
    fmt: str, write_as: str, value: Any, written: str
) -> None:
    cursor = PollingCursor.model_validate(
        {"kind": "timestamp", "field": "t", "format": fmt, "write_as": write_as}
    )
    assert write_cursor(value, cursor) == written


def test_lookback_shifts_a_cursor_in_its_own_format() -> None:
    def cursor(fmt: str) -> PollingCursor:
        return PollingCursor.model_validate({"kind": "timestamp", "field": "t", "format": fmt})

    assert shift("Mon, 13 Aug 2018 23:08:40 +0000", cursor("rfc2822"), 60) == (
        "Mon, 13 Aug 2018 23:07:40 +0000"
    )
    assert shift("2018-08-13T23:08:40+02:00", cursor("iso8601"), 40) == "2018-08-13T21:08:00Z"
    assert shift(1_714_557_600_000, cursor("epoch_milliseconds"), 1.5) == 1_714_557_598_500


def _acme(trigger: dict[str, Any], **extra: Any) -> ConnectorSpec:
    item = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "at": {"type": "string"}},
    }
    return parse_spec(
        spec_doc(
            [
                {
                    "name": "export",
                    "method": "GET",
                    "path": "/export",
                    "parameters": [
                        {"name": "start_time", "in": "query", "schema": {"type": "integer"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "output": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": item},
                                "after": {"type": "string"},
                            },
                        }
                    },
                    "pagination": {
                        "style": "cursor",
                        "items_path": "items",
                        "cursor_param": "cursor",
                        "next_cursor_path": "after",
                    },
                }
            ],
            triggers={"polling": [{"name": "changes", "action": "export", **trigger}]},
            **extra,
        )
    )


def test_now_fills_the_first_request_and_null_drops_it_once_a_token_exists() -> None:
    spec = _acme(
        {
            "input": {"start_time": "{now}"},
            "cursor": {
                "kind": "sync_token",
                "token_path": "after",
                "input": {"start_time": None, "cursor": "{cursor}"},
            },
            "lookback_seconds": 60,
        }
    )
    trigger = spec.triggers.polling[0]
    assert poll_input(trigger, None, now=NOW) == {"start_time": int(NOW) - 60}
    assert poll_input(trigger, "tok_2", now=NOW) == {"cursor": "tok_2"}


def test_a_template_name_nothing_fills_is_a_spec_error_with_its_pointer() -> None:
    broken = [
        (
            {"input": {"cursor": "{cursr}"}, "cursor": {"kind": "id", "field": "id"}},
            "/triggers/polling/0/input/cursor",
            "{cursr} is not filled here (only {now})",
        ),
        (
            {"cursor": {"kind": "id", "field": "id", "input": {"cursor": "x{when}"}}},
            "/triggers/polling/0/cursor/input/cursor",
            "{when} is not filled here (only {cursor} and {now})",
        ),
        (
            {"cursor": {"kind": "id", "field": "id", "action": "exprt"}},
            "/triggers/polling/0/cursor/action",
            "action 'exprt' does not exist",
        ),
        (
            {"cursor": {"kind": "id", "field": "id", "write_as": "date"}},
            "/triggers/polling/0/cursor/write_as",
            "converting needs a timestamp format",
        ),
        (
            {"cursor": {"kind": "timestamp", "field": "at", "stale_codes": ["reset/"]}},
            "/triggers/polling/0/cursor",
            "only a sync_token cursor can be declared stale",
        ),
        (
            {
                "cursor": {"kind": "id", "field": "id"},
                "where": [{"path": "pull_request", "exists": False}],
            },
            "/triggers/polling/0/where/0/path",
            "'pull_request' is not in the item schema of 'export'",
        ),
        (
            {"cursor": {"kind": "id", "field": "id", "input": {"start_time": None}}},
            "/triggers/polling/0/cursor/input/start_time",
            "null removes 'start_time', but the trigger's input does not set it",
        ),
        (
            {"cursor": {"kind": "id", "field": "id", "input": {"limit": "{cursor}"}}},
            "/triggers/polling/0/cursor/input/limit",
            "'limit' is not an input of 'export'",
        ),
    ]
    for trigger, pointer, message in broken:
        with pytest.raises(SpecInvalid) as caught:
            parse_spec(_acme_doc(trigger), "acme.json")
        assert f"acme.json: {pointer}: {message}" in str(caught.value), str(caught.value)


def _acme_doc(trigger: dict[str, Any]) -> dict[str, Any]:
    spec = _acme({"cursor": {"kind": "id", "field": "id"}})
    doc = spec_doc([a.model_dump(by_alias=True, exclude_defaults=True) for a in spec.actions])
    doc["triggers"] = {"polling": [{"name": "changes", "action": "export", **trigger}]}
    return doc


def test_an_unfilled_cursor_template_is_refused_at_poll_time() -> None:
    trigger = _trigger("salesforce").model_copy(update={"input": {"q": "{cursor}"}})
    with pytest.raises(ConfigError, match=r"nothing fills \{cursor\}"):
        poll_input(trigger, None)


# ------------------------------------------------------------------ the runner, end to end


class Salesforce:
    """Answers SOQL like Salesforce would for this query shape: newest-first without a WHERE,
    CreatedDate >= literal ascending with one."""

    def __init__(self) -> None:
        self.accounts: list[dict[str, Any]] = []
        self.queries: list[str] = []

    def add(self, n: int, created: str) -> None:
        self.accounts.append(
            {
                "attributes": {"type": "Account", "url": f"/sobjects/Account/001{n:015d}"},
                "Id": f"001{n:015d}",
                "Name": f"Account {n}",
                "CreatedDate": created,
            }
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer sf_FAKE_token"
        q = request.url.params["q"]
        self.queries.append(q)
        rows = sorted(self.accounts, key=lambda r: r["CreatedDate"])
        if " WHERE CreatedDate >= " in q:
            literal = q.split(" WHERE CreatedDate >= ")[1].split(" ")[0]
            bound = literal.replace("Z", ".000+0000")
            rows = [r for r in rows if r["CreatedDate"] >= bound]
        else:
            rows = rows[::-1]
        return httpx.Response(200, json={"totalSize": len(rows), "done": True, "records": rows})


def _salesforce_runner(
    subs: SubscriptionStore, vendor: Salesforce, received: list[str], **options: Any
) -> TriggerRunner:
    spec = REGISTRY.get("salesforce")

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        conn = Connection(
            "salesforce",
            auth=spec.auth[0].name,
            variables={"instance_url": "https://acme.my.salesforce.com"},  # never reached
            token_provider=StaticTokenProvider("sf_FAKE_token"),
        )
        return spec, AsyncGenericExecutor(
            spec,
            conn,
            transport=httpx.MockTransport(vendor),
            options=ExecutorOptions(retry=RetryPolicy(max_attempts=1)),
        )

    def handler(events: list[Any]) -> None:
        received.extend(e.payload["Id"] for e in events)

    return TriggerRunner(subs, make, handler, clock=lambda: NOW, **options)


def test_salesforce_trigger_reads_only_accounts_created_after_the_cursor(
    subs: SubscriptionStore,
) -> None:
    vendor = Salesforce()
    vendor.add(1, "2026-05-01T10:00:00.000+0000")
    vendor.add(2, "2026-05-01T10:00:07.000+0000")
    received: list[str] = []
    runner = _salesforce_runner(subs, vendor, received)
    sub = subs.add(Subscription("", "c", "salesforce", "new_account", 60))
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0  # the first poll starts from now
    assert "WHERE" not in vendor.queries[0]
    assert subs.get(sub.id).cursor == "2026-05-01T10:00:07.000+0000"
    vendor.add(3, "2026-05-01T10:00:07.000+0000")  # created later in the cursor's second
    vendor.add(4, "2026-05-01T11:00:00.000+0000")
    outcome = asyncio.run(runner.run_once(sub.id))
    assert "WHERE CreatedDate >= 2026-05-01T10:00:07Z ORDER BY CreatedDate ASC" in vendor.queries[1]
    assert outcome.delivered == 2 and received == ["001000000000000003", "001000000000000004"]
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0
    assert subs.get(sub.id).cursor == "2026-05-01T11:00:00.000+0000"


def test_an_ascending_narrowed_poll_cut_by_the_cap_resumes_without_a_warning(
    subs: SubscriptionStore,
) -> None:
    vendor = Salesforce()
    vendor.add(1, "2026-05-01T10:00:00.000+0000")
    received: list[str] = []
    runner = _salesforce_runner(subs, vendor, received, max_items=3)
    sub = subs.add(Subscription("", "c", "salesforce", "new_account", 60))
    asyncio.run(runner.run_once(sub.id))
    for n, minute in ((2, 1), (3, 2), (4, 3)):
        vendor.add(n, f"2026-05-01T10:0{minute}:00.000+0000")
    cut = asyncio.run(runner.run_once(sub.id))  # reads account 1 again (>=), then 2 and 3
    assert cut.delivered == 2 and cut.subscription.message == ""
    assert asyncio.run(runner.run_once(sub.id)).delivered == 1
    assert received == ["001000000000000002", "001000000000000003", "001000000000000004"]


# ----------------------------------------------- HubSpot search, Zendesk newest first, Twilio


def _runner_for(
    connector: str,
    subs: SubscriptionStore,
    vendor: Any,
    received: list[Any],
    variables: dict[str, str] | None = None,
    credentials: dict[str, str] | None = None,
    **options: Any,
) -> TriggerRunner:
    spec = REGISTRY.get(connector)

    def make(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        variant = spec.auth[0]
        conn = Connection(
            connector,
            auth=variant.name,
            variables=variables or {},
            credentials=credentials
            or {f: v for f, v in default_credentials(spec).items() if f in variant.fields},
            token_provider=StaticTokenProvider("FAKE_access_token"),
        )
        return spec, AsyncGenericExecutor(
            spec,
            conn,
            transport=httpx.MockTransport(vendor),
            options=ExecutorOptions(retry=RetryPolicy(max_attempts=1)),
        )

    def handler(events: list[Any]) -> None:
        received.extend(e.dedupe_key for e in events)

    return TriggerRunner(subs, make, handler, clock=lambda: NOW, **options)


class HubSpotSearch:
    """CRM search over contacts: createdate GTE filter (epoch ms string), one sort, body paging."""

    def __init__(self) -> None:
        self.contacts: list[dict[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []

    def add(self, n: int, created: str) -> None:
        self.contacts.append(
            {
                "id": str(n),
                "properties": {"createdate": created, "hs_object_id": str(n)},
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
            }
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/crm/objects/2026-03/contacts/search"
        body = json.loads(request.content)
        self.bodies.append(body)
        rows = list(self.contacts)
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                assert f["propertyName"] == "createdate" and f["operator"] == "GTE"
                rows = [
                    r
                    for r in rows
                    if _epoch_ms(r["createdAt"]) >= int(f["value"])  # a string, as HubSpot says
                ]
        (sort,) = body["sorts"]
        rows.sort(key=lambda r: r["createdAt"], reverse=sort["direction"] == "DESCENDING")
        start = int(body.get("after", "0"))
        page = rows[start : start + body.get("limit", 10)]
        out: dict[str, Any] = {"total": len(rows), "results": page}
        if start + len(page) < len(rows):
            out["paging"] = {"next": {"after": str(start + len(page))}}
        return httpx.Response(200, json=out)


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_hubspot_new_contact_searches_on_createdate_after_the_cursor_minus_lookback(
    subs: SubscriptionStore,
) -> None:
    vendor = HubSpotSearch()
    vendor.add(1, "2026-05-01T10:00:00.000Z")
    vendor.add(2, "2026-05-01T10:05:00.250Z")
    received: list[Any] = []
    runner = _runner_for("hubspot", subs, vendor, received)
    sub = subs.add(Subscription("", "c", "hubspot", "new_contact", 60))
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0
    first = vendor.bodies[0]
    assert "filterGroups" not in first and first["sorts"][0]["direction"] == "DESCENDING"
    assert subs.get(sub.id).cursor == "2026-05-01T10:05:00.250Z"
    vendor.add(3, "2026-05-01T10:04:00.000Z")  # indexed late, inside the 120 s lookback
    vendor.add(4, "2026-05-01T10:09:00.000Z")
    asyncio.run(runner.run_once(sub.id))
    second = vendor.bodies[-1]
    (flt,) = second["filterGroups"][0]["filters"]
    assert flt["value"] == str(_epoch_ms("2026-05-01T10:03:00.250Z"))  # the cursor - 120 s
    assert second["sorts"] == [{"propertyName": "createdate", "direction": "ASCENDING"}]
    assert received == ["hubspot:new_contact:3", "hubspot:new_contact:4"]
    asyncio.run(runner.run_once(sub.id))
    assert len(received) == 2


class ZendeskTickets:
    """GET /tickets with cursor pagination and sort=-id: newest first, links.next."""

    def __init__(self, count: int) -> None:
        self.ids = list(range(1, count + 1))
        self.requests: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url)
        assert request.url.params["sort"] == "-id"
        size = int(request.url.params["page[size]"])
        ordered = sorted(self.ids, reverse=True)
        after = request.url.params.get("page[after]")
        start = 0 if after is None else ordered.index(int(after)) + 1
        page = ordered[start : start + size]
        more = start + size < len(ordered)
        nxt = f"{request.url.copy_set_param('page[after]', str(page[-1]))}" if more else None
        return httpx.Response(
            200,
            json={
                "tickets": [{"id": i, "subject": f"t{i}", "status": "new"} for i in page],
                "meta": {"has_more": more, "after_cursor": None, "before_cursor": None},
                "links": {"next": nxt, "prev": None},
            },
        )


def test_zendesk_reads_newest_first_and_stops_at_the_page_that_reaches_the_cursor(
    subs: SubscriptionStore,
) -> None:
    vendor = ZendeskTickets(250)
    received: list[Any] = []
    runner = _runner_for("zendesk", subs, vendor, received, variables={"subdomain": "acme"})
    sub = subs.add(Subscription("", "c", "zendesk", "new_ticket", 60))
    asyncio.run(runner.run_once(sub.id))
    assert len(vendor.requests) == 3  # the first poll has no cursor: it reads everything
    assert subs.get(sub.id).cursor == 250
    vendor.ids += [251, 252]
    before = len(vendor.requests)
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert len(vendor.requests) - before == 1  # page 1 already holds older tickets: stop
    assert received == ["zendesk:new_ticket:251", "zendesk:new_ticket:252"]


def test_twilio_writes_its_rfc2822_cursor_as_a_gmt_date_filter() -> None:
    trigger = _trigger("twilio")
    assert poll_input(trigger, None) == {}
    assert poll_input(trigger, "Tue, 14 Aug 2018 01:08:40 +0200") == {"DateSent>": "2018-08-13"}


class GitHubIssues:
    """GET /repos/{owner}/{repo}/issues with since (updated at or after), oldest updated first."""

    def __init__(self) -> None:
        self.issues: list[dict[str, Any]] = []
        self.sent: list[str | None] = []

    def add(self, n: int, updated: str, *, pull: bool = False) -> None:
        issue: dict[str, Any] = {"id": n, "number": n, "title": f"issue {n}", "updated_at": updated}
        if pull:  # GitHub lists pull requests among issues, marked by this object
            issue["pull_request"] = {"url": f"https://api.github.com/repos/octo/demo/pulls/{n}"}
        self.issues.append(issue)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since")
        self.sent.append(since)
        rows = sorted(self.issues, key=lambda i: i["updated_at"])
        if since is not None:
            rows = [i for i in rows if i["updated_at"] >= since]
        return httpx.Response(200, json=rows)


def test_a_list_read_oldest_first_starts_at_now_without_reading_history(
    subs: SubscriptionStore,
) -> None:
    vendor = GitHubIssues()
    for n in range(1, 4):
        vendor.add(n, f"2026-12-0{n}T10:00:00Z")  # history: older than the subscription
    received: list[Any] = []
    runner = _runner_for("github", subs, vendor, received)
    params = {"owner": "octo", "repo": "demo"}
    sub = subs.add(Subscription("", "c", "github", "new_issue", 60, params=params, backfill=5))
    first = asyncio.run(runner.run_once(sub.id))
    assert vendor.sent == [] and first.delivered == 0  # nothing read: history is not "new"
    assert first.subscription.cursor == "2027-01-15T08:00:00Z"  # NOW
    assert "backfill is not available for new_issue" in first.subscription.message
    vendor.add(4, "2027-01-15T08:00:30Z")
    vendor.add(5, "2027-01-15T08:00:45Z", pull=True)
    assert asyncio.run(runner.run_once(sub.id)).delivered == 1
    assert vendor.sent == ["2027-01-15T08:00:00Z"] and received == ["github:new_issue:4"]
    assert subs.get(sub.id).cursor == "2027-01-15T08:00:45Z"  # the pull request moved it


def test_starting_at_now_needs_a_timestamp_cursor() -> None:
    doc = _acme_doc({"start": "now", "cursor": {"kind": "id", "field": "id"}})
    with pytest.raises(SpecInvalid, match="/triggers/polling/0/start: starting at 'now' needs"):
        parse_spec(doc, "acme.json")


def _feed() -> ConnectorSpec:
    """A change feed in Dropbox's manner: one action hands out the latest cursor, another
    returns what changed since a cursor, and a 409 'reset/...' says the cursor is stale."""
    entry = {"type": "object", "properties": {"id": {"type": "string"}}}
    return parse_spec(
        spec_doc(
            [
                {
                    "name": "latest_cursor",
                    "method": "GET",
                    "path": "/latest",
                    "parameters": [{"name": "folder", "in": "query", "required": True}],
                    "output": {
                        "schema": {"type": "object", "properties": {"cursor": {"type": "string"}}}
                    },
                },
                {
                    "name": "changes",
                    "method": "GET",
                    "path": "/changes",
                    "parameters": [{"name": "cursor", "in": "query", "required": True}],
                    "output": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "entries": {"type": "array", "items": entry},
                                "cursor": {"type": "string"},
                            },
                        }
                    },
                    "pagination": {
                        "style": "cursor",
                        "items_path": "entries",
                        "cursor_param": "cursor",
                        "next_cursor_path": "cursor",
                        "stop_on_empty_page": True,
                    },
                },
            ],
            errors={
                "vendor_code_path": "error_summary",
                "rules": [{"when": {"status": [409]}, "code": "conflict", "retryable": False}],
            },
            triggers={
                "polling": [
                    {
                        "name": "changed",
                        "action": "latest_cursor",
                        "input": {"folder": "/docs"},
                        "cursor": {
                            "kind": "sync_token",
                            "token_path": "cursor",
                            "action": "changes",
                            "input": {"folder": None, "cursor": "{cursor}"},
                            "stale_codes": ["reset/"],
                        },
                        "dedupe_key": "id",
                        "order": "unordered",
                    }
                ]
            },
        )
    )


def test_a_follow_up_action_polls_changes_and_a_reset_code_resyncs(
    subs: SubscriptionStore,
) -> None:
    spec = _feed()
    calls: list[str] = []
    state = {"reset": False}

    def vendor(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.path}?{request.url.query.decode()}")
        if request.url.path == "/v1/latest":
            return httpx.Response(200, json={"cursor": "c-latest"})
        cursor = request.url.params["cursor"]
        if state["reset"] and cursor == "c-2":
            return httpx.Response(
                409, json={"error_summary": "reset/..", "error": {".tag": "reset"}}
            )
        following = {"c-latest": ("c-1", ["a", "b"]), "c-1": ("c-2", []), "c-2": ("c-2", [])}
        nxt, ids = following[cursor]
        return httpx.Response(200, json={"entries": [{"id": i} for i in ids], "cursor": nxt})

    received: list[str] = []
    runner = TriggerRunner(
        subs,
        lambda _c: (
            spec,
            AsyncGenericExecutor(
                spec,
                Connection("acme", credentials={"api_key": "k_FAKE"}),
                transport=httpx.MockTransport(vendor),
                options=ExecutorOptions(retry=RetryPolicy(max_attempts=1)),
            ),
        ),
        lambda events: received.extend(e.dedupe_key for e in events),
        clock=lambda: NOW,
    )
    sub = subs.add(Subscription("", "c", "acme", "changed", 60))
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0
    assert calls == ["/v1/latest?folder=%2Fdocs"] and subs.get(sub.id).cursor == "c-latest"
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert calls[1] == "/v1/changes?cursor=c-latest"  # no folder: null dropped it
    assert received == ["acme:changed:a", "acme:changed:b"]
    asyncio.run(runner.run_once(sub.id))  # c-1 -> c-2, nothing new
    state["reset"] = True
    resynced = asyncio.run(runner.run_once(sub.id))
    assert resynced.error is None and calls[-1] == "/v1/latest?folder=%2Fdocs"
    assert subs.get(sub.id).cursor == "c-latest" and len(received) == 2


class GoogleCalendar:
    """events.list: pageToken paging, nextSyncToken only on the last page of a full sync; a
    syncToken returns what changed since it."""

    def __init__(self, count: int) -> None:
        self.events = [f"e{n:03d}" for n in range(count)]
        self.synced_at: dict[str, int] = {}
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.calls.append(params)
        size = min(int(params.get("maxResults", "250")), 25)  # Google may send fewer
        token = params.get("syncToken")
        start = self.synced_at[token] if token else 0
        offset = int(params.get("pageToken", "0"))
        rows = self.events[start:][offset : offset + size]
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "items": [{"id": e, "etag": f'"{e}-1"', "status": "confirmed"} for e in rows],
        }
        if offset + size < len(self.events) - start:
            body["nextPageToken"] = str(offset + size)
        else:
            token = f"sync-{len(self.events)}"
            self.synced_at[token] = len(self.events)
            body["nextSyncToken"] = token
        return httpx.Response(200, json=body)


def test_a_full_sync_reads_past_the_item_cap_to_get_its_token(subs: SubscriptionStore) -> None:
    """Google hands out nextSyncToken on the last page only: a first poll stopped by the item
    cap would never get one and would re-read the same events forever."""
    vendor = GoogleCalendar(120)
    received: list[Any] = []
    runner = _runner_for("google_calendar", subs, vendor, received, max_items=50, ledger_size=40)
    sub = subs.add(
        Subscription("", "c", "google_calendar", "changed_event", 60, params={"calendarId": "c1"})
    )
    first = asyncio.run(runner.run_once(sub.id))
    assert first.error is None and first.delivered == 0
    assert first.subscription.cursor == "sync-120" and first.subscription.message == ""
    assert len(first.subscription.seen) == 40  # the ledger keeps the newest keys only
    vendor.events += ["e120", "e121"]
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert vendor.calls[-1]["syncToken"] == "sync-120"
    assert received == [
        'google_calendar:changed_event:"e120-1"',
        'google_calendar:changed_event:"e121-1"',
    ]


def test_dropbox_follows_changes_with_its_kept_cursor_and_relists_after_a_reset(
    subs: SubscriptionStore,
) -> None:
    from patchbay.mocks.server import MockOptions, MockServer

    spec = REGISTRY.get("dropbox")
    server = MockServer(spec, MockOptions(golden_root=None, records=3))
    paths: list[str] = []
    reset = {"on": False}

    def vendor(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if reset["on"] and request.url.path.endswith("/list_folder/continue"):
            body = {"error_summary": "reset/...", "error": {".tag": "reset"}}
            return httpx.Response(409, json=body)
        return server.handler(request)

    received: list[Any] = []
    runner = _runner_for("dropbox", subs, vendor, received, credentials=server.credentials)
    sub = subs.add(Subscription("", "c", "dropbox", "changed_file", 60, params={"path": "/docs"}))
    assert asyncio.run(runner.run_once(sub.id)).delivered == 0
    assert paths == ["/2/files/list_folder"] and subs.get(sub.id).cursor == "mock-cursor-3"
    server.options.records = 5  # two files change
    assert asyncio.run(runner.run_once(sub.id)).delivered == 2
    assert paths[-1] == "/2/files/list_folder/continue"
    continued = server.requests[-1]
    assert json.loads(continued.body) == {"cursor": "mock-cursor-3"}  # path, recursive dropped
    reset["on"] = True
    relisted = asyncio.run(runner.run_once(sub.id))
    assert relisted.error is None and paths[-1] == "/2/files/list_folder"
    assert relisted.delivered == 0 and len(received) == 2  # the ledger knew them all
    assert subs.get(sub.id).cursor == "mock-cursor-5"


def test_a_capped_poll_that_cannot_move_its_cursor_says_so(subs: SubscriptionStore) -> None:
    """More accounts than the cap created in one second: >= reads the same page again, and the
    status line must say the poll is cut instead of pretending it resumes."""
    vendor = Salesforce()
    vendor.add(1, "2026-05-01T10:00:00.000+0000")
    received: list[str] = []
    runner = _salesforce_runner(subs, vendor, received, max_items=3)
    sub = subs.add(Subscription("", "c", "salesforce", "new_account", 60))
    asyncio.run(runner.run_once(sub.id))
    for n in range(2, 8):
        vendor.add(n, "2026-05-01T10:00:00.000+0000")
    stuck = asyncio.run(runner.run_once(sub.id))
    assert stuck.subscription.cursor == "2026-05-01T10:00:00.000+0000"
    assert "stopped at the 3-item cap" in stuck.subscription.message
