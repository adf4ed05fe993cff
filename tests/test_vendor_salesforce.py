"""Salesforce limits and records, as the REST API sends them, parse into the spec's shapes.

Salesforce publishes no machine-readable description of these resources; the shapes come from
its reference pages: each limit is {Max, Remaining}, some limits nest one such object per
connected app, and records carry the system fields most objects have.
"""

from __future__ import annotations

import pytest
from patchbay.connectors.salesforce.models import GetLimitsResult, Limit, SObject
from pydantic import ValidationError


def test_documented_limit_names_are_typed_and_per_app_entries_too() -> None:
    limits = GetLimitsResult.model_validate(
        {
            "DailyApiRequests": {
                "Max": 15000,
                "Remaining": 14988,
                "Workbench": {"Max": 0, "Remaining": 0},
            },
            "HourlyODataCallout": {"Max": 1000, "Remaining": 1000},
            "PermissionSets": {
                "Max": 1500,
                "Remaining": 1496,
                "CreateCustom": {"Max": 1000, "Remaining": 996},
            },
            "SomeFutureLimit": {"Max": 3, "Remaining": 2},
        }
    )
    assert limits.hourly_o_data_callout is not None
    assert limits.hourly_o_data_callout.remaining == 1000
    assert limits.permission_sets is not None
    custom = (limits.permission_sets.model_extra or {})["CreateCustom"]
    assert isinstance(custom, Limit) and custom.remaining == 996
    per_app = (limits.daily_api_requests.model_extra or {})["Workbench"]
    assert isinstance(per_app, Limit) and per_app.max == 0
    assert set(limits.model_extra or {}) == {"SomeFutureLimit"}
    assert isinstance((limits.model_extra or {})["SomeFutureLimit"], Limit)


def test_record_system_fields_are_declared() -> None:
    row = SObject.model_validate(
        {
            "attributes": {
                "type": "Account",
                "url": "/services/data/v66.0/sobjects/Account/001D000000INjVeIAL",
            },
            "Id": "001D000000INjVeIAL",
            "IsDeleted": False,
            "CreatedById": "005D0000001az2bIAA",
            "SystemModstamp": "2026-03-12T07:38:12.000+0000",
            "Name": "Fake Widgets Inc.",
        }
    )
    assert row.is_deleted is False
    assert row.created_by_id == "005D0000001az2bIAA"
    assert row.system_modstamp == "2026-03-12T07:38:12.000+0000"
    assert row.model_extra == {"Name": "Fake Widgets Inc."}


def test_record_datetimes_are_salesforce_shaped() -> None:
    with pytest.raises(ValidationError):
        SObject.model_validate(
            {"attributes": {"type": "Account"}, "SystemModstamp": "last tuesday"}
        )
