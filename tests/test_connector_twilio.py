"""Twilio calls (make, fetch, list) and the call shapes imported from twilio/twilio-oai."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "twilio.json")
SID = "AC" + "0" * 32


def _server(records: int = 1) -> MockServer:
    return MockServer(
        SPEC, MockOptions(golden_root=None, records=records, variables={"account_sid": SID})
    )


def _executor(server: MockServer) -> GenericExecutor:
    conn = Connection(
        "twilio",
        auth="auth_token",
        variables={"account_sid": SID},
        credentials={"auth_token": server.credentials["auth_token"]},
    )
    return GenericExecutor(SPEC, conn, transport=server.transport())


def test_a_call_is_made_fetched_and_listed() -> None:
    server = _server()
    with _executor(server) as ex:
        call = ex.call(
            "create_call",
            {"To": "+15005550006", "From": "+15005550001", "Url": "https://example.test/twiml"},
        )
        assert call["sid"].startswith("CA") and len(call["sid"]) == 34
        assert (call["to"], call["from"], call["status"]) == (
            "+15005550006",
            "+15005550001",
            "queued",
        )
        assert call["account_sid"] == SID
        assert ex.call("get_call", {"sid": call["sid"]})["sid"] == call["sid"]
        assert ex.paginate("list_calls").all()[0]["sid"] == call["sid"]
    post = next(r for r in server.requests if r.method == "POST")
    assert post.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    form = parse_qs(post.body.decode())
    assert form["To"] == ["+15005550006"] and form["Url"] == ["https://example.test/twiml"]


def test_calls_page_through_next_page_uri() -> None:
    server = _server(records=7)
    with _executor(server) as ex:
        pages = list(ex.paginate("list_calls", {}, page_size=2).pages())
    assert [len(p.items) for p in pages] == [2, 2, 2, 1]
    assert len({c["sid"] for p in pages for c in p.items}) == 7


def test_a_call_needs_to_and_from_and_a_call_sid_of_the_right_shape() -> None:
    server = _server()
    with _executor(server) as ex:
        for action, data in (
            ("create_call", {"To": "+15005550006"}),
            ("get_call", {"sid": "SM" + "0" * 32}),
            ("get_call", {"sid": "CA00/../../Messages"}),
        ):
            with pytest.raises(PatchbayError) as info:
                ex.call(action, data)
            assert info.value.code == "validation"
    assert server.requests == []


def test_an_unknown_call_is_not_found() -> None:
    server = _server()
    with _executor(server) as ex, pytest.raises(PatchbayError) as info:
        ex.call("get_call", {"sid": "CA" + "f" * 32})
    assert info.value.code == "not_found"


@pytest.mark.parametrize(
    "fixture",
    [p for p in documented_fixtures("twilio") if "call" in p.parent.name],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_documented_call_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("twilio", fixture) == []
