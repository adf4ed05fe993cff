"""A ``$defs`` entry's generated class carries the entry's name, whatever else is in the spec.

datamodel-code-generator names inline schemas after their field; when Stripe's ``payment_intent``
is ``string | PaymentIntent`` the string variant used to take ``PaymentIntent`` and the real model
became ``PaymentIntentModel``, so the client parsed responses with the string's class.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

from patchbay.codegen.models import plan_models, read_models, render_models
from patchbay.runtime.spec._model import ConnectorSpec

SPEC = Path(__file__).resolve().parent.parent / "specs" / "stripe.json"


def _with_expandable_fields() -> ConnectorSpec:
    raw: dict[str, Any] = json.loads(SPEC.read_text())
    charge = raw["$defs"]["Charge"]
    for field, target in (("payment_intent", "PaymentIntent"), ("customer", "Customer")):
        charge["properties"][field] = {
            "anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": f"#/$defs/{target}"}]
        }
    return ConnectorSpec.model_validate(copy.deepcopy(raw))


def test_every_definition_keeps_its_name_when_an_inline_variant_wants_it() -> None:
    spec = _with_expandable_fields()
    plan = plan_models(spec)
    source = render_models(spec, plan)
    info, _ = read_models(source)
    for name in ("PaymentIntent", "Customer"):
        assert name in info.classes, f"{name} is not a model class"
        declared = {f.name for f in info.classes[name]}
        assert {"id", "object"} <= declared
        assert f"{name}Model" not in info.classes
    # the string variants are named after what they identify, and the union uses both
    tree = ast.parse(source)
    charge = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Charge")
    annotations = {
        ast.unparse(s.target): ast.unparse(s.annotation)
        for s in charge.body
        if isinstance(s, ast.AnnAssign)
    }
    assert "PaymentIntent" in annotations["payment_intent"].split(" | ")
    assert "PaymentIntentId" in annotations["payment_intent"].split(" | ")
    assert "CustomerId" in annotations["customer"].split(" | ")
    assert "PaymentIntentId" in info.roots and "CustomerId" in info.roots


def test_the_generated_module_imports_and_parses_with_the_real_model() -> None:
    spec = _with_expandable_fields()
    source = render_models(spec, plan_models(spec))
    namespace: dict[str, Any] = {}
    exec(compile(source, "models.py", "exec"), namespace)
    model = namespace["PaymentIntent"]
    assert "amount" in model.model_fields
