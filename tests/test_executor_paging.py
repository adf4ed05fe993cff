"""Every pagination style of the spec format across >= 3 pages, plus the loop guards.

Each handler below pages the way one vendor documents it (Pipedrive offsets, Typeform pages,
Twilio relative next URIs, Mailgun absolute next URLs that never run out, Dropbox continue
endpoints, Notion body cursors, Link headers), written from the vendor's behaviour rather than
from the spec under test.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from conftest import FakeSleep, make_spec
from patchbay.runtime import (
    AsyncGenericExecutor,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
)

DATA = [{"id": f"r{i}", "n": i} for i in range(7)]
ITEM = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}
ARRAY = {"type": "array", "items": ITEM}
BASE = "https://api.acme.test/v1"


def run(
    action: dict[str, Any], handler: Any, *, page_size: int | None = 3, **kw: Any
) -> tuple[list[list[Any]], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    spec = make_spec([action])
    ex = GenericExecutor(
        spec,
        Connection("acme", credentials={"api_key": "sk_test_FAKE_0003"}),
        transport=httpx.MockTransport(recording),
        options=kw.pop("options", ExecutorOptions()),
        sleep=FakeSleep(),
    )
    pages = [
        p.items
        for p in ex.paginate(action["name"], kw.pop("data", {}), page_size=page_size, **kw).pages()
    ]
    return pages, seen


def ids(pages: list[list[Any]]) -> list[list[str]]:
    return [[item["id"] for item in page] for page in pages]


EXPECTED = [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]


def test_offset_with_next_start() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        start, limit = int(req.url.params["start"]), int(req.url.params["limit"])
        chunk = DATA[start : start + limit]
        more = start + limit < len(DATA)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return httpx.Response(
            200,
            json={"success": True, "data": chunk, "additional_data": {"pagination": pagination}},
        )

    action = {
        "name": "list_deals",
        "method": "GET",
        "path": "/deals",
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": ARRAY,
                    "additional_data": {
                        "type": "object",
                        "properties": {
                            "pagination": {
                                "type": "object",
                                "properties": {
                                    "next_start": {"type": "integer"},
                                    "more_items_in_collection": {"type": "boolean"},
                                },
                            }
                        },
                    },
                },
            }
        },
        "pagination": {
            "style": "offset",
            "items_path": "data",
            "offset_param": "start",
            "next_offset_path": "additional_data.pagination.next_start",
            "has_more_path": "additional_data.pagination.more_items_in_collection",
            "page_size": {"param": "limit", "max": 500},
        },
    }
    pages, reqs = run(action, handler)
    assert ids(pages) == EXPECTED
    assert [r.url.query.decode() for r in reqs] == [
        "limit=3&start=0",
        "limit=3&start=3",
        "limit=3&start=6",
    ]


def test_offset_without_signal_ends_on_empty_page_after_a_full_one() -> None:
    data = DATA[:6]

    def handler(req: httpx.Request) -> httpx.Response:
        offset, limit = int(req.url.params.get("offset", 0)), int(req.url.params["limit"])
        return httpx.Response(200, json=data[offset : offset + limit])

    action = {
        "name": "list",
        "method": "GET",
        "path": "/items",
        "output": {"schema": ARRAY},
        "pagination": {
            "style": "offset",
            "items_path": "",
            "offset_param": "offset",
            "page_size": {"param": "limit"},
        },
    }
    pages, reqs = run(action, handler)
    assert ids(pages) == [["r0", "r1", "r2"], ["r3", "r4", "r5"], []]
    assert len(reqs) == 3


def test_page_number_with_page_count() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        page, size = int(req.url.params["page"]), int(req.url.params["page_size"])
        chunk = DATA[(page - 1) * size : page * size]
        return httpx.Response(200, json={"total_items": 7, "page_count": 3, "items": chunk})

    action = {
        "name": "list_responses",
        "method": "GET",
        "path": "/forms/{form_id}/responses",
        "parameters": [{"name": "form_id", "in": "path", "required": True}],
        "output": {
            "schema": {
                "type": "object",
                "properties": {"items": ARRAY, "page_count": {"type": "integer"}},
            }
        },
        "pagination": {
            "style": "page",
            "items_path": "items",
            "page_param": "page",
            "total_pages_path": "page_count",
            "page_size": {"param": "page_size", "max": 1000},
        },
    }
    pages, reqs = run(action, handler, data={"form_id": "F1"})
    assert ids(pages) == EXPECTED
    assert [r.url.params["page"] for r in reqs] == ["1", "2", "3"]
    assert {r.url.path for r in reqs} == {"/v1/forms/F1/responses"}


def test_next_url_relative_to_the_host() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        page, size = int(req.url.params.get("Page", 0)), int(req.url.params["PageSize"])
        chunk = DATA[page * size : (page + 1) * size]
        nxt = None
        if (page + 1) * size < len(DATA):
            query = f"PageSize={size}&Page={page + 1}&PageToken=PA{page + 1}"
            nxt = f"/v1/Accounts/AC1/Messages.json?{query}"
        return httpx.Response(200, json={"messages": chunk, "next_page_uri": nxt, "page": page})

    action = {
        "name": "list_messages",
        "method": "GET",
        "path": "/Accounts/AC1/Messages.json",
        "output": {
            "schema": {
                "type": "object",
                "properties": {"messages": ARRAY, "next_page_uri": {"type": ["string", "null"]}},
            }
        },
        "pagination": {
            "style": "next_url",
            "items_path": "messages",
            "next_url_path": "next_page_uri",
            "page_size": {"param": "PageSize", "max": 1000},
        },
    }
    pages, reqs = run(action, handler)
    assert ids(pages) == EXPECTED
    assert [str(r.url) for r in reqs] == [
        f"{BASE}/Accounts/AC1/Messages.json?PageSize=3",
        "https://api.acme.test/v1/Accounts/AC1/Messages.json?PageSize=3&Page=1&PageToken=PA1",
        "https://api.acme.test/v1/Accounts/AC1/Messages.json?PageSize=3&Page=2&PageToken=PA2",
    ]


def test_next_url_absolute_that_never_runs_out_ends_on_the_empty_page() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        page = int(req.url.params.get("p", 0))
        chunk = DATA[page * 3 : (page + 1) * 3]
        return httpx.Response(
            200,
            json={
                "items": chunk,
                "paging": {"next": f"https://api.acme.test/v1/events?p={page + 1}"},
            },
        )

    action = {
        "name": "list_events",
        "method": "GET",
        "path": "/events",
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "items": ARRAY,
                    "paging": {"type": "object", "properties": {"next": {"type": "string"}}},
                },
            }
        },
        "pagination": {"style": "next_url", "items_path": "items", "next_url_path": "paging.next"},
    }
    pages, reqs = run(action, handler, page_size=None)
    assert ids(pages) == [*EXPECTED, []]
    assert len(reqs) == 4


def test_continue_endpoint_with_cursor() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        if req.url.path == "/v1/files/list_folder":
            start, size = 0, body["limit"]
        else:
            assert req.url.path == "/v1/files/list_folder/continue"
            start, size = int(body["cursor"].split(":")[0]), int(body["cursor"].split(":")[1])
        end = start + size
        return httpx.Response(
            200,
            json={
                "entries": DATA[start:end],
                "cursor": f"{end}:{size}",
                "has_more": end < len(DATA),
            },
        )

    action = {
        "name": "list_folder",
        "method": "POST",
        "path": "/files/list_folder",
        "idempotent": True,
        "body": {
            "encoding": "json",
            "schema": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
            },
        },
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "entries": ARRAY,
                    "cursor": {"type": "string"},
                    "has_more": {"type": "boolean"},
                },
            }
        },
        "pagination": {
            "style": "continue_endpoint",
            "items_path": "entries",
            "continue_path": "/files/list_folder/continue",
            "cursor_path": "cursor",
            "has_more_path": "has_more",
            "page_size": {"param": "limit", "in": "body"},
        },
    }
    pages, reqs = run(action, handler, data={"path": ""})
    assert ids(pages) == EXPECTED
    assert [(r.method, r.url.path, json.loads(r.content)) for r in reqs] == [
        ("POST", "/v1/files/list_folder", {"path": "", "limit": 3}),
        ("POST", "/v1/files/list_folder/continue", {"cursor": "3:3"}),
        ("POST", "/v1/files/list_folder/continue", {"cursor": "6:3"}),
    ]


def test_cursor_in_the_body() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        start = int(body.get("start_cursor") or 0)
        end = start + body["page_size"]
        more = end < len(DATA)
        return httpx.Response(
            200,
            json={
                "object": "list",
                "results": DATA[start:end],
                "next_cursor": str(end) if more else None,
                "has_more": more,
            },
        )

    action = {
        "name": "query_database",
        "method": "POST",
        "path": "/databases/{database_id}/query",
        "idempotent": True,
        "parameters": [{"name": "database_id", "in": "path", "required": True}],
        "body": {
            "encoding": "json",
            "schema": {"type": "object", "properties": {"filter": {"type": "object"}}},
        },
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "results": ARRAY,
                    "next_cursor": {"type": ["string", "null"]},
                    "has_more": {"type": "boolean"},
                },
            }
        },
        "pagination": {
            "style": "cursor",
            "items_path": "results",
            "cursor_param": "start_cursor",
            "cursor_in": "body",
            "next_cursor_path": "next_cursor",
            "has_more_path": "has_more",
            "page_size": {"param": "page_size", "in": "body", "max": 100},
        },
    }
    pages, reqs = run(action, handler, data={"database_id": "db1", "filter": {"a": 1}})
    assert ids(pages) == EXPECTED
    assert [json.loads(r.content) for r in reqs] == [
        {"filter": {"a": 1}, "page_size": 3},
        {"filter": {"a": 1}, "page_size": 3, "start_cursor": "3"},
        {"filter": {"a": 1}, "page_size": 3, "start_cursor": "6"},
    ]


LINK_ACTION = {
    "name": "list_issues",
    "method": "GET",
    "path": "/issues",
    "output": {"schema": ARRAY},
    "pagination": {
        "style": "link_header",
        "items_path": "",
        "page_size": {"param": "per_page", "max": 100},
    },
}


def link_handler(req: httpx.Request) -> httpx.Response:
    page, size = int(req.url.params.get("page", 1)), int(req.url.params["per_page"])
    chunk = DATA[(page - 1) * size : page * size]
    links = []
    if page * size < len(DATA):
        links.append(f'<{BASE}/issues?per_page={size}&page={page + 1}>; rel="next"')
    links.append(f'<{BASE}/issues?per_page={size}&page=3>; rel="last"')
    return httpx.Response(200, json=chunk, headers={"Link": ", ".join(links)})


def test_link_header() -> None:
    pages, reqs = run(LINK_ACTION, link_handler)
    assert ids(pages) == EXPECTED
    assert [r.url.query.decode() for r in reqs] == [
        "per_page=3",
        "per_page=3&page=2",
        "per_page=3&page=3",
    ]


def test_max_items_and_max_pages_stop_early() -> None:
    pages, reqs = run(LINK_ACTION, link_handler, max_items=4)
    assert ids(pages) == [["r0", "r1", "r2"], ["r3"]] and len(reqs) == 2
    pages, reqs = run(LINK_ACTION, link_handler, max_pages=1)
    assert ids(pages) == [["r0", "r1", "r2"]] and len(reqs) == 1


CURSOR_ACTION = {
    "name": "list",
    "method": "GET",
    "path": "/list",
    "output": {
        "schema": {"type": "object", "properties": {"items": ARRAY, "next": {"type": "string"}}}
    },
    "pagination": {
        "style": "cursor",
        "items_path": "items",
        "cursor_param": "cursor",
        "next_cursor_path": "next",
    },
}


def test_repeated_cursor_raises_instead_of_looping() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": DATA[:1], "next": "same"})

    with pytest.raises(PatchbayError) as info:
        run(CURSOR_ACTION, handler)
    assert info.value.code == "bad_response" and "repeated" in info.value.message


def test_hard_page_cap_exists_by_default_and_is_configurable() -> None:
    assert ExecutorOptions().max_pages_hard_cap == 10_000
    counter = iter(range(10_000))

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": DATA[:1], "next": f"c{next(counter)}"})

    with pytest.raises(PatchbayError) as info:
        run(CURSOR_ACTION, handler, options=ExecutorOptions(max_pages_hard_cap=5))
    assert info.value.code == "bad_response" and "hard cap of 5 pages" in info.value.message


def test_items_not_a_list_is_bad_response() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": {"oops": 1}})

    with pytest.raises(PatchbayError) as info:
        run(CURSOR_ACTION, handler)
    assert info.value.code == "bad_response"


def test_paginate_is_lazy_and_async_pages_match_sync() -> None:
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(str(req.url))
        return link_handler(req)

    spec = make_spec([LINK_ACTION])
    conn = Connection("acme", credentials={"api_key": "sk_test_FAKE_0003"})
    ex = GenericExecutor(spec, conn, transport=httpx.MockTransport(handler))
    pager = ex.paginate("list_issues", page_size=3)
    assert calls == []
    iterator = iter(pager)
    assert next(iterator)["id"] == "r0" and len(calls) == 1
    sync_items = [i["id"] for i in ex.paginate("list_issues", page_size=3)]

    async def collect() -> list[str]:
        async with AsyncGenericExecutor(
            spec, conn, transport=httpx.MockTransport(link_handler)
        ) as aex:
            return [i["id"] async for i in aex.paginate("list_issues", page_size=3)]

    assert asyncio.run(collect()) == sync_items == [d["id"] for d in DATA]
