"""Shared helpers: a minimal spec document builder and a recording fake sleep."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from patchbay.runtime import ConnectorSpec, parse_spec

ITEM_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
}


def spec_doc(actions: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A small valid connector document around ``actions`` (override any top-level key)."""
    doc: dict[str, Any] = {
        "name": "acme",
        "title": "Acme",
        "version": "1.0.0",
        "connection": {"base_url": "https://api.acme.test/v1"},
        "auth": [
            {
                "name": "token",
                "type": "bearer",
                "token": "{api_key}",
                "fields": {"api_key": {"description": "API key"}},
            }
        ],
        "test_connection": {"path": "/me", "account_label_path": "name"},
        "actions": actions,
    }
    doc.update(copy.deepcopy(top))
    return doc


def make_spec(actions: list[dict[str, Any]], **top: Any) -> ConnectorSpec:
    return parse_spec(spec_doc(actions, **top))


class FakeSleep:
    """Records requested waits instead of sleeping (sync and async)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def async_(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()
