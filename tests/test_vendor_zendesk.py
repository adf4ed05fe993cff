"""Zendesk: documented payloads parse with every field declared (the vendor's full shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture


@pytest.mark.parametrize(
    "fixture", documented_fixtures("zendesk"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("zendesk", fixture) == []


def test_a_user_with_the_vendors_profile_fields_keeps_them_typed() -> None:
    """Fields Zendesk's description gives a user (signature, restrictions, custom fields) parse as
    declared fields; one it does not describe still shows up as a leftover."""
    import json

    from vendor_shapes import ROOT, resource_model, undeclared

    fixture = ROOT / "golden/zendesk/get_current_user/documented.json"
    user = json.loads(fixture.read_text())["response"]["body"]["user"]
    user |= {
        "signature": "Fake signature",
        "ticket_restriction": "requested",
        "two_factor_auth_enabled": False,
        "user_fields": {"fake_field": "x"},
        "shared_phone_number": None,
    }
    model = resource_model("zendesk", "get_current_user")
    assert undeclared(model.model_validate(user)) == []
    assert undeclared(model.model_validate({**user, "next_field": 1})) == [".next_field"]
