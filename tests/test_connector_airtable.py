"""Airtable: batch limits, offset paging, id checks, query encoding and the new-record trigger,
run by the executor against the spec-driven mock (and a recording transport where the wire
format itself is the point)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, ConnectorSpec, GenericExecutor, PatchbayError, load_spec
from patchbay.runtime.triggers._polling import poll

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "airtable.json"
BASE = "appFAKEbase000001"
TABLE = "tblFAKEtable00001"
TOKEN = "patFAKEFAKEFAKE12.0000000000000000fake0000000000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def spec() -> ConnectorSpec:
    return load_spec(str(SPEC_PATH))


def mock_executor(spec: ConnectorSpec, records: int = 25) -> tuple[MockServer, GenericExecutor]:
    server = MockServer(
        spec, MockOptions(golden_root=None, records=records, credentials={"token": TOKEN})
    )
    executor = GenericExecutor(
        spec, Connection("airtable", credentials={"token": TOKEN}), transport=server.transport()
    )
    return server, executor


class Recorder:
    """Answers every request with a fixed body and keeps the requests."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self.body)


def recording_executor(spec: ConnectorSpec, body: Any) -> tuple[Recorder, GenericExecutor]:
    recorder = Recorder(body)
    executor = GenericExecutor(
        spec,
        Connection("airtable", credentials={"token": TOKEN}),
        transport=httpx.MockTransport(recorder),
    )
    return recorder, executor


def fields(i: int) -> dict[str, Any]:
    return {"fields": {"Name": f"Place {i}"}}


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("create_records", {"records": [fields(i) for i in range(11)]}),
        (
            "update_records",
            {"records": [{"id": f"recFAKErecord{i:04d}", **fields(i)} for i in range(11)]},
        ),
        ("delete_records", {"records": [f"recFAKErecord{i:04d}" for i in range(11)]}),
    ],
)
def test_a_batch_of_eleven_is_refused_before_anything_is_sent(
    spec: ConnectorSpec, action: str, data: dict[str, Any]
) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    with ex, pytest.raises(PatchbayError) as info:
        ex.call(action, {"base_id": BASE, "table": TABLE, **data})
    assert info.value.code == "validation"
    assert recorder.requests == []


def test_a_batch_of_ten_is_sent(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    records = [fields(i) for i in range(10)]
    with ex:
        ex.call("create_records", {"base_id": BASE, "table": TABLE, "records": records})
    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url.path == f"/v0/{BASE}/{TABLE}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"records": records}


def test_list_records_follows_the_offset_token_over_three_pages(spec: ConnectorSpec) -> None:
    server, ex = mock_executor(spec, records=7)
    with ex:
        pager = ex.paginate("list_records", {"base_id": BASE, "table": TABLE}, page_size=3)
        pages = list(pager.pages())
    assert [len(p.items) for p in pages] == [3, 3, 1]
    ids = [r["id"] for p in pages for r in p.items]
    assert len(set(ids)) == 7
    sent = [dict(r.query) for r in server.requests if r.action == "list_records"]
    assert len(sent) == 3
    assert all(q["pageSize"] == "3" for q in sent)
    assert "offset" not in sent[0]
    # Each later request carries the offset the previous page answered, and they differ.
    assert sent[1]["offset"] and sent[2]["offset"] and sent[1]["offset"] != sent[2]["offset"]


def test_offset_paging_stops_when_the_answer_has_no_offset(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(
        spec,
        {
            "records": [
                {"id": "recFAKErecord0001", "createdTime": "2024-01-01T00:00:00.000Z", "fields": {}}
            ]
        },
    )
    with ex:
        items = list(ex.paginate("list_records", {"base_id": BASE, "table": TABLE}))
    assert len(items) == 1
    assert len(recorder.requests) == 1


def test_page_size_above_100_is_refused(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("list_records", {"base_id": BASE, "table": TABLE, "pageSize": 101})
    assert info.value.code == "validation"
    assert recorder.requests == []


@pytest.mark.parametrize(
    "base_id", ["../meta", "app123", "appFAKEbase00000/x", "meta", "appFAKEbase000001?x=1"]
)
def test_base_ids_that_are_not_app_plus_14_are_refused(spec: ConnectorSpec, base_id: str) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("list_records", {"base_id": base_id, "table": TABLE})
    assert info.value.code == "validation"
    assert recorder.requests == []


def test_a_table_name_stays_one_path_segment(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    with ex:
        ex.call("list_records", {"base_id": BASE, "table": "Places to visit"})
    assert recorder.requests[0].url.raw_path.decode() == f"/v0/{BASE}/Places%20to%20visit"
    with ex, pytest.raises(PatchbayError):
        ex.call("list_records", {"base_id": BASE, "table": "../meta/bases"})
    assert len(recorder.requests) == 1


def test_delete_sends_records_brackets_and_list_encodes_sort_and_fields(
    spec: ConnectorSpec,
) -> None:
    recorder, ex = recording_executor(spec, {"records": []})
    with ex:
        ex.call(
            "delete_records",
            {
                "base_id": BASE,
                "table": TABLE,
                "records": ["recFAKErecord0001", "recFAKErecord0002"],
            },
        )
        ex.call(
            "list_records",
            {
                "base_id": BASE,
                "table": TABLE,
                "sort[0][field]": "Name",
                "sort[0][direction]": "desc",
                "fields": ["Name", "Visited"],
            },
        )
    delete, listing = recorder.requests
    assert delete.method == "DELETE"
    assert delete.url.params.get_list("records[]") == ["recFAKErecord0001", "recFAKErecord0002"]
    assert listing.url.params.get_list("fields[]") == ["Name", "Visited"]
    assert listing.url.params["sort[0][field]"] == "Name"
    assert listing.url.params["sort[0][direction]"] == "desc"


def test_created_records_can_be_read_back_from_the_mock(spec: ConnectorSpec) -> None:
    _, ex = mock_executor(spec)
    with ex:
        created = ex.call(
            "create_records", {"base_id": BASE, "table": TABLE, "records": [fields(1)]}
        )
    (record,) = created["records"]
    assert record["id"].startswith("rec") and len(record["id"]) == 17


def test_unknown_record_is_not_found(spec: ConnectorSpec) -> None:
    _, ex = mock_executor(spec)
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("get_record", {"base_id": BASE, "table": TABLE, "record_id": "recFAKEmissing001"})
    assert info.value.code == "not_found"


def test_new_record_trigger_filters_on_created_time_after_the_cursor(spec: ConnectorSpec) -> None:
    body = {
        "records": [
            {"id": "recFAKErecord0001", "createdTime": "2024-05-01T10:00:00.000Z", "fields": {}},
            {"id": "recFAKErecord0002", "createdTime": "2024-05-01T10:00:07.250Z", "fields": {}},
        ]
    }
    recorder, ex = recording_executor(spec, body)
    params = {"base_id": BASE, "table": TABLE}
    with ex:
        first = poll(ex, "new_record", params=params)
        assert first.cursor == "2024-05-01T10:00:07.250Z"
        assert "filterByFormula" not in recorder.requests[0].url.params
        newer = {"id": "recFAKErecord0003", "createdTime": "2024-05-01T10:05:00.000Z", "fields": {}}
        recorder.body = {"records": [*body["records"], newer]}
        second = poll(ex, "new_record", params=params, cursor=first.cursor)
    formula = recorder.requests[1].url.params["filterByFormula"]
    # The newest createdTime seen, rounded down to the second.
    assert formula == "IS_AFTER(CREATED_TIME(), DATETIME_PARSE('2024-05-01T10:00:07Z'))"
    assert [r["id"] for r in second.items] == ["recFAKErecord0003"]
    assert second.cursor == "2024-05-01T10:05:00.000Z"


def test_oauth_variant_uses_pkce_at_airtable(spec: ConnectorSpec) -> None:
    variant = spec.auth_variant("oauth2")
    assert variant.type == "oauth2"
    assert variant.pkce is True
    assert variant.authorize_url == "https://airtable.com/oauth2/v1/authorize"
    assert variant.token_url == "https://airtable.com/oauth2/v1/token"
