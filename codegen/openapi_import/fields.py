"""How much of a vendor's response a spec declares: the share of the vendor's fields.

Fields are counted as dotted paths through object properties (arrays step into their items,
``anyOf``/``oneOf``/``allOf`` branches are merged, references are followed once per path so
recursive and expandable objects stay finite), to a fixed depth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Resolver = Callable[[Any], dict[str, Any]]


def field_paths(schema: Any, resolve: Resolver, depth: int = 2) -> set[str]:
    """Dotted property paths of ``schema`` down to ``depth`` levels (1 = top level only)."""
    out: set[str] = set()

    def walk(node: Any, prefix: str, level: int, seen: frozenset[str]) -> None:
        if not isinstance(node, dict) or level > depth:
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return
            seen = seen | {ref}
        node = resolve(node)
        for combinator in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(combinator) or []:
                walk(branch, prefix, level, seen)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, prefix, level, seen)
        for name, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{name}"
            out.add(path)
            walk(sub, f"{path}.", level + 1, seen)

    walk(schema, "", 1, frozenset())
    return out


@dataclass(frozen=True)
class FieldShare:
    declared: int
    vendor: int

    @property
    def percent(self) -> float:
        return 100.0 * self.declared / self.vendor if self.vendor else 100.0


def field_share(
    vendor_schema: Any,
    vendor_resolve: Resolver,
    spec_schema: Any,
    spec_resolve: Resolver,
    depth: int = 1,
) -> FieldShare:
    """How many of the vendor's field paths the spec's schema declares too."""
    vendor = field_paths(vendor_schema, vendor_resolve, depth)
    declared = field_paths(spec_schema, spec_resolve, depth) & vendor
    return FieldShare(len(declared), len(vendor))
