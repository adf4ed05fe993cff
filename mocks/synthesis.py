"""Deterministic example data from JSON Schemas, for responses no golden fixture covers.

The same schema, key and seed always give the same value, so snapshots of mock traffic are
stable; a different seed gives different (still schema-valid) data.
"""

from __future__ import annotations

import random
import re
import zlib
from typing import Any

from patchbay.runtime.spec import JsonSchema
from patchbay.runtime.spec_checks import resolve_schema

_FORMATS = {
    "date-time": "2026-01-0{d}T12:00:00Z",
    "date": "2026-01-0{d}",
    "email": "user{n}@example.test",
    "uri": "https://example.test/r/{n}",
    "url": "https://example.test/r/{n}",
    "uuid": "00000000-0000-4000-8000-{n:012d}",
    "ipv4": "192.0.2.{d}",
    "rfc2822": "Thu, 0{d} Jan 2026 12:00:00 +0000",  # Twilio's dates (a spec-declared format)
    "iso4217": "usd",
}


def rng_for(seed: int, key: str) -> random.Random:
    """A generator that depends only on ``seed`` and ``key`` (stable across runs)."""
    return random.Random(zlib.crc32(f"{seed}:{key}".encode()))


def synthesize(
    schema: JsonSchema | bool | None,
    defs: dict[str, JsonSchema],
    rng: random.Random,
    depth: int = 0,
) -> Any:
    """A value valid under ``schema`` (for the keywords specs use), chosen by ``rng``."""
    if schema is None or schema is True or schema == {}:
        return None if depth else {}
    if schema is False:
        return None
    schema = resolve_schema(schema, defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][rng.randrange(len(schema["enum"]))]
    if "default" in schema and not isinstance(schema["default"], dict | list):
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if isinstance(b, dict) and b.get("type") != "null"]
            if isinstance(schema.get("discriminator"), dict) and branches:
                return _discriminated(schema["discriminator"], branches, defs, rng, depth)
            return synthesize(branches[0] if branches else {}, defs, rng, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for branch in schema["allOf"]:
            value = synthesize(branch, defs, rng, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        if depth > 6:
            return {}
        props = schema.get("properties", {})
        return {
            name: synthesize(sub, defs, rng, depth + 1)
            for name, sub in props.items()
            if isinstance(sub, dict)
        }
    if kind == "array":
        if depth > 6:
            return []
        count = max(schema.get("minItems", 1), 1)
        return [synthesize(schema.get("items", {}), defs, rng, depth + 1) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
        high = int(schema.get("maximum", low + 1000))
        return rng.randint(low, max(low, high))
    if kind == "number":
        low = float(schema.get("minimum", 0))
        return round(low + rng.random() * 100, 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    n = rng.randrange(1, 10_000)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt].format(n=n, d=n % 9 + 1)
    text = f"mock_{n}"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        candidates = (
            f"{n}.{n:06d}",
            str(n),
            text,
            f"{n:012x}",
            f"{n:010d}",
            "mock",
            f"MOCK{n}",
            "a" * max(1, n % 7),
        )
        expanded = from_pattern(pattern, n)
        if expanded is not None:
            candidates = (expanded, *candidates)
        text = next((c for c in candidates if re.search(pattern, c)), text)
    min_len = int(schema.get("minLength", 0))
    max_len = int(schema.get("maxLength", 64))
    if len(text) < min_len:
        text = text.ljust(min_len, "x")
    return text[: max(max_len, 1)]


def _discriminated(
    discriminator: dict[str, Any],
    branches: list[JsonSchema],
    defs: dict[str, JsonSchema],
    rng: random.Random,
    depth: int,
) -> Any:
    """One branch of a discriminated union, its tag property set to the value that names it
    (the mapping key pointing at its ``$ref``, else its own const/enum, else its ``$defs`` name),
    so a client dispatching on the tag picks the branch the data fits."""
    branch = branches[rng.randrange(len(branches))]
    value = synthesize(branch, defs, rng, depth + 1)
    tag = discriminator.get("propertyName")
    if not isinstance(tag, str) or not isinstance(value, dict):
        return value
    ref = branch.get("$ref")
    mapping = discriminator.get("mapping") or {}
    named = next((k for k, target in mapping.items() if target == ref), None)
    if named is None:
        prop = resolve_schema(branch, defs).get("properties", {}).get(tag, {})
        prop = resolve_schema(prop, defs) if isinstance(prop, dict) else {}
        if "const" in prop:
            named = prop["const"]
        elif prop.get("enum"):
            named = prop["enum"][0]
        elif isinstance(ref, str):
            named = ref.rsplit("/", 1)[-1]
    if named is not None:
        value[tag] = named
    return value


_TOKEN = re.compile(
    r"(?:\((?P<group>[^()]*)\)|\[(?P<cls>[^\]]+)\]|\\(?P<esc>[dw])|(?P<lit>[^\\^$()\[\]{}?*+|.]))"
    r"(?P<rep>\{\d+(?:,\d*)?\}|[?*+])?"
)


def _class_chars(spec: str) -> str:
    """The characters of a bracket class such as ``0-9a-fA-F`` (no negation, no escapes)."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out += [chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1)]
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


def from_pattern(pattern: str, n: int) -> str | None:
    """A string for the simple patterns ids use (``^(SM|MM)[0-9a-fA-F]{32}$``): literals, the
    first branch of a group, classes and ``\\d``/``\\w`` with a repeat; varied by ``n``. None
    when the pattern has anything else (the caller then tries fixed candidates)."""
    body = pattern.removeprefix("^").removesuffix("$")
    out, pos = [], 0
    for m in _TOKEN.finditer(body):
        if m.start() != pos:
            return None
        pos = m.end()
        if m.group("group") is not None:
            first = m.group("group").split("|")[0]
            if from_pattern(first, n) is None:
                return None
            unit = from_pattern(first, n) or ""
            pool = None
        elif m.group("cls") is not None:
            if m.group("cls").startswith("^"):
                return None
            pool = _class_chars(m.group("cls"))
        elif m.group("esc") is not None:
            pool = "0123456789" if m.group("esc") == "d" else "abcdefghijklmnopqrstuvwxyz0123456789"
        else:
            pool, unit = None, m.group("lit")
        rep = m.group("rep") or ""
        # Open repeats (+, *) get an id's usual length, so ids made from them stay distinct.
        count = 1 if rep in ("", "?") else int(re.findall(r"\d+", rep)[0]) if "{" in rep else 14
        if pool is None:
            out.append(unit * count)
        else:
            digits = f"{n:0{count}d}"[-count:] if count else ""
            # One character per digit, a different one for each digit value wherever the pool
            # has ten or more (so distinct numbers give distinct ids).
            out.append("".join(pool[(int(d) + 7 * i) % len(pool)] for i, d in enumerate(digits)))
    return "".join(out) if pos == len(body) else None
