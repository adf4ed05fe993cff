"""Mailgun domains, bounces, mailing lists and a send with an attachment against the mock."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture

from patchbay.mocks.request_parsing import multipart_fields
from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "mailgun.json")


def _executor(server: MockServer) -> GenericExecutor:
    conn = Connection("mailgun", credentials={"api_key": server.credentials["api_key"]})
    return GenericExecutor(SPEC, conn, transport=server.transport())


def test_domains_page_by_skip_until_the_total() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=5))
    with _executor(server) as ex:
        pages = list(ex.paginate("list_domains", {}, page_size=2).pages())
    assert [len(p.items) for p in pages] == [2, 2, 1]
    skips = [dict(r.query).get("skip") for r in server.requests]
    assert skips == ["0", "2", "4"]


def test_bounces_follow_the_paging_next_url() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=5))
    with _executor(server) as ex:
        found = ex.paginate("list_bounces", {"domain_name": "mg.example.test"}, page_size=2).all()
    assert len(found) == 5 and all("address" in b for b in found)
    assert len(server.requests) >= 3
    assert all(r.path.startswith("/v3/mg.example.test/bounces") for r in server.requests)


def test_a_created_mailing_list_is_listed() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=1))
    with _executor(server) as ex:
        made = ex.call(
            "create_mailing_list",
            {"address": "team@mg.example.test", "name": "Team", "access_level": "members"},
        )
        listed = ex.paginate("list_mailing_lists").all()
    assert (made["address"], made["access_level"]) == ("team@mg.example.test", "members")
    assert "team@mg.example.test" in [m["address"] for m in listed]
    post = server.requests[0]
    assert post.headers["content-type"].startswith("application/x-www-form-urlencoded")


def test_a_member_is_added_to_a_list_by_its_address() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None))
    with _executor(server) as ex:
        member = ex.call(
            "add_list_member",
            {"list_address": "team@mg.example.test", "address": "sam@example.test", "name": "Sam"},
        )
        with pytest.raises(PatchbayError) as info:
            ex.call("add_list_member", {"list_address": "../domains", "address": "a@b.test"})
    assert (member["address"], member["name"], member["subscribed"]) == (
        "sam@example.test",
        "Sam",
        True,
    )
    assert info.value.code == "validation"
    (request,) = server.requests
    assert request.path == "/v3/lists/team@mg.example.test/members"


def test_a_mailing_list_needs_an_address() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None))
    with _executor(server) as ex:
        for data in ({"name": "No address"}, {"address": "not-an-address"}):
            with pytest.raises(PatchbayError) as info:
                ex.call("create_mailing_list", data)
            assert info.value.code == "validation"
    assert server.requests == []


def test_send_carries_the_attachment_as_a_file_part() -> None:
    """The request as built (the spec-driven mock cannot take it yet: it reads a file part back
    as text and refuses it against the attachment's object schema)."""
    seen: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "<fake@mg.example.test>", "message": "Queued."})

    message = {
        "domain_name": "mg.example.test",
        "from": "Jo <jo@mg.example.test>",
        "to": "sam@example.test",
        "subject": "Report",
        "text": "Attached.",
        "attachment": {"filename": "r.csv", "content": "a,b\n1,2\n", "content_type": "text/csv"},
    }
    conn = Connection("mailgun", credentials={"api_key": "FAKE-key"})
    with GenericExecutor(SPEC, conn, transport=httpx.MockTransport(vendor)) as ex:
        sent = ex.call("send_message", message)
    assert sent["id"] == "<fake@mg.example.test>"
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v3/mg.example.test/messages")
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data")
    body = request.read()
    parts = dict(multipart_fields(body, content_type))
    assert parts["attachment"] == "a,b\n1,2\n" and parts["subject"] == "Report"
    assert b'filename="r.csv"' in body and b"Content-Type: text/csv" in body


@pytest.mark.parametrize(
    "fixture", documented_fixtures("mailgun"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("mailgun", fixture) == []
