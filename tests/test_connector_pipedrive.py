"""Pipedrive deals, persons and item search against the spec-driven mock."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "pipedrive.json")


def _executor(server: MockServer) -> GenericExecutor:
    conn = Connection(
        "pipedrive",
        variables={"company": "fakeco"},
        credentials={"api_token": server.credentials["api_token"]},
    )
    return GenericExecutor(SPEC, conn, transport=server.transport())


def test_a_deal_goes_through_create_get_update_and_delete() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=1))
    with _executor(server) as ex:
        deal = ex.call("create_deal", {"title": "Fake renewal", "currency": "EUR"})
        assert deal["title"] == "Fake renewal"
        assert (deal["status"], deal["deleted"]) == ("open", False)
        assert ex.call("get_deal", {"id": deal["id"]})["title"] == "Fake renewal"
        won = ex.call("update_deal", {"id": deal["id"], "status": "won"})
        assert won["status"] == "won"
        assert ex.call("delete_deal", {"id": deal["id"]}) == {"id": deal["id"]}
        with pytest.raises(PatchbayError) as info:
            ex.call("get_deal", {"id": deal["id"]})
    assert info.value.code == "not_found"
    sent = [(r.method, r.path) for r in server.requests]
    assert ("POST", "/api/v1/deals") in sent
    assert ("PUT", f"/api/v1/deals/{deal['id']}") in sent
    assert ("DELETE", f"/api/v1/deals/{deal['id']}") in sent


def test_persons_page_by_start_and_next_start() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=7))
    with _executor(server) as ex:
        pages = list(ex.paginate("list_persons", {}, page_size=2).pages())
    assert [len(p.items) for p in pages] == [2, 2, 2, 1]
    starts = [dict(r.query).get("start") for r in server.requests]
    assert starts == ["0", "2", "4", "6"]
    ids = [p["id"] for page in pages for p in page.items]
    assert len(set(ids)) == 7


def test_create_person_requires_a_name() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None))
    with _executor(server) as ex, pytest.raises(PatchbayError) as info:
        ex.call("create_person", {"email": [{"value": "x@example.test"}]})
    assert info.value.code == "validation"
    assert server.requests == []


def test_item_search_sends_item_types_comma_separated() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=3))
    with _executor(server) as ex:
        found = ex.call("search_items", {"term": "fake", "item_types": ["deal", "person"]})
    assert isinstance(found["items"], list)
    query = dict(server.requests[-1].query)
    assert query["item_types"] == "deal,person" and query["term"] == "fake"
