"""Documented response examples into golden fixtures (``source: documented``).

A fixture is written only when the example validates against the action's imported output
schema: an example the vendor's own schema rejects is a finding for the TODO list, not a fixture
that would make the contract suite fail for the wrong reason. The input is the smallest one the
action accepts (required inputs, from documented parameter examples or obviously fake values).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from jsonschema import Draft202012Validator

from patchbay.codegen.openapi_import.document import Document
from patchbay.codegen.openapi_import.responses import Success
from patchbay.runtime.http import template_names

_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def _fake(schema: dict[str, Any], name: str) -> Any:
    """An obviously fake value of a schema's type (enum and default first)."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind in ("object", "array"):
        return None
    return f"example_{_UNSAFE.sub('_', name.lower()).strip('_') or 'value'}"


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _value(schema: dict[str, Any], name: str, sample: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value valid for ``schema``: the example's own field of that name (Twilio's account
    SID), else a documented example or default, else an obviously fake one; None if none fits."""
    candidates = [v for k, v in sample.items() if _key(k) == _key(name) and _scalar(v)]
    if _key(name).endswith("id") and _scalar(sample.get("id")):
        candidates.append(sample["id"])  # item_id names the item the example shows
    candidates += [schema[k] for k in ("example", "default") if k in schema]
    candidates += [v for v in schema.get("examples", []) if _scalar(v)]
    candidates.append(_fake(schema, name))
    validator = Draft202012Validator({**schema, "$defs": defs})
    for value in candidates:
        if value is not None and _scalar(value) and validator.is_valid(value):
            return value
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _examples(
    doc: Document, media: dict[str, Any], by_component: dict[str, Any]
) -> list[tuple[str, Any]]:
    """The media type's own examples; else the vendor's example object of the component the
    response is (kept beside the description, e.g. Stripe's fixtures3.json)."""
    found: list[tuple[str, Any]] = []
    if "example" in media:
        found.append(("documented", media["example"]))
    for name, raw in (media.get("examples") or {}).items():
        example = doc.resolve(raw)
        if isinstance(example, dict) and "value" in example:
            found.append((str(name), example["value"]))
    ref = (media.get("schema") or {}).get("$ref")
    prefix = "#/components/schemas/"
    if not found and isinstance(ref, str) and ref.startswith(prefix):
        component = ref[len(prefix) :]
        if component in by_component:
            found.append((component, by_component[component]))
    return found


def documented_fixtures(
    doc: Document,
    action: dict[str, Any],
    success: Success | None,
    *,
    base_url: str,
    variables: dict[str, Any],
    defs: dict[str, Any],
    source_url: str | None,
    todo: list[str],
    by_component: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """File stem -> fixture for each usable documented example of one action's success."""
    if success is None or success.media is None or "json" not in success.media:
        return {}
    media = (success.response.get("content") or {}).get(success.media) or {}
    examples = _examples(doc, media, by_component or {})
    if not examples:
        return {}
    where = f"actions/{action['name']}"
    if source_url is None:
        todo.append(f"{where}: documented examples were not written (give --source-url)")
        return {}
    body = action.get("body")
    if body is not None and body["encoding"] in ("multipart", "raw"):
        return {}
    sample = next((value for _, value in examples if isinstance(value, dict)), {})
    inputs: dict[str, Any] = {}
    for param in action.get("parameters", []):
        if not param.get("required"):
            continue
        value = _value(param["schema"], param["name"], sample, defs)
        if value is None:
            todo.append(f"{where}: no valid value for {param['name']!r}; no fixture written")
            return {}
        inputs[param["name"]] = value
    body_fields: dict[str, Any] = {}
    if body is not None:
        props = body["schema"].get("properties", {})
        for name in body["schema"].get("required", []):
            value = _value(props.get(name, {}), name, sample, defs)
            if value is None:
                todo.append(f"{where}: no valid value for {name!r}; no fixture written")
                return {}
            body_fields[name] = value
    inputs.update(body_fields)
    path = action["path"]
    for name in template_names(path):
        if name in inputs:
            path = path.replace(f"{{{name}}}", quote(_wire(inputs[name]), safe=""))
    base_path = urlsplit(base_url).path if "://" in base_url else ""
    for name in template_names(base_path):
        var = variables.get(name, {})
        base_path = base_path.replace(f"{{{name}}}", var.get("default") or f"mock_{name}")
    query = {
        p["name"]: [_wire(inputs[p["name"]])]
        for p in action.get("parameters", [])
        if p["in"] == "query" and p["name"] in inputs
    }
    request_body: Any = None
    if body is not None and body_fields:
        if body["encoding"] == "form":
            request_body = {k: [_wire(v)] for k, v in body_fields.items()}
        else:
            request_body = body_fields
    output_schema = action.get("output", {}).get("schema", {})
    validator = Draft202012Validator({**output_schema, "$defs": defs})
    out: dict[str, dict[str, Any]] = {}
    for name, value in examples:
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            pointer = "/".join(str(p) for p in error.absolute_path)
            todo.append(
                f"{where}: documented example {name!r} does not match the documented schema "
                f"at /{pointer} ({error.validator}); not written as a fixture"
            )
            continue
        slug = _UNSAFE.sub("-", name.lower()).strip("-") or "example"
        stem = "documented" if slug == "documented" else f"documented-{slug}"
        out[stem] = {
            "description": f"The vendor's documented example {name!r} for {action['name']}.",
            "source": "documented",
            "source_url": source_url,
            "input": dict(inputs),
            "request": {
                "method": action["method"],
                "path": base_path.rstrip("/") + path,
                "query": query,
                "headers": {},
                "body": request_body,
            },
            "response": {"status": success.status, "headers": {}, "body": value},
        }
    return out
