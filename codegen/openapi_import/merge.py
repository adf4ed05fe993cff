"""Merging an import into an existing spec without losing what a person wrote.

The import owns the vendor's facts of the actions it brings (method, path, parameters, body
schema, output schema, their ``$defs``); everything else is kept as written: identity,
connection, auth, test connection, errors, rate limits, triggers, webhooks, and per action the
title, description, pagination, resource effect, headers, idempotency and auth. Hand-written
descriptions inside schemas survive where the imported schema has the same property.
"""

from __future__ import annotations

import copy
import json
from typing import Any

_VENDOR_KEYS = ("method", "path", "base_url", "parameters", "body")


def keep_descriptions(new: Any, old: Any) -> Any:
    """``new`` with ``description``/``title`` copied from ``old`` wherever both have the node."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    out = dict(new)
    for key in ("description", "title"):
        if key in old and key not in out:
            out[key] = old[key]
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict) and isinstance(old.get(key), dict):
            out[key] = {
                name: keep_descriptions(sub, old[key].get(name)) for name, sub in out[key].items()
            }
    for key in ("items", "additionalProperties"):
        if key in out:
            out[key] = keep_descriptions(out[key], old.get(key))
    return out


def _merge_params(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old_by = {(p["name"], p["in"]): p for p in old}
    out = []
    for param in new:
        before = old_by.get((param["name"], param["in"]))
        if before is not None:
            param = dict(param)
            if "description" in before:
                param["description"] = before["description"]
            param["schema"] = keep_descriptions(param["schema"], before.get("schema"))
        out.append(param)
    seen = {(p["name"], p["in"]) for p in new}
    out += [p for p in old if (p["name"], p["in"]) not in seen]  # hand-written extras stay
    return out


def _merge_action(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key in _VENDOR_KEYS:
        if key not in new:
            continue
        if key == "parameters":
            out[key] = _merge_params(old.get(key, []), new[key])
        elif key == "body" and isinstance(old.get("body"), dict):
            if old["body"].get("envelope") or old["body"].get("encoding") == "raw":
                continue  # a shape the import cannot see (Asana's data envelope): keep it
            body = dict(new["body"])
            body["schema"] = keep_descriptions(body["schema"], old["body"].get("schema"))
            out[key] = body
        else:
            out[key] = new[key]
    if "output" in new and "schema" in new["output"]:
        before = old.get("output", {})
        output = dict(before)
        output["schema"] = keep_descriptions(new["output"]["schema"], before.get("schema"))
        out["output"] = output
    if "pagination" not in old and "pagination" in new:
        out["pagination"] = new["pagination"]
    return out


def _about(line: str) -> str | None:
    """The action a TODO line is about, if any."""
    head = line.split(":", 1)[0]
    if head.startswith("actions/"):
        return head.split("/")[1]
    return None


def merge_spec(
    existing: dict[str, Any], imported: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The merged spec document and one line per change (empty: nothing changed)."""
    out = copy.deepcopy(existing)
    changes: list[str] = []
    variables = out.setdefault("connection", {}).get("variables", {})
    for name, var in imported.get("connection", {}).get("variables", {}).items():
        if name not in variables:
            variables[name] = var
            changes.append(f"+ connection/variables/{name}")
    if variables:
        out["connection"]["variables"] = variables
    known_auth = {v["name"] for v in out.get("auth", [])}
    actions = out.setdefault("actions", [])
    index = {a["name"]: i for i, a in enumerate(actions)}
    imported_names = set()
    for new in imported.get("actions", []):
        imported_names.add(new["name"])
        if "auth" in new and not set(new["auth"]) <= known_auth:
            new = {k: v for k, v in new.items() if k != "auth"}
        if new["name"] in index:
            old = actions[index[new["name"]]]
            merged = _merge_action(old, new)
            changed = sorted(k for k in set(merged) | set(old) if merged.get(k) != old.get(k))
            if changed:
                actions[index[new["name"]]] = merged
                changes.append(f"~ actions/{new['name']}: {', '.join(changed)}")
        else:
            actions.append(new)
            index[new["name"]] = len(actions) - 1
            changes.append(f"+ actions/{new['name']}")
    defs = out.get("$defs", {})
    for name, schema in imported.get("$defs", {}).items():
        if name in defs:
            merged_schema = keep_descriptions(schema, defs[name])
            if merged_schema != defs[name]:
                defs[name] = merged_schema
                changes.append(f"~ $defs/{name}")
        else:
            defs[name] = schema
            changes.append(f"+ $defs/{name}")
    if "errors" not in existing and imported.get("errors"):
        out["errors"] = imported["errors"]
        changes += [f"+ errors/{key}" for key in imported["errors"]]
    paged = {a["name"] for a in actions if "pagination" in a}
    old_todo = list(out.get("todo", []))
    todo = []
    for line in imported.get("todo", []):
        if line.startswith(("test_connection:", "auth:")) and line not in old_todo:
            continue  # the spec has both already, written by hand
        if _about(line) in paged and "/pagination:" in line:
            continue
        todo.append(line)
    todo += [line for line in old_todo if _about(line) not in imported_names]
    todo = list(dict.fromkeys(todo))
    if todo != out.get("todo", []):
        changes.append(f"~ todo: {len(todo)} open point(s)")
    if todo:
        out["todo"] = todo
    else:
        out.pop("todo", None)
    if defs:
        out["$defs"] = dict(sorted(defs.items())) if "$defs" not in existing else defs
    return _ordered(out), changes


def _ordered(spec: dict[str, Any]) -> dict[str, Any]:
    """Existing key order, with ``todo`` just before ``$defs`` when it is new."""
    if "todo" not in spec or "$defs" not in spec:
        return spec
    keys = [k for k in spec if k not in ("todo", "$defs")]
    return {**{k: spec[k] for k in keys}, "todo": spec["todo"], "$defs": spec["$defs"]}


def dump_spec(spec: dict[str, Any]) -> str:
    """The spec as the repository writes specs: two-space JSON, UTF-8, final newline."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
