"""``docs/spec-reference.md``: every object of the spec format and its fields, rendered from
``connector.schema.json`` (so from the pydantic models and their field descriptions).

``python -m patchbay.codegen.spec_reference`` rewrites it; ``--check`` exits 1 when it is stale
(a test runs the same check in CI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from patchbay.runtime.spec import connector_json_schema

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "spec-reference.md"
_REF = "#/$defs/"


def _type(schema: Any) -> str:
    """A short type label: ``string``, ``list of Action``, ``Pagination | null``."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(_REF)
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return f"`{schema['const']!r}`".replace("'", '"')
    if "enum" in schema:
        return " \\| ".join(f'`"{v}"`' if isinstance(v, str) else f"`{v}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(_type(branch) for branch in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    if isinstance(kind, list):
        return " \\| ".join(kind)
    return str(kind or "any")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    properties = schema.get("properties") or {}
    if not properties:
        lines += [f"One of: {_type(schema)}.", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for key, prop in properties.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        lines.append(
            f"| `{key}` | {_type(prop)} | {'yes' if key in required else ''} | "
            f"{_cell(default)} | {_cell(prop.get('description', ''))} |"
        )
    lines.append("")
    return lines


def render_reference() -> str:
    schema = connector_json_schema()
    lines = [
        "# Connector spec reference",
        "",
        "<!-- Generated from runtime/spec/_model.py by `python -m patchbay.codegen.spec_reference`;"
        " do not edit. -->",
        "",
        "Every object of a connector spec (`specs/<name>.json`) and its fields. The top-level"
        " object is [ConnectorSpec](#connectorspec).",
        "",
    ]
    lines += _table("ConnectorSpec", schema)
    for name, definition in sorted(schema.get("$defs", {}).items()):
        lines += _table(name, definition)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = render_reference()
    if "--check" in argv:
        current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
        if current != text:
            print(f"{REFERENCE} is stale: run python -m patchbay.codegen.spec_reference")
            return 1
        return 0
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
