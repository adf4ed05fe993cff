"""Trello boards, lists and the card lifecycle against the spec-driven mock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vendor_shapes import documented_fixtures, resource_model, undeclared, undeclared_in_fixture

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "trello.json")
LIST = "5abbe4b7ddc1b351ef961414"


def _executor(server: MockServer) -> GenericExecutor:
    creds = {f: server.credentials[f] for f in ("api_key", "token")}
    return GenericExecutor(
        SPEC, Connection("trello", credentials=creds), transport=server.transport()
    )


def test_a_card_is_created_updated_commented_and_deleted() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=1))
    with _executor(server) as ex:
        card = ex.call("create_card", {"idList": LIST, "name": "Draft"})
        updated = ex.call("update_card", {"id": card["id"], "name": "Final", "closed": True})
        assert (updated["name"], updated["closed"]) == ("Final", True)
        assert ex.call("get_card", {"id": card["id"]})["name"] == "Final"
        comment = ex.call("add_card_comment", {"id": card["id"], "text": "ship it"})
        assert (comment["type"], comment["data"]["text"]) == ("commentCard", "ship it")
        assert ex.call("delete_card", {"id": card["id"]}) == {"limits": {}}
        with pytest.raises(PatchbayError) as info:
            ex.call("get_card", {"id": card["id"]})
    assert info.value.code == "not_found"
    put = next(r for r in server.requests if r.method == "PUT")
    assert put.path == f"/1/cards/{card['id']}"
    assert ("name", "Final") in put.query and ("closed", "true") in put.query


def test_a_comment_needs_text_and_a_card_id_of_24_hex() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None))
    with _executor(server) as ex:
        for data in ({"id": "65543a0f1c2d3e4f5a6b7c12"}, {"id": "../boards/x", "text": "hi"}):
            with pytest.raises(PatchbayError) as info:
                ex.call("add_card_comment", data)
            assert info.value.code == "validation"
    assert server.requests == []


def test_boards_and_lists_are_read_for_the_member_and_board_given() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=3))
    with _executor(server) as ex:
        boards = ex.call("list_my_boards", {"member": "me", "filter": "open"})
        lists = ex.call("list_board_lists", {"id": LIST, "filter": "open"})
        with pytest.raises(PatchbayError) as info:
            ex.call("get_board", {"id": "5abbe4b7ddc1b351ef961499"})
    assert boards and all("id" in b and "name" in b for b in boards)
    assert lists and all("id" in x for x in lists)
    assert info.value.code == "not_found"
    assert [r.path for r in server.requests] == [
        "/1/members/me/boards",
        f"/1/boards/{LIST}/lists",
        "/1/boards/5abbe4b7ddc1b351ef961499",
    ]


@pytest.mark.parametrize(
    "fixture", documented_fixtures("trello"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    body = json.loads(fixture.read_text())["response"]["body"]
    if isinstance(body, list):  # a plain array answer (boards, lists): every element
        model = resource_model("trello", fixture.parent.name)
        assert undeclared([model.model_validate(item) for item in body]) == []
    else:
        assert undeclared_in_fixture("trello", fixture) == []
