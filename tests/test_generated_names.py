"""No generated class is named ``<Something>1``: a user should never meet a numbered name.

datamodel-code-generator names a union branch or a constrained array item after its field
plus a digit when the name is taken (``Customer1``, ``Record1``, ``CreatePageInputParent2``);
codegen's preprocessing gives those schemas names of their own. A trailing digit is allowed
only when the spec itself spells it: a ``$defs`` name, property name or title ending in a
digit (Stripe's ``p24`` gives ``PaymentMethodDetailsP24``, Dropbox's ``SearchMatchV2``).
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from patchbay.codegen.models import plan_models, render_models
from patchbay.codegen.naming import pascal
from patchbay.runtime.spec._model import ConnectorSpec

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
CONNECTORS = sorted(p.parent.name for p in GENERATED.glob("*/models.py"))
AWKWARD = ROOT / "tests/data/awkward.json"


def spec_digit_names(raw: object) -> set[str]:
    """PascalCase forms of every ``$defs`` name, property name and title that ends in a digit."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("$defs", "properties"):
                named = node.get(key)
                if isinstance(named, dict):
                    found.update(pascal(k) for k in named)
            if isinstance(node.get("title"), str):
                found.add(pascal(node["title"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw)
    return {name for name in found if name[-1:].isdigit()}


def numbered_classes(source: str, allowed: set[str]) -> list[str]:
    """Classes whose name ends in a digit that no spec name in ``allowed`` accounts for."""
    names = [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    return sorted(
        name
        for name in names
        if name[-1].isdigit() and not any(name.endswith(vendor) for vendor in allowed)
    )


def test_there_are_connectors_to_check() -> None:
    assert len(CONNECTORS) >= 18


@pytest.mark.parametrize("connector", CONNECTORS)
def test_no_generated_module_defines_a_numbered_class(connector: str) -> None:
    raw = json.loads((ROOT / "specs" / f"{connector}.json").read_text())
    allowed = spec_digit_names(raw)
    modules = sorted((GENERATED / connector).glob("*.py"))
    assert modules
    found = {m.name: numbered_classes(m.read_text(), allowed) for m in modules}
    assert {name: classes for name, classes in found.items() if classes} == {}


def test_the_check_flags_a_numbered_name_and_spares_a_vendor_digit() -> None:
    raw = {"$defs": {"SearchMatchV2": {"properties": {"p24": {}, "address_line1": {}}}}}
    allowed = spec_digit_names(raw)
    assert allowed == {"SearchMatchV2", "P24", "AddressLine1"}
    source = "class Customer1: ...\nclass PaymentMethodP24: ...\nclass SearchMatchV2: ...\n"
    source += "class ParentLine1: ...\nclass Outer:\n    class Inner2: ...\n"
    assert numbered_classes(source, allowed) == ["Customer1", "Inner2", "ParentLine1"]


def _hazards() -> dict[str, Any]:
    """awkward.json plus each shape that used to come out numbered."""
    raw: dict[str, Any] = json.loads(AWKWARD.read_text())
    raw["$defs"]["Widget"] = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "owner": {"anyOf": [{"type": "string", "maxLength": 50}, {"$ref": "#/$defs/Owner"}]},
            "labels": {
                "type": "array",
                "items": {
                    "anyOf": [{"$ref": "#/$defs/Label"}, {"type": "string"}],
                    "properties": {"name": {"type": "string"}},
                },
            },
            "p24": {"type": "object", "properties": {"bank": {"type": "string"}}},
        },
    }
    raw["$defs"]["Owner"] = {"type": "object", "properties": {"id": {"type": "string"}}}
    raw["$defs"]["Label"] = {"type": "object", "properties": {"name": {"type": "string"}}}
    raw["$defs"]["Record"] = {"type": "object", "properties": {"id": {"type": "string"}}}
    comment = {
        "type": "object",
        "properties": {"body": {"type": "string"}, "html_body": {"type": "string"}},
        "anyOf": [{"required": ["body"]}, {"required": ["html_body"]}],
    }
    kinds = [
        {"type": "object", "properties": {"kind": {"const": k}, "id": {"type": "string"}}}
        for k in ("page", "database")
    ]
    raw["actions"].append(
        {
            "name": "make_widget",
            "method": "POST",
            "path": "/widgets",
            "body": {
                "encoding": "json",
                "schema": {
                    "type": "object",
                    "properties": {
                        "owner": {
                            "anyOf": [
                                {"type": "string", "maxLength": 50},
                                {"$ref": "#/$defs/Owner"},
                            ]
                        },
                        "records": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^rec[0-9]{3}$"},
                        },
                        "comment": comment,
                        "parent": {"anyOf": kinds},
                        "size": {"anyOf": [{"type": "number", "minimum": 1}, {"enum": ["xl"]}]},
                    },
                },
            },
            "output": {"schema": {"$ref": "#/$defs/Widget"}},
        }
    )
    return raw


def _render(raw: dict[str, Any]) -> str:
    spec = ConnectorSpec.model_validate(copy.deepcopy(raw))
    return render_models(spec, plan_models(spec))


@pytest.fixture(scope="module")
def hazards() -> tuple[dict[str, Any], str]:
    raw = _hazards()
    return raw, _render(raw)


def test_every_hazard_gets_a_name_from_the_schema(hazards: tuple[dict[str, Any], str]) -> None:
    raw, source = hazards
    assert numbered_classes(source, spec_digit_names(raw)) == []
    classes = set(re.findall(r"^class (\w+)\(", source, re.MULTILINE))
    assert {
        "OwnerId",  # the id string next to the Owner it expands to
        "RecordsItem",  # a constrained array item (``Record`` is a $defs name)
        "MakeWidgetInputCommentWithBody",
        "MakeWidgetInputCommentWithHtmlBody",
        "MakeWidgetInputParentPage",  # named by its const discriminator
        "MakeWidgetInputParentDatabase",
        "SizeNumber",
        "WidgetP24",  # the vendor's own digit
    } <= classes
    assert re.search(r"^    labels: list\[Label \| str\] \| None", source, re.MULTILINE)


def test_the_named_branches_validate_what_the_schema_accepts(
    hazards: tuple[dict[str, Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, source = hazards
    module = types.ModuleType("hazard_models")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # pydantic resolves names here
    exec(compile(source, "hazard_models.py", "exec"), module.__dict__)
    namespace = module.__dict__
    model = namespace["MakeWidgetInput"]
    made = model.model_validate(
        {"owner": "o1", "records": ["rec123"], "comment": {"html_body": "<p>hi</p>"}}
    )
    assert type(made.comment).__name__ == "MakeWidgetInputCommentWithHtmlBody"
    assert type(made.owner).__name__ == "OwnerId"
    with pytest.raises(ValueError):
        model.model_validate({"comment": {}})  # neither body nor html_body
    with pytest.raises(ValueError):
        model.model_validate({"records": ["nope"]})
    widget = namespace["Widget"].model_validate({"id": "w", "labels": ["bug", {"name": "x"}]})
    assert widget.labels[0] == "bug" and type(widget.labels[1]).__name__ == "Label"


def test_names_are_byte_stable(hazards: tuple[dict[str, Any], str]) -> None:
    raw, source = hazards
    assert _render(raw) == source
