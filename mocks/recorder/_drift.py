"""Drift: recorded fixtures against the spec's response schemas."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from patchbay.mocks.golden import (
    Fixture,
)
from patchbay.runtime.spec import (
    ConnectorSpec,
    resolve_schema,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Drift:
    action: str
    path: str
    kind: Literal["new_field", "changed_type", "invalid"]
    detail: str
    fixture: Path

    def line(self, connector: str) -> str:
        where = self.path or "(body)"
        return f"{connector}.{self.action}: {self.kind.replace('_', ' ')} at {where}: {self.detail}"


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


def _branches(schema: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(schema, dict):
        return []
    schema = resolve_schema(schema, defs)
    subs = [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, [])]
    if not subs:
        return [schema]
    out = [schema] if ("type" in schema or "properties" in schema) else []
    for sub in subs:
        out += _branches(sub, defs)
    return out


def _types(branches: list[dict[str, Any]]) -> set[str] | None:
    """The JSON types the branches allow; None when any branch allows everything."""
    kinds: set[str] = set()
    for b in branches:
        t = b.get("type")
        if t is None:
            if "properties" in b:
                kinds.add("object")
                continue
            if "enum" in b or "const" in b:
                vals = b.get("enum", [b.get("const")])
                kinds |= {_json_type(v) for v in vals}
                continue
            return None
        kinds |= set(t) if isinstance(t, list) else {t}
    return kinds


def _walk_drift(
    value: Any, schema: Any, defs: dict[str, Any], at: str
) -> Iterator[tuple[str, str, str]]:
    branches = _branches(schema, defs)
    if not branches:
        return
    kinds = _types(branches)
    actual = _json_type(value)
    if kinds is not None:
        ok = actual in kinds or (actual == "integer" and "number" in kinds)
        if not ok:
            yield at, "changed_type", f"the spec says {'|'.join(sorted(kinds))}, recorded {actual}"
            return
    if isinstance(value, dict):
        props: dict[str, Any] = {}
        closed = False
        for b in branches:
            props.update(b.get("properties", {}))
            closed = closed or "properties" in b or b.get("additionalProperties") is False
        extra = next(
            (
                b["additionalProperties"]
                for b in branches
                if isinstance(b.get("additionalProperties"), dict)
            ),
            None,
        )
        for key, sub in value.items():
            where = f"{at}.{key}" if at else key
            if key in props:
                yield from _walk_drift(sub, props[key], defs, where)
            elif extra is not None:
                yield from _walk_drift(sub, extra, defs, where)
            elif closed:
                yield where, "new_field", f"{_json_type(sub)} not in the output schema"
    elif isinstance(value, list):
        items = next((b["items"] for b in branches if isinstance(b.get("items"), dict)), None)
        if items is not None:
            seen: set[tuple[str, str, str]] = set()
            for i, item in enumerate(value):
                for found in _walk_drift(item, items, defs, f"{at}[{i}]"):
                    key = (re.sub(r"\[\d+\]", "[*]", found[0]), found[1], found[2])
                    if key not in seen:
                        seen.add(key)
                        yield key


def drift(spec: ConnectorSpec, fixtures: dict[str, list[tuple[Path, Fixture]]]) -> list[Drift]:
    """What recorded 2xx responses carry that the action's output schema lacks (new fields) or
    types differently; each finding once per action, naming the first fixture that shows it."""
    out: list[Drift] = []
    for action_name, found in sorted(fixtures.items()):
        try:
            action = spec.action(action_name)
        except KeyError:
            out += [
                Drift(action_name, "", "invalid", "the spec has no such action", p)
                for p, _ in found[:1]
            ]
            continue
        if action.output.format != "json" or not action.output.schema_:
            continue
        seen: set[tuple[str, str]] = set()
        for path, fixture in found:
            if fixture.source != "recorded" or not 200 <= fixture.response.status < 300:
                continue
            for where, kind, detail in _walk_drift(
                fixture.response.body, action.output.schema_, spec.defs, ""
            ):
                if (where, kind) not in seen:
                    seen.add((where, kind))
                    out.append(Drift(action_name, where, kind, detail, path))  # type: ignore[arg-type]
    return out
