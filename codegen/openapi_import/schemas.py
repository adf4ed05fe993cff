"""OpenAPI schemas into the spec's JSON Schema 2020-12, and ``$defs`` holding only what is reached.

Component schemas stay references (``#/components/schemas/X`` -> ``#/$defs/X``), so recursive
schemas need nothing special: a component is converted once, whatever refers to it. Names are the
component names in PascalCase (the class names code generation gives them), so re-imports give
the same ``$defs``. Vendor prose (``description``, ``title``) and
examples are dropped unless the user keeps descriptions; the
facts (types, enums, formats, bounds, nullability, required) carry over.
"""

from __future__ import annotations

import re
from typing import Any

from patchbay.codegen.naming import pascal
from patchbay.codegen.openapi_import.document import DescriptionError, Document

COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
)
_DATA = ("enum", "const", "default")
# Formats the generated models would type with a package the install does not carry
# (pydantic's EmailStr needs email-validator); the value stays a plain string.
_FORMATS_NEEDING_EXTRAS = frozenset({"email", "idn-email"})
_PROSE = ("description", "title", "$comment")
_DROPPED = ("example", "examples", "discriminator", "xml", "externalDocs", "nullable", "$id")


def def_name(component: str) -> str:
    """The ``$defs`` name of a component schema: its words in PascalCase (the generated model's
    class name), e.g. ``full-repository`` -> ``FullRepository``, ``issuing.card`` ->
    ``IssuingCard``."""
    return _UNSAFE.sub("_", pascal(component)) or "_"


class SchemaConverter:
    """Converts schemas of one document and remembers which components they reach."""

    def __init__(self, doc: Document, *, keep_descriptions: bool = False) -> None:
        self.doc = doc
        self.keep_descriptions = keep_descriptions
        self.reached: dict[str, str] = {}  # component -> $defs name, in first-reached order
        self._names: dict[str, str] = {}
        self._inlining: set[str] = set()
        self.notes: list[str] = []
        components = (doc.data.get("components") or {}).get("schemas") or {}
        taken: set[str] = set()
        for name in sorted(components):
            candidate = base = def_name(name)
            n = 2
            while candidate in taken:
                candidate, n = f"{base}_{n}", n + 1
            taken.add(candidate)
            self._names[name] = candidate

    # ------------------------------------------------------------------------------ public

    def convert(self, schema: Any) -> dict[str, Any]:
        """A converted deep copy of ``schema``; component references become ``$defs`` refs."""
        out = self._convert(schema)
        return out if isinstance(out, dict) else {}

    def defs(self) -> dict[str, dict[str, Any]]:
        """Every reached component, converted, sorted by name (reaching more as it goes)."""
        components = (self.doc.data.get("components") or {}).get("schemas") or {}
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(self.reached):
            for component, name in list(self.reached.items()):
                if name not in done:
                    done[name] = self.convert(components[component])
        return dict(sorted(done.items()))

    def resolved(self, schema: Any) -> dict[str, Any]:
        """The document's schema with component refs followed (for reading, not for output)."""
        node = self.doc.resolve(schema)
        return node if isinstance(node, dict) else {}

    # ----------------------------------------------------------------------------- private

    def _ref(self, ref: str) -> Any:
        if ref.startswith(COMPONENT_PREFIX):
            component = ref[len(COMPONENT_PREFIX) :].replace("~1", "/").replace("~0", "~")
            if component not in self._names:
                raise DescriptionError(f"{self.doc.source}: $ref {ref!r} does not resolve")
            name = self._names[component]
            self.reached.setdefault(component, name)
            return {"$ref": DEFS_PREFIX + name}
        # Any other local pointer (a schema inside paths, say): inline it, once per chain.
        if ref in self._inlining:
            self.notes.append(f"recursive inline $ref {ref!r} cut to an empty schema")
            return {}
        self._inlining.add(ref)
        try:
            return self._convert(self.doc.pointer(ref))
        finally:
            self._inlining.discard(ref)

    def _convert(self, node: Any) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            return {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self._ref(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if not self.doc.is_31 or not isinstance(target, dict):
                # 3.0: siblings of $ref are ignored, except a nullable marker some vendors add.
                if siblings.get("nullable") is True and isinstance(target, dict):
                    return {"anyOf": [target, {"type": "null"}]}
                return target
            rest = self._convert(siblings)
            return {**target, **rest} if rest else target
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key.startswith("x-") or key in _DROPPED:
                continue
            if key in _PROSE:
                if self.keep_descriptions and isinstance(value, str):
                    out[key] = value
                continue
            if key in _DATA:
                out[key] = value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: self._convert(sub) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [self._convert(sub) for sub in value]
            elif key in _SCHEMA_ONE:
                out[key] = self._convert(value) if isinstance(value, dict | bool) else value
            elif key == "format" and value in _FORMATS_NEEDING_EXTRAS:
                continue
            elif key == "type" and value == "file":
                out["type"], out["format"] = "string", "binary"
            else:
                out[key] = value
        if not self.doc.is_31:
            _exclusive_bounds(node, out)
        if node.get("nullable") is True:
            out = _nullable(out)
        return out


def _exclusive_bounds(node: dict[str, Any], out: dict[str, Any]) -> None:
    """OpenAPI 3.0's boolean exclusiveMinimum/Maximum as JSON Schema's numbers."""
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value = node.get(flag)
        if isinstance(value, bool):
            out.pop(flag, None)
            if value and bound in out:
                out[flag] = out.pop(bound)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    for combinator in ("anyOf", "oneOf"):
        branches = schema.get(combinator)
        if isinstance(branches, list) and len(schema) == 1:
            if {"type": "null"} not in branches:
                return {combinator: [*branches, {"type": "null"}]}
            return schema
    return {"anyOf": [schema, {"type": "null"}]}
