"""Shared check for the vendor-shape tests: a documented payload parses into the generated models
with every field it carries declared (nothing lands in ``model_extra``)."""

from __future__ import annotations

import importlib
import json
import typing
from pathlib import Path
from typing import Any

from patchbay.runtime import load_spec
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent


def undeclared(value: Any, where: str = "") -> list[str]:
    """Paths of the fields that a parsed model tree kept as extras."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{where}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += undeclared(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += undeclared(item, f"{where}[{index}]")
    return found


def _at(body: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        body = body[part]
    return body


def resource_model(connector: str, action: str) -> type[BaseModel]:
    """The generated model an action's client method answers (a pager's item model)."""
    module = importlib.import_module(f"patchbay.connectors.{connector}.client")
    client = next(
        v for k, v in vars(module).items() if k.endswith("Client") and not k.startswith("Async")
    )
    answer = typing.get_type_hints(getattr(client, action))["return"]
    model = (typing.get_args(answer) or (answer,))[0]
    assert isinstance(model, type) and issubclass(model, BaseModel), answer
    return model


def documented_fixtures(connector: str) -> list[Path]:
    """The connector's documented success fixtures that answer a JSON body."""
    out = []
    for path in sorted((ROOT / "golden" / connector).glob("*/*.json")):
        fixture = json.loads(path.read_text())
        response = fixture["response"]
        documented = fixture["source"] == "documented" and 200 <= response["status"] < 300
        if documented and response.get("body_encoding", "json") == "json" and response["body"]:
            out.append(path)
    return out


def undeclared_in_fixture(connector: str, path: Path) -> list[str]:
    """Parse a fixture's resource(s) with the generated model; the fields it left undeclared."""
    spec = load_spec(str(ROOT / "specs" / f"{connector}.json"))
    action = next(a for a in spec.actions if a.name == path.parent.name)
    result_path = action.output.result_path if action.output is not None else ""
    body = json.loads(path.read_text())["response"]["body"]
    model = resource_model(connector, action.name)
    if action.pagination is not None:
        items = _at(body, action.pagination.items_path) or []
        return undeclared([model.model_validate(item) for item in items])
    if result_path:
        body = _at(body, result_path)
    return undeclared(model.model_validate(body))
