"""HubSpot: documented payloads parse with every field declared (the vendor's full shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture


@pytest.mark.parametrize(
    "fixture", documented_fixtures("hubspot"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("hubspot", fixture) == []


def test_a_contact_with_warnings_keeps_them_typed() -> None:
    """HubSpot's description adds per-record warnings to a contact; they parse as declared
    fields, not as leftovers, and a field it does not describe still shows up as one."""
    from vendor_shapes import resource_model, undeclared

    contact = {
        "id": "101",
        "properties": {"email": "jo@example.test"},
        "createdAt": "2026-01-02T03:04:05Z",
        "updatedAt": "2026-01-02T03:04:05Z",
        "archived": False,
        "warnings": [{"category": "VALIDATION", "context": {}, "message": "fake warning"}],
    }
    model = resource_model("hubspot", "get_contact")
    assert undeclared(model.model_validate(contact)) == []
    assert undeclared(model.model_validate({**contact, "nextField": 1})) == [".nextField"]
