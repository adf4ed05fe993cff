"""Notion: the version header, body cursors for POST lists and query cursors for GET lists over
three pages, the new-database-item trigger's filter, errors and the token check, each against a
hand-written stand-in that answers the way Notion documents (not against the spec-driven mock,
so the spec itself is what is under test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeSleep
from vendor_shapes import documented_fixtures, undeclared, undeclared_in_fixture

from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec
from patchbay.runtime.triggers._polling import poll

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "notion.json")
TOKEN = "ntn_FAKE0000000000000000000000000000000000000000"
VERSION = "2022-06-28"
DB = "a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b"


def page(n: int, minute: int) -> dict[str, Any]:
    return {
        "object": "page",
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "created_time": f"2026-01-01T10:{minute:02d}:00.000Z",
        "properties": {},
    }


PAGES = [page(n, 50 - n) for n in range(7)]  # newest first, as a descending sort answers


class Notion:
    """Pages through ``rows`` with Notion's cursors; records every request."""

    def __init__(self, rows: list[dict[str, Any]], fail_first: httpx.Response | None = None):
        self.rows = rows
        self.seen: list[httpx.Request] = []
        self.fail_first = fail_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        if self.fail_first is not None:
            reply, self.fail_first = self.fail_first, None
            return reply
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return error(401, "unauthorized", "API token is invalid.")
        if request.headers.get("notion-version") is None:
            return error(400, "missing_version", "Notion-Version header failed validation.")
        if request.url.path.startswith("/v1/pages/"):
            return error(404, "object_not_found", "Could not find page with ID: x.")
        body = json.loads(request.content) if request.content else {}
        where = body if request.method == "POST" else request.url.params
        rows = self.rows
        after = (body.get("filter") or {}).get("created_time", {}).get("on_or_after")
        if after is not None:
            rows = [r for r in rows if r["created_time"] >= after]
        start = int(where.get("start_cursor", "c0").removeprefix("c"))
        size = int(where.get("page_size", 100))
        more = start + size < len(rows)
        return httpx.Response(
            200,
            json={
                "object": "list",
                "results": rows[start : start + size],
                "next_cursor": f"c{start + size}" if more else None,
                "has_more": more,
                "type": "page_or_database",
                "page_or_database": {},
            },
        )


def error(status: int, code: str, message: str) -> httpx.Response:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return httpx.Response(status, json=body)


def executor(
    stand_in: Notion, token: str = TOKEN, sleep: FakeSleep | None = None
) -> GenericExecutor:
    return GenericExecutor(
        SPEC,
        Connection("notion", auth="integration_token", credentials={"token": token}),
        transport=httpx.MockTransport(stand_in),
        sleep=sleep or FakeSleep(),
    )


def ids(pages: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[p["id"][-1] for p in items] for items in pages]


def test_search_sends_the_cursor_and_page_size_in_the_body_over_three_pages() -> None:
    stand_in = Notion(PAGES)
    with executor(stand_in) as ex:
        pages = [p.items for p in ex.paginate("search", {"query": "Bug"}, page_size=3).pages()]
    assert ids(pages) == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    bodies = [json.loads(r.content) for r in stand_in.seen]
    assert [b.get("start_cursor") for b in bodies] == [None, "c3", "c6"]
    assert {b["page_size"] for b in bodies} == {3}
    assert {b["query"] for b in bodies} == {"Bug"}
    assert all(r.method == "POST" and not r.url.params for r in stand_in.seen)
    assert {r.headers["Notion-Version"] for r in stand_in.seen} == {VERSION}


def test_query_database_pages_with_the_body_cursor() -> None:
    stand_in = Notion(PAGES)
    with executor(stand_in) as ex:
        pager = ex.paginate("query_database", {"database_id": DB}, page_size=2)
        pages = [p.items for p in pager.pages()]
    assert len(pages) == 4
    assert [r.url.path for r in stand_in.seen] == [f"/v1/databases/{DB}/query"] * 4
    assert [json.loads(r.content).get("start_cursor") for r in stand_in.seen] == [
        None,
        "c2",
        "c4",
        "c6",
    ]


def test_list_users_sends_the_cursor_in_the_query_string_over_three_pages() -> None:
    stand_in = Notion(PAGES)
    with executor(stand_in) as ex:
        pages = [p.items for p in ex.paginate("list_users", {}, page_size=3).pages()]
    assert ids(pages) == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    assert [r.url.params.get("start_cursor") for r in stand_in.seen] == [None, "c3", "c6"]
    assert all(r.method == "GET" and not r.content for r in stand_in.seen)
    assert {r.headers["Notion-Version"] for r in stand_in.seen} == {VERSION}


def test_new_database_item_sorts_newest_first_then_filters_on_the_cursor() -> None:
    stand_in = Notion(PAGES[3:])
    with executor(stand_in) as ex:
        first = poll(ex, "new_database_item", params={"database_id": DB})
        assert first.cursor == "2026-01-01T10:47:00.000Z"
        sent = json.loads(stand_in.seen[0].content)
        assert sent["sorts"] == [{"timestamp": "created_time", "direction": "descending"}]
        assert "filter" not in sent
        stand_in.rows = PAGES
        second = poll(ex, "new_database_item", first.cursor, params={"database_id": DB})
    sent = json.loads(stand_in.seen[-1].content)
    assert sent["filter"]["timestamp"] == "created_time"
    assert sent["filter"]["created_time"]["on_or_after"].startswith("2026-01-01T10:47:00")
    assert [p["id"][-1] for p in second.items] == ["2", "1", "0"]
    assert second.cursor == "2026-01-01T10:50:00.000Z"


def test_object_not_found_is_not_found_with_notions_message() -> None:
    stand_in = Notion([])
    with executor(stand_in) as ex, pytest.raises(PatchbayError) as caught:
        ex.call("get_page", {"page_id": "be633bf1dfa0436db259571129a590e5"})
    assert caught.value.code == "not_found"
    assert caught.value.vendor_code == "object_not_found"
    assert "Could not find page" in str(caught.value)


def test_rate_limited_waits_for_retry_after_then_succeeds() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={"object": "error", "status": 429, "code": "rate_limited", "message": "Slow down."},
    )
    stand_in, sleep = Notion(PAGES[:1], fail_first=limited), FakeSleep()
    with executor(stand_in, sleep=sleep) as ex:
        result = ex.call("list_users", {})
    assert result["results"][0]["id"] == PAGES[0]["id"]
    assert 7 in sleep.calls
    assert len(stand_in.seen) == 2


def test_a_token_of_another_shape_is_refused_before_any_request() -> None:
    stand_in = Notion([])
    with pytest.raises(PatchbayError) as caught:
        executor(stand_in, token="xoxb-not-a-notion-token").call("get_bot_user", {})
    assert caught.value.code == "config" and "'token' must match" in str(caught.value)
    assert stand_in.seen == []


# search answers pages or databases: its items are checked by their own model below.
SINGLE_MODEL = [p for p in documented_fixtures("notion") if p.parent.name != "search"]


@pytest.mark.parametrize("fixture", SINGLE_MODEL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("notion", fixture) == []


def test_search_results_parse_as_pages_or_databases_with_every_field_declared() -> None:
    from patchbay.connectors.notion.models import Database, Page

    fixture = ROOT / "golden/notion/search/documented.json"
    results = json.loads(fixture.read_text())["response"]["body"]["results"]
    assert results
    for item in results:
        model = {"page": Page, "database": Database}[item["object"]]
        assert undeclared(model.model_validate(item)) == []
    assert undeclared(Database.model_validate({**results[0], "next_field": 1})) == [".next_field"]
