"""Deterministic example data from JSON Schemas, for responses no golden fixture covers.

The same schema, key and seed always give the same value, so snapshots of mock traffic are
stable; a different seed gives different (still schema-valid) data.
"""

from __future__ import annotations

import random
import re
import zlib
from typing import Any

from patchbay.runtime.spec import JsonSchema, resolve_schema

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


_DEEP = 6  # below this depth, optional parts are left out (null, [], not present)
_LIMIT = 40


def _is_object(schema: Any, defs: dict[str, JsonSchema]) -> bool:
    """Whether a branch is an object (an expanded resource) rather than a scalar such as its
    id."""
    node = resolve_schema(schema, defs) if isinstance(schema, dict) else {}
    kind = node.get("type")
    return "properties" in node or kind == "object" or (isinstance(kind, list) and "object" in kind)


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
            if depth > _DEEP and len(branches) < len(schema[key]):
                return None  # deep down, an optional object is left unset (its null branch)
            if isinstance(schema.get("discriminator"), dict) and branches:
                return _discriminated(schema["discriminator"], branches, defs, rng, depth)
            if depth > _DEEP:
                branches = sorted(branches, key=lambda b: _is_object(b, defs))  # ids first
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
        if depth > _DEEP and "null" in kind:
            return None
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties", {})
        if depth > _DEEP:
            # Deep down only what the schema requires, so nested vendor objects stay valid
            # and small; past _LIMIT nothing more (a cycle of required objects).
            required = set(schema.get("required", [])) if depth <= _LIMIT else set()
            props = {name: sub for name, sub in props.items() if name in required}
        return {
            name: synthesize(sub, defs, rng, depth + 1)
            for name, sub in props.items()
            if isinstance(sub, dict)
        }
    if kind == "array":
        if depth > _DEEP and not schema.get("minItems"):
            return []
        count = max(schema.get("minItems", 1), 1)
        return [synthesize(schema.get("items", {}), defs, rng, depth + 1) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
        high = int(schema.get("maximum", low + 1000))
        return rng.randint(low, max(low, high))
    if kind == "number":
        floor = float(schema.get("minimum", 0))
        return round(floor + rng.random() * 100, 2)
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
        candidates: tuple[str, ...] = (
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


_ESCAPES = {
    "d": "0123456789",
    "w": "abcdefghijklmnopqrstuvwxyz0123456789",
    "s": " ",
}


class _Unsupported(Exception):
    """The pattern uses a construct ``from_pattern`` does not expand."""


def _class_chars(spec: str) -> str:
    """The characters of a bracket class such as ``0-9a-fA-F`` or ``\\w.-`` (no negation)."""
    out, i = [], 0
    while i < len(spec):
        char = spec[i]
        if char == "\\" and i + 1 < len(spec):
            esc = spec[i + 1]
            out += list(_ESCAPES.get(esc, esc if not esc.isalnum() else ""))
            if esc.isalnum() and esc not in _ESCAPES:
                raise _Unsupported(spec)
            i += 2
        elif i + 2 < len(spec) and spec[i + 1] == "-":
            out += [chr(c) for c in range(ord(char), ord(spec[i + 2]) + 1)]
            i += 3
        else:
            out.append(char)
            i += 1
    return "".join(out)


class _PatternWriter:
    """Expands a pattern left to right: the first branch of every alternation, each atom
    repeated as its quantifier says, character pools indexed by the digits of ``n``."""

    def __init__(self, pattern: str, n: int) -> None:
        self.text, self.pos, self.n = pattern, 0, n

    def alternation(self) -> str:
        first = self.sequence()
        while self.pos < len(self.text) and self.text[self.pos] == "|":
            self.pos += 1
            self.sequence()  # later branches are parsed (to find the group's end), not used
        return first

    def sequence(self) -> str:
        out = []
        while self.pos < len(self.text) and self.text[self.pos] not in "|)":
            out.append(self.repeated())
        return "".join(out)

    def repeated(self) -> str:
        kind, value = self.atom()
        open_repeat = self.pos < len(self.text) and self.text[self.pos] in "*+"
        count = self.quantifier()
        if kind == "text":
            return value * (1 if open_repeat else count)
        # One character per digit of n, a different one for each digit value wherever the
        # pool has ten or more (so distinct numbers give distinct ids).
        digits = f"{self.n:0{count}d}"[-count:] if count else ""
        return "".join(value[(int(d) + 7 * i) % len(value)] for i, d in enumerate(digits))

    def quantifier(self) -> int:
        text, pos = self.text, self.pos
        if pos < len(text) and text[pos] in "?*+":
            self.pos += 1
            # Open repeats (+, *) get an id's usual length, so ids made from them stay distinct.
            return 1 if text[pos] == "?" else 14
        if pos < len(text) and text[pos] == "{":
            m = re.match(r"\{(\d+)(?:,(\d*))?\}", text[pos:])
            if m is None:
                raise _Unsupported(text)
            self.pos += m.end()
            low, high = int(m.group(1)), m.group(2)
            return 1 if low == 0 and high != "0" and high is not None else low
        return 1

    def atom(self) -> tuple[str, str]:
        """("text", literal) or ("pool", characters to pick from)."""
        text, char = self.text, self.text[self.pos]
        if char == "(":
            self.pos += 1
            if text.startswith("?:", self.pos):
                self.pos += 2
            elif text.startswith("?", self.pos):
                raise _Unsupported(text)  # look-arounds, named groups
            inner = self.alternation()
            if self.pos >= len(text) or text[self.pos] != ")":
                raise _Unsupported(text)
            self.pos += 1
            return "text", inner
        if char == "[":
            end = self.pos + 1
            while end < len(text) and (text[end] != "]" or end == self.pos + 1):
                end += 2 if text[end] == "\\" else 1
            spec = text[self.pos + 1 : end]
            if end >= len(text) or spec.startswith("^"):
                raise _Unsupported(text)
            self.pos = end + 1
            return self.pool(_class_chars(spec))
        if char == "\\":
            esc = text[self.pos + 1 : self.pos + 2]
            self.pos += 2
            if esc in _ESCAPES:
                return self.pool(_ESCAPES[esc])
            if not esc or esc.isalnum():
                raise _Unsupported(text)  # \b, \1, \D...
            return "text", esc
        if char in "^$":
            self.pos += 1
            return "text", ""
        if char in "{}*+?":
            raise _Unsupported(text)
        self.pos += 1
        if char == ".":
            return self.pool(_ESCAPES["w"])
        return "text", char

    def pool(self, chars: str) -> tuple[str, str]:
        if not chars:
            raise _Unsupported(self.text)
        return "pool", chars


def from_pattern(pattern: str, n: int) -> str | None:
    """A string for the patterns ids and versions use (``^(SM|MM)[0-9a-fA-F]{32}$``,
    ``^\\d+(\\.\\d+){2}$``): literals and escaped literals, ``.``, classes, ``\\d``/``\\w``/``\\s``,
    (nested, non-capturing) groups taking their first branch, and the usual quantifiers;
    varied by ``n``. None when the pattern has anything else (the caller then tries fixed
    candidates) or the result would not match."""
    writer = _PatternWriter(pattern, n)
    try:
        out = writer.alternation()
    except (_Unsupported, IndexError):
        return None
    if writer.pos != len(pattern):
        return None
    return out if re.search(pattern, out) else None
