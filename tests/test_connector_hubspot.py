"""HubSpot: companies, deals (object type 0-3) and default associations against the
spec-driven mock."""

from __future__ import annotations

import json

from connector_support import connection_under, mock_executor

from patchbay.runtime import PatchbayError


def test_company_create_then_answers_201_with_its_id() -> None:
    with mock_executor("hubspot", golden=False) as (ex, server):
        company = ex.call("create_company", {"properties": {"name": "Acme"}})
    assert server.requests[0].path == "/crm/objects/2026-03/companies"
    assert company["properties"]["hs_object_id"] == company["id"]
    assert company["archived"] is False


def test_deal_goes_to_the_object_type_id_path() -> None:
    with mock_executor("hubspot", golden=False) as (ex, server):
        deal = ex.call("create_deal", {"properties": {"dealname": "Renewal", "amount": "10"}})
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/crm/objects/2026-03/0-3")
    assert json.loads(request.body) == {"properties": {"dealname": "Renewal", "amount": "10"}}
    assert deal["id"]


def test_create_needs_at_least_one_property() -> None:
    with mock_executor("hubspot", golden=False) as (ex, server):
        try:
            ex.call("create_deal", {"properties": {}})
        except PatchbayError as exc:
            assert exc.code == "validation"
        else:
            raise AssertionError("a deal without properties was sent")
    assert server.requests == []


def test_associate_puts_both_records_in_the_path() -> None:
    with mock_executor("hubspot") as (ex, server):
        answer = ex.call(
            "associate_records",
            {
                "fromObjectType": "deals",
                "fromObjectId": "7001",
                "toObjectType": "contacts",
                "toObjectId": "601",
            },
        )
    request = server.requests[0]
    assert (request.method, request.path) == (
        "PUT",
        "/crm/objects/2026-03/deals/7001/associations/default/contacts/601",
    )
    assert answer["status"] == "COMPLETE"
    assert answer["results"][0]["associationSpec"]["associationTypeId"] == 3


def test_lasting_rate_limit_ends_in_rate_limited() -> None:
    result = connection_under("hubspot", "rate_limited")
    assert result.error is not None and result.error.code == "rate_limited"
