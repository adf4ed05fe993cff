"""Generated response models keep what the vendor sent beyond the spec (``model_extra``).

Vendors add fields all the time; a typed client that silently drops them loses data. Every
success fixture of every connector gets an undeclared field on each result object and goes
through the generated client and the mock; the field must come back.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from patchbay.codegen.models import result_schema
from patchbay.mocks.contract import contract_cases, run_case
from patchbay.runtime.http._error_mapping import match_holds
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
EXTRA = "x_patchbay_undeclared"


def _success_object_cases() -> list[Any]:
    out = []
    for case in contract_cases(REGISTRY):
        spec = REGISTRY.get(case.connector)
        action = spec.action(case.action)
        response = case.fixture.response
        if response.status >= 300 or action.output.format != "json":
            continue
        path = action.pagination.items_path if action.pagination else action.output.result_path
        found = get_path(response.body, path, None) if path else response.body
        items = found if isinstance(found, list) else [found]
        schema = result_schema(spec, action) or {}
        ref = schema.get("$ref", "")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            schema = spec.defs[ref.removeprefix("#/$defs/")]
        if "properties" not in schema or isinstance(schema.get("additionalProperties"), dict):
            continue  # a map whose values have a schema (Salesforce limits): nothing is extra
        if items and all(isinstance(i, dict) for i in items) and not _body_error(spec, case):
            out.append(case)
    return out


def _body_error(spec: Any, case: Any) -> bool:
    """A 2xx fixture the spec's error rules call an error (Slack's ``ok: false``)."""
    response = case.fixture.response
    headers = httpx.Headers(response.headers)
    return any(
        match_holds(rule.when, response.status, headers, response.body)
        for rule in spec.errors.rules
    )


CASES = _success_object_cases()


def _plant(value: Any) -> None:
    """An undeclared field on every result object (nested ones: see the GitHub test below)."""
    for item in value if isinstance(value, list) else [value]:
        item[EXTRA] = {"kept": True}


def test_there_are_cases() -> None:
    assert len(CASES) > 50


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_undeclared_vendor_fields_survive_the_generated_models(case: Any) -> None:
    spec = REGISTRY.get(case.connector)
    action = spec.action(case.action)
    body = copy.deepcopy(case.fixture.response.body)
    path = action.pagination.items_path if action.pagination else action.output.result_path
    target = get_path(body, path, None) if path else body
    _plant(target)
    response = case.fixture.response.model_copy(update={"body": body})
    fixture = case.fixture.model_copy(update={"response": response})
    result = run_case(spec, type(case)(case.connector, case.action, case.name, case.path, fixture))
    outcome = result.record["response"]
    assert "error" not in outcome and "crash" not in outcome, result.problems
    got = outcome["items"] if "items" in outcome else [outcome["result"]]
    assert got, "the call returned nothing"
    for item in got:
        assert isinstance(item, dict) and item.get(EXTRA) == {"kept": True}, item


def test_model_extra_exposes_undeclared_fields() -> None:
    from patchbay.connectors.github import models as gh

    issue = gh.Issue.model_validate(
        {
            "id": 1,
            "number": 2,
            "title": "t",
            "state": "open",
            "created_at": "2026-01-02T03:04:05Z",
            "updated_at": "2026-01-02T03:04:05Z",
            "pinned_comment": None,
            "user": {"login": "octocat", "id": 1, "twitter_username": "octo"},
            "issue_field_values": [],
        }
    )
    assert isinstance(issue, BaseModel)
    assert issue.model_extra == {"pinned_comment": None, "issue_field_values": []}
    assert issue.user is not None and issue.user.model_extra == {"twitter_username": "octo"}
