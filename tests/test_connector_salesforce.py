"""Salesforce describe, SOSL search, queryAll and record delete against the spec-driven mock."""

from __future__ import annotations

from pathlib import Path

import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture

from patchbay.mocks.server import MockOptions, MockServer, default_variables
from patchbay.runtime import (
    Connection,
    GenericExecutor,
    PatchbayError,
    StaticTokenProvider,
    load_spec,
)

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "specs" / "salesforce.json")
V = "/services/data/v66.0"
RECORD = "001D000000IqhSLIAZ"


def _executor(server: MockServer) -> GenericExecutor:
    token = StaticTokenProvider(server.options.access_tokens[0])
    conn = Connection("salesforce", variables=default_variables(SPEC), token_provider=token)
    return GenericExecutor(SPEC, conn, transport=server.transport())


def test_a_deleted_record_is_gone_for_get_and_a_second_delete() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=1))
    with _executor(server) as ex:
        ex.call("get_record", {"sobject": "Account", "record_id": RECORD})
        assert ex.call("delete_record", {"sobject": "Account", "record_id": RECORD}) is None
        for action in ("get_record", "delete_record"):
            with pytest.raises(PatchbayError) as info:
                ex.call(action, {"sobject": "Account", "record_id": RECORD})
            assert info.value.code == "not_found"
    delete = next(r for r in server.requests if r.method == "DELETE")
    assert delete.path == f"{V}/sobjects/Account/{RECORD}"


def test_query_all_follows_next_records_url() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=25))
    with _executor(server) as ex:
        pager = ex.paginate("query_all", {"q": "SELECT Id FROM Account"}, max_pages=10)
        pages = [page.items for page in pager.pages()]
    assert [len(items) for items in pages] == [10, 10, 5]
    assert len({r["Id"] for items in pages for r in items}) == 25
    assert [r.path for r in server.requests] == [f"{V}/queryAll"] * 3
    assert dict(server.requests[0].query) == {"q": "SELECT Id FROM Account"}


def test_search_describe_and_list_go_to_their_resources() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None, records=2))
    with _executor(server) as ex:
        found = ex.call("search", {"q": "FIND {Fake} RETURNING Account(Id)"})
        described = ex.call("describe_sobject", {"sobject": "Invoice__c"})
        types = ex.call("list_sobjects")
    assert isinstance(found["searchRecords"], list)
    assert isinstance(described["fields"], list) and isinstance(types["sobjects"], list)
    assert [r.path for r in server.requests] == [
        f"{V}/search",
        f"{V}/sobjects/Invoice__c/describe",
        f"{V}/sobjects",
    ]


def test_sobject_names_and_record_ids_are_checked_before_sending() -> None:
    server = MockServer(SPEC, MockOptions(golden_root=None))
    with _executor(server) as ex:
        for action, data in (
            ("describe_sobject", {"sobject": "../limits"}),
            ("delete_record", {"sobject": "Account", "record_id": "001/../../x"}),
            ("delete_record", {"sobject": "Account", "record_id": "001D0000"}),
            ("search", {"q": ""}),
        ):
            with pytest.raises(PatchbayError) as info:
                ex.call(action, data)
            assert info.value.code == "validation"
    assert server.requests == []


@pytest.mark.parametrize(
    "fixture",
    [p for p in documented_fixtures("salesforce") if "sobject" in p.parent.name],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_documented_describe_payloads_declare_every_field(fixture: Path) -> None:
    """Describe shapes are fixed by Salesforce (records are not: their fields are the org's)."""
    assert undeclared_in_fixture("salesforce", fixture) == []
