"""Pipedrive: documented payloads parse with every field declared (the vendor's shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vendor_shapes import documented_fixtures, undeclared_in_fixture


@pytest.mark.parametrize(
    "fixture", documented_fixtures("pipedrive"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    assert undeclared_in_fixture("pipedrive", fixture) == []
