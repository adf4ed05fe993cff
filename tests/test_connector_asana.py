"""Asana: the data envelope both ways, next_page.offset paging, the new-task trigger's cursor
and the errors list, each against a hand-written stand-in that answers the way Asana documents
(not against the spec-driven mock, so the spec itself is what is under test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeSleep
from vendor_shapes import documented_fixtures, undeclared_in_fixture

from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec
from patchbay.runtime.triggers._polling import poll

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "asana.json")
TOKEN = "2/0000000000000000/0000000000000000:FAKEfakeFAKEfake"

TASKS = [
    {
        "gid": str(1000 + i),
        "resource_type": "task",
        "name": f"Task {i}",
        "created_at": f"2026-01-0{i + 1}T10:00:00.000Z",
        "modified_at": f"2026-01-0{i + 1}T10:00:00.000Z",
    }
    for i in range(7)
]


class Asana:
    """Answers /tasks pages and task creation the way Asana does; records every request."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = tasks
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"errors": [{"message": "Not Authorized"}]})
        path = request.url.path.removeprefix("/api/1.0")
        if request.method == "GET" and path == "/tasks":
            return self._page(request)
        if request.method == "POST" and path == "/tasks":
            sent = json.loads(request.content)["data"]
            return httpx.Response(
                201, json={"data": {"gid": "2001", "resource_type": "task", **sent}}
            )
        return httpx.Response(
            404, json={"errors": [{"message": f"{path}: Unknown object", "phrase": "fake"}]}
        )

    def _page(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        since = params.get("modified_since")
        rows = [t for t in self.tasks if since is None or t["modified_at"] >= since]
        start = int(params.get("offset", "tok0").removeprefix("tok"))
        limit = int(params.get("limit", "20"))
        nxt = start + limit
        page: Any = None
        if nxt < len(rows):
            page = {"offset": f"tok{nxt}", "path": f"/tasks?offset=tok{nxt}", "uri": "x"}
        return httpx.Response(200, json={"data": rows[start:nxt], "next_page": page})


def executor(stand_in: Asana) -> GenericExecutor:
    return GenericExecutor(
        SPEC,
        Connection("asana", auth="personal_access_token", credentials={"token": TOKEN}),
        transport=httpx.MockTransport(stand_in),
        sleep=FakeSleep(),
    )


def test_create_task_wraps_the_body_in_data_and_unwraps_the_result() -> None:
    stand_in = Asana([])
    with executor(stand_in) as ex:
        task = ex.call("create_task", {"name": "Write report", "workspace": "12345"})
    assert json.loads(stand_in.seen[0].content) == {
        "data": {"name": "Write report", "workspace": "12345"}
    }
    assert stand_in.seen[0].url.path == "/api/1.0/tasks"
    assert task == {
        "gid": "2001",
        "resource_type": "task",
        "name": "Write report",
        "workspace": "12345",
    }


def test_create_task_needs_a_workspace_project_or_parent() -> None:
    stand_in = Asana([])
    with executor(stand_in) as ex, pytest.raises(PatchbayError) as caught:
        ex.call("create_task", {"name": "Nowhere"})
    assert caught.value.code == "validation"
    assert stand_in.seen == []


def test_list_tasks_follows_next_page_offset_over_three_pages() -> None:
    stand_in = Asana(TASKS)
    with executor(stand_in) as ex:
        pages = [p.items for p in ex.paginate("list_tasks", {"project": "42"}, page_size=3).pages()]
    assert [[t["gid"] for t in page] for page in pages] == [
        ["1000", "1001", "1002"],
        ["1003", "1004", "1005"],
        ["1006"],
    ]
    offsets = [r.url.params.get("offset") for r in stand_in.seen]
    assert offsets == [None, "tok3", "tok6"]
    assert {r.url.params["limit"] for r in stand_in.seen} == {"3"}
    assert {r.url.params["project"] for r in stand_in.seen} == {"42"}


def test_new_task_trigger_asks_for_created_at_and_narrows_with_modified_since() -> None:
    stand_in = Asana(TASKS[:4])
    with executor(stand_in) as ex:
        first = poll(ex, "new_task", params={"project": "42"})
        assert first.cursor == "2026-01-04T10:00:00.000Z"
        assert stand_in.seen[0].url.params["opt_fields"].split(",")[:2] == ["name", "created_at"]
        assert "modified_since" not in stand_in.seen[0].url.params
        stand_in.tasks = TASKS
        second = poll(ex, "new_task", first.cursor, params={"project": "42"})
    assert [t["gid"] for t in second.items] == ["1004", "1005", "1006"]
    assert stand_in.seen[-1].url.params["modified_since"].startswith("2026-01-04T10:00:00")
    assert second.cursor == "2026-01-07T10:00:00.000Z"


def test_errors_list_message_and_not_found() -> None:
    stand_in = Asana([])
    with executor(stand_in) as ex, pytest.raises(PatchbayError) as caught:
        ex.call("get_task", {"task_gid": "999"})
    assert caught.value.code == "not_found"
    assert "Unknown object" in str(caught.value)


def test_wrong_token_is_an_auth_error() -> None:
    stand_in = Asana([])
    ex = GenericExecutor(
        SPEC,
        Connection("asana", auth="personal_access_token", credentials={"token": "2/1/2:WRONGfake"}),
        transport=httpx.MockTransport(stand_in),
        sleep=FakeSleep(),
    )
    with ex:
        check = ex.test_connection()
    assert not check.ok and check.error is not None and check.error.code == "auth_invalid"


@pytest.mark.parametrize(
    "fixture", documented_fixtures("asana"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("asana", fixture) == []
