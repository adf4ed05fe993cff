"""Spec authoring help: closest-branch errors with a "did you mean", contract mismatches that
name the differing fields, and a described JSON Schema with its generated reference."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from patchbay.mocks.contract import ContractCase, run_case
from patchbay.mocks.golden import load_fixture
from patchbay.runtime.spec._loading import check_spec_data
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
STRIPE: dict[str, Any] = json.loads((ROOT / "specs/stripe.json").read_text())


def _paged_stripe_action() -> tuple[dict[str, Any], int]:
    doc = copy.deepcopy(STRIPE)
    index = next(i for i, a in enumerate(doc["actions"]) if a.get("pagination"))
    return doc, index


def test_a_typo_in_a_union_is_reported_against_the_closest_branch() -> None:
    doc, index = _paged_stripe_action()
    paging = doc["actions"][index]["pagination"]
    assert paging["style"] == "cursor"
    paging["cursor_parm"] = paging.pop("cursor_param", "starting_after")
    _, problems = check_spec_data(doc, "stripe.json")
    assert [(p.pointer, p.message) for p in problems] == [
        (
            f"/actions/{index}/pagination",
            "pagination (style 'cursor'): unknown key 'cursor_parm', did you mean 'cursor_param'?",
        )
    ]


def test_a_missing_key_in_the_right_branch_is_named_not_a_null_mismatch() -> None:
    doc, index = _paged_stripe_action()
    del doc["actions"][index]["pagination"]["items_path"]
    _, problems = check_spec_data(doc, "stripe.json")
    assert len(problems) == 1 and "'items_path' is a required property" in problems[0].message


def test_an_unknown_key_without_a_close_name_gets_no_guess() -> None:
    doc, index = _paged_stripe_action()
    doc["actions"][index]["pagination"]["zzz"] = 1
    _, problems = check_spec_data(doc, "stripe.json")
    assert problems[0].message == "pagination (style 'cursor'): unknown key 'zzz'"


def test_a_contract_body_mismatch_names_the_differing_fields(tmp_path: Path) -> None:
    source = ROOT / "golden/github/update_issue/documented.json"
    doc = json.loads(source.read_text())
    doc["request"]["body"]["state_reason"] = "not_planned"  # the input still says completed
    doc["request"]["body"]["milestone"] = 3
    broken = tmp_path / "mismatch.json"
    broken.write_text(json.dumps(doc))
    case = ContractCase("github", "update_issue", "mismatch", broken, load_fixture(broken))
    result = run_case(SpecRegistry().get("github"), case)
    problem = next(p for p in result.problems if p.startswith("the mock did not answer"))
    assert 'body field \'state_reason\': sent "completed", fixture has "not_planned"' in problem
    assert "body field 'milestone': not sent, fixture has 3" in problem


def test_every_property_of_the_published_schema_is_described() -> None:
    schema = json.loads((ROOT / "specs/connector.schema.json").read_text())
    missing = [
        f"{model}.{key}"
        for model, body in [("ConnectorSpec", schema), *schema["$defs"].items()]
        for key, prop in (body.get("properties") or {}).items()
        if not prop.get("description")
    ]
    assert missing == []


def test_the_spec_reference_is_in_sync_and_lists_every_field() -> None:
    from patchbay.codegen.spec_reference import REFERENCE, main, render_reference

    assert main(["--check"]) == 0, "run python -m patchbay.codegen.spec_reference"
    text = REFERENCE.read_text()
    assert text == render_reference()
    assert "## CursorPagination" in text and "| `cursor_param` | string | yes |" in text
