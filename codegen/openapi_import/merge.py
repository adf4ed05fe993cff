"""Merging an import into an existing spec without losing what a person wrote.

The default merge is *add-only* (:func:`merge_spec`): an action the spec already has keeps
everything written by hand (method, path, inputs and their encodings, constraints, ``required``
of inputs, ``$ref``s, pagination, mock block, resource effect, descriptions) and only gains what
the vendor declares and the spec lacks: new parameters, new body and response properties, enum
values, formats, nullability, ``required`` of response objects, and the new ``$defs`` those
reach. Alternatives the vendor allows besides the one the spec declares (an expandable id that
may come back as the object) are not added to an existing property. New actions come whole.
Identity, connection, auth, test connection, errors, rate limits, triggers and webhooks stay.

``replace=True`` is the older merge: the import owns the vendor's facts of the actions it
brings (method, path, parameters, body schema, output schema, their ``$defs``), keeping only
hand-written descriptions where the imported schema has the same node.
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
    existing: dict[str, Any],
    imported: dict[str, Any],
    *,
    replace: bool = False,
    inputs: bool = True,
) -> tuple[dict[str, Any], list[str]]:
    """The merged spec document and one line per change (empty: nothing changed).

    Add-only unless ``replace`` (see the module docstring); ``inputs=False`` leaves the
    parameters and bodies of existing actions alone (responses only)."""
    if not replace:
        return _add_only(existing, imported, inputs=inputs)
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


# ------------------------------------------------------------------------------- add-only

_REF = "#/$defs/"
_ALTERNATIVES = ("anyOf", "oneOf")


def _ref_name(node: Any) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    return ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    found = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    if "properties" in node:
        found.add("object")
    if "items" in node:
        found.add("array")
    if "enum" in node and not found:
        found |= {_json_type(v) for v in node["enum"]}
    if "const" in node and not found:
        found.add(_json_type(node["const"]))
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is_alternatives(node: dict[str, Any]) -> bool:
    """Whether the node is a choice of shapes (not an object with a rule like "one of these
    fields is required" written as ``oneOf`` beside its properties)."""
    return any(k in node for k in _ALTERNATIVES) and "properties" not in node and "type" not in node


def _without_null(node: Any) -> Any:
    """``node`` with null no longer allowed (for merging into a ``$defs`` entry that a
    nullable use refers to)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    kind = out.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [k for k in kind if k != "null"]
        out["type"] = rest[0] if len(rest) == 1 else rest
    if isinstance(out.get("enum"), list) and None in out["enum"]:
        out["enum"] = [v for v in out["enum"] if v is not None]
    if _is_alternatives(out):
        for key in _ALTERNATIVES:
            if isinstance(out.get(key), list):
                out[key] = [
                    b for b in out[key] if not (isinstance(b, dict) and b == {"type": "null"})
                ]
                if len(out[key]) == 1 and len(out) == 1:
                    return out[key][0]
    return out


def _allows_null(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if "null" in _types(node) or (None in node.get("enum", [None]) and "enum" in node):
        return True
    return any(_allows_null(b) for key in _ALTERNATIVES for b in node.get(key) or [])


class _AddOnly:
    """One add-only merge: ``defs`` are the spec's (changed in place), ``new_defs`` the
    import's; ``notes`` collects what each ``$defs`` entry gained."""

    def __init__(self, defs: dict[str, Any], new_defs: dict[str, Any]) -> None:
        self.defs = defs
        self.new_defs = new_defs
        self.notes: dict[str, list[str]] = {}
        self._seen: set[tuple[str, str]] = set()

    def _resolve_new(self, node: Any) -> Any:
        for _ in range(50):
            name = _ref_name(node)
            if name is None or name not in self.new_defs:
                return node
            node = self.new_defs[name]
        return node

    def schema(self, old: Any, new: Any, where: str, notes: list[str], *, output: bool) -> None:
        """Add to ``old`` (in place) what ``new`` declares and ``old`` lacks."""
        if not isinstance(old, dict) or not isinstance(new, dict):
            return
        old_name, new_name = _ref_name(old), _ref_name(new)
        if old_name is not None:
            if old_name == new_name or old_name not in self.defs:
                return  # the same entry: merged once, with the other $defs
            seen = (old_name, json.dumps(new, sort_keys=True))
            if seen in self._seen:
                return
            self._seen.add(seen)
            target = self._resolve_new(new)
            if _allows_null(target) and not _allows_null(self.defs[old_name]):
                self._add_null(old, where, notes)  # null belongs to this use, not the entry
            found = self.notes.setdefault(old_name, [])
            self.schema(self.defs[old_name], _without_null(target), "", found, output=True)
            return
        new = self._resolve_new(new)
        if not isinstance(new, dict):
            return
        if _is_alternatives(old):
            self._alternatives(old, new, where, notes, output=output)
            return
        if _is_alternatives(new):
            branches = [self._resolve_new(b) for k in _ALTERNATIVES for b in new.get(k) or []]
            match = self._matching(old, branches)
            if match is not None:
                self.schema(old, match, where, notes, output=output)
            if _allows_null(new) and not _allows_null(old):
                self._add_null(old, where, notes)
            return
        self._facts(old, new, where, notes)
        old_props, new_props = old.get("properties"), new.get("properties")
        if isinstance(new_props, dict) and (isinstance(old_props, dict) or "type" not in old):
            if not isinstance(old_props, dict) and "object" in _types(new):
                old_props = old.setdefault("properties", {})
            if isinstance(old_props, dict):
                for name, sub in new_props.items():
                    path = f"{where}.{name}" if where else name
                    if name in old_props:
                        self.schema(old_props[name], sub, path, notes, output=output)
                    else:
                        old_props[name] = copy.deepcopy(sub)
                        notes.append(f"+{path}")
        if output and isinstance(new.get("required"), list) and isinstance(old_props, dict):
            required = list(old.get("required", []))
            more = [r for r in new["required"] if r not in required and r in old_props]
            if more:
                old["required"] = required + more
                notes.append(f"required {where or '.'}: {', '.join(more)}")
        for key in ("items", "additionalProperties"):
            if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
                self.schema(old[key], new[key], f"{where}[]", notes, output=output)
            elif (
                key == "items"
                and key not in old
                and isinstance(new.get(key), dict)
                and "array" in _types(old)
            ):
                old[key] = copy.deepcopy(new[key])
                notes.append(f"items {where or '.'}")

    def _matching(self, old: dict[str, Any], branches: list[Any]) -> dict[str, Any] | None:
        """The branch of an alternative that describes what ``old`` declares."""
        name = _ref_name(old)
        kinds = _types(self.defs.get(name, {}) if name else old) - {"null"}
        for branch in branches:
            if isinstance(branch, dict) and kinds and kinds <= _types(branch) - {"null"}:
                return branch
        return None

    def _alternatives(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        where: str,
        notes: list[str],
        *,
        output: bool,
    ) -> None:
        key = next(k for k in _ALTERNATIVES if k in old)
        mine = old[key]
        offered = [self._resolve_new(b) for k in _ALTERNATIVES for b in new.get(k) or []] or [new]
        new_refs = {_ref_name(b): b for k in _ALTERNATIVES for b in new.get(k) or []}
        for branch in mine:
            if not isinstance(branch, dict) or _types(branch) == {"null"}:
                continue
            name = _ref_name(branch)
            if name is not None and name in new_refs:
                self.schema(branch, new_refs[name], where, notes, output=output)
                continue
            match = self._matching(branch, [b for b in offered if _types(b) != {"null"}])
            if match is not None:  # null is the alternatives' business, not the branch's
                self.schema(branch, _without_null(match), where, notes, output=output)
        if _allows_null(new) and not _allows_null(old):
            mine.append({"type": "null"})
            notes.append(f"nullable {where or '.'}")

    def _add_null(self, old: dict[str, Any], where: str, notes: list[str]) -> None:
        kind = old.get("type")
        if isinstance(kind, str):
            old["type"] = [kind, "null"]
        elif isinstance(kind, list):
            old["type"] = [*kind, "null"]
        elif _ref_name(old) is not None:
            ref = old.pop("$ref")
            old["anyOf"] = [{"$ref": ref}, {"type": "null"}]
        elif "enum" not in old and "const" not in old:
            return  # an open schema: null is already allowed
        if "enum" in old and None not in old["enum"]:
            old["enum"] = [*old["enum"], None]
        elif "const" in old:
            old["enum"] = [old.pop("const"), None]
        notes.append(f"nullable {where or '.'}")

    def _facts(
        self, old: dict[str, Any], new: dict[str, Any], where: str, notes: list[str]
    ) -> None:
        """Enum values, format and nullability ``new`` adds to the node ``old``."""
        if isinstance(old.get("enum"), list) and isinstance(new.get("enum"), list):
            more = [v for v in new["enum"] if v not in old["enum"]]
            if None in more and not _allows_null(old):
                more.remove(None)
                self._add_null(old, where, notes)
            more = [v for v in more if v is not None]
            if more:
                old["enum"] = [*old["enum"], *more]
                notes.append(f"enum {where or '.'}: {', '.join(json.dumps(v) for v in more)}")
        fmt = new.get("format")
        if (
            isinstance(fmt, str)
            and "format" not in old
            and "enum" not in old
            and "const" not in old
            and _types(old) - {"null"} <= _types(new)
        ):
            old["format"] = fmt
            notes.append(f"format {where or '.'}: {fmt}")
        if _allows_null(new) and not _allows_null(old) and (_types(old) or "$ref" in old):
            self._add_null(old, where, notes)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = _ref_name(item)
            if name is not None:
                found.add(name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _summary(notes: list[str]) -> str:
    added = [n[1:] for n in notes if n.startswith("+")]
    other = [n for n in notes if not n.startswith("+")]
    parts = [f"+ {', '.join(added)}"] if added else []
    return "; ".join(parts + other)


def _add_only(
    existing: dict[str, Any], imported: dict[str, Any], *, inputs: bool
) -> tuple[dict[str, Any], list[str]]:
    out = copy.deepcopy(existing)
    imported = copy.deepcopy(imported)
    changes: list[str] = []
    variables = out.setdefault("connection", {}).get("variables", {})
    for name, var in imported.get("connection", {}).get("variables", {}).items():
        if name not in variables:
            variables[name] = var
            changes.append(f"+ connection/variables/{name}")
    if variables:
        out["connection"]["variables"] = variables
    known_auth = {v["name"] for v in out.get("auth", [])}
    defs: dict[str, Any] = out.get("$defs", {})
    merger = _AddOnly(defs, imported.get("$defs", {}))
    actions = out.setdefault("actions", [])
    index = {a["name"]: i for i, a in enumerate(actions)}
    imported_names = set()
    for new in imported.get("actions", []):
        imported_names.add(new["name"])
        if "auth" in new and not set(new["auth"]) <= known_auth:
            new = {k: v for k, v in new.items() if k != "auth"}
        if new["name"] not in index:
            actions.append(new)
            index[new["name"]] = len(actions) - 1
            changes.append(f"+ actions/{new['name']}")
            continue
        old = actions[index[new["name"]]]
        if not inputs:
            new = {k: v for k, v in new.items() if k not in ("parameters", "body")}
        lines = _add_to_action(merger, old, new)
        if lines:
            changes.append(f"~ actions/{new['name']}: {'; '.join(lines)}")
    for name, schema in imported.get("$defs", {}).items():
        if name in defs:
            merger.schema(defs[name], schema, "", merger.notes.setdefault(name, []), output=True)
    for name in sorted(merger.notes):
        if merger.notes[name]:
            changes.append(f"~ $defs/{name}: {_summary(merger.notes[name])}")
    # New $defs: only those the merged spec reaches.
    reach = _refs({k: v for k, v in out.items() if k != "$defs"})
    todo_defs = sorted(reach)
    while todo_defs:
        name = todo_defs.pop()
        schema = defs.get(name, imported.get("$defs", {}).get(name))
        if name not in defs and schema is not None:
            defs[name] = schema
            changes.append(f"+ $defs/{name}")
        for ref in sorted(_refs(schema) - reach):
            reach.add(ref)
            todo_defs.append(ref)
    if "errors" not in existing and imported.get("errors"):
        out["errors"] = imported["errors"]
        changes += [f"+ errors/{key}" for key in imported["errors"]]
    paged = {a["name"] for a in actions if "pagination" in a}
    old_todo = list(out.get("todo", []))
    fresh = _new_names(existing, imported)
    todo = []
    for line in imported.get("todo", []):
        if line.startswith(("test_connection:", "auth:")) and line not in old_todo:
            continue
        if _about(line) in paged and "/pagination:" in line:
            continue
        about = _about(line)
        if about in index and about not in fresh and line not in old_todo:
            continue  # a point about an action a person already worked on
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
        if "$defs" in existing:
            added = [k for k in defs if k not in existing["$defs"]]
            kept = {k: defs[k] for k in existing["$defs"]}
            out["$defs"] = {**kept, **{k: defs[k] for k in sorted(added)}}
        else:
            out["$defs"] = dict(sorted(defs.items()))
    return _ordered(out), changes


def _new_names(existing: dict[str, Any], imported: dict[str, Any]) -> set[str]:
    have = {a["name"] for a in existing.get("actions", [])}
    return {a["name"] for a in imported.get("actions", []) if a["name"] not in have}


def _add_to_action(merger: _AddOnly, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Add to the existing action ``old`` (in place) what ``new`` declares and it lacks."""
    lines: list[str] = []
    params = old.get("parameters", [])
    have = {(p["name"], p["in"]): p for p in params}
    body_props = (old.get("body") or {}).get("schema", {}).get("properties", {})
    added = []
    for param in new.get("parameters", []):
        before = have.get((param["name"], param["in"]))
        if before is None:
            if param["in"] == "query" and param["name"] in body_props:
                continue  # declared by hand as a body field
            params.append(copy.deepcopy(param))
            added.append(param["name"])
            continue
        notes: list[str] = []
        merger.schema(before.setdefault("schema", {}), param.get("schema"), "", notes, output=False)
        if notes:
            lines.append(f"parameters/{param['name']} {_summary(notes)}")
    if added:
        old["parameters"] = params
        lines.insert(0, f"+ parameters {', '.join(added)}")
    new_body = new.get("body")
    if isinstance(new_body, dict) and "schema" in new_body:
        if not isinstance(old.get("body"), dict):
            old["body"] = copy.deepcopy(new_body)
            lines.append("+ body")
        elif old["body"].get("encoding") != "raw" and not old["body"].get("envelope"):
            notes = []
            merger.schema(
                old["body"].setdefault("schema", {}), new_body["schema"], "", notes, output=False
            )
            if notes:
                lines.append(f"body {_summary(notes)}")
    new_out = new.get("output")
    if isinstance(new_out, dict) and "schema" in new_out:
        if "output" not in old or "schema" not in old["output"]:
            old.setdefault("output", {})["schema"] = copy.deepcopy(new_out["schema"])
            lines.append("+ output")
        else:
            notes = []
            merger.schema(old["output"]["schema"], new_out["schema"], "", notes, output=True)
            if notes:
                lines.append(f"output {_summary(notes)}")
    if "pagination" not in old and "pagination" in new:
        old["pagination"] = copy.deepcopy(new["pagination"])
        lines.append("+ pagination")
    status = (new.get("mock") or {}).get("status")
    if status is not None and "status" not in (old.get("mock") or {}):
        old["mock"] = {"status": status, **old.get("mock", {})}
        lines.append(f"+ mock/status {status}")
    return lines
