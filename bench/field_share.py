"""How many of the vendor's response fields a spec in specs/ declares, per action.

    .venv/bin/python bench/field_share.py DESCRIPTION specs/stripe.json \
        list_customers=GetCustomers get_customer=GetCustomersCustomer [--depth 1]

For a paged action the items are compared (the page envelope is not the resource), for an
action with a ``result_path`` the object there; otherwise the whole result. Depth 1 counts the
resource's own fields, depth 2 also their sub-fields.
Fields the vendor marks ``writeOnly`` are not response fields and are not counted.
Prints declared / vendor fields and the share, per action and in total.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from patchbay.codegen.openapi_import import field_share, load_document  # noqa: E402
from patchbay.codegen.openapi_import.responses import success_response  # noqa: E402


def _prop(schema: Any, path: str, resolve: Any) -> Any:
    """The schema of the property at dotted ``path`` ('' = the body itself)."""
    node = resolve(schema)
    for part in [p for p in path.split(".") if p]:
        for branch in [node, *(node.get("allOf") or [])]:
            props = resolve(branch).get("properties") or {}
            if part in props:
                node = resolve(props[part])
                break
    return node


def _step(schema: Any, path: str, resolve: Any) -> Any:
    """The item schema of the list at ``path`` ('' = the body is the list)."""
    return _prop(schema, path, resolve).get("items", {})


def _write_only(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("writeOnly") is True


def _prop(schema: Any, name: str, resolve: Any) -> Any:
    """The schema of property ``name`` of an object schema (``{}`` when it has none)."""
    node = resolve(schema)
    for branch in [node, *(node.get("allOf") or [])]:
        props = resolve(branch).get("properties") or {}
        if name in props:
            return props[name]
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("description", type=Path)
    parser.add_argument("spec", type=Path)
    parser.add_argument("pairs", nargs="+", help="action=operationId")
    parser.add_argument("--depth", type=int, default=1)
    args = parser.parse_args()
    doc = load_document(args.description)
    ops = {op.get("operationId"): op for _, _, op, _ in doc.operations()}
    spec = json.loads(args.spec.read_text())
    defs = spec.get("$defs", {})
    actions = {a["name"]: a for a in spec["actions"]}

    def ours(node: Any) -> dict[str, Any]:
        for _ in range(32):
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not isinstance(ref, str):
                break
            node = defs[ref.rsplit("/", 1)[1]]
        return node if isinstance(node, dict) else {}

    def theirs(node: Any) -> dict[str, Any]:
        found = doc.resolve(node)
        if not isinstance(found, dict):
            return {}
        if isinstance(found.get("items"), list):
            # Slack's description lists alternatives as an ``items`` array: read it as anyOf.
            found = {**found, "anyOf": found["items"]}
            del found["items"]
        props = found.get("properties")
        if isinstance(props, dict) and any(_write_only(s) for s in props.values()):
            # a response never carries the fields only a request sends (Zendesk's tickets)
            kept = {k: s for k, s in props.items() if not _write_only(s)}
            found = {**found, "properties": kept}
        return found

    total_declared = total_vendor = 0
    for pair in args.pairs:
        name, _, op_id = pair.partition("=")
        action, success = actions[name], success_response(doc, ops[op_id])
        vendor, ours_schema = (success.schema if success else {}), action["output"]["schema"]
        pagination = action.get("pagination")
        if pagination is not None:
            vendor = _step(vendor, pagination["items_path"], theirs)
            ours_schema = _step(ours_schema, pagination["items_path"], ours)
        elif "." not in (result_path := action.get("output", {}).get("result_path") or "."):
            # an enveloped single resource ({"ticket": {...}}, Slack's ``channel``): compare it
            vendor = _prop(vendor, result_path, theirs)
            ours_schema = _prop(ours_schema, result_path, ours)
        share = field_share(vendor, theirs, ours_schema, ours, depth=args.depth)
        total_declared += share.declared
        total_vendor += share.vendor
        print(
            f"{name:<28} {op_id:<36} {share.declared:>4} / {share.vendor:<4} {share.percent:5.1f}%"
        )
    percent = 100.0 * total_declared / total_vendor if total_vendor else 100.0
    print(f"{'total':<65} {total_declared:>4} / {total_vendor:<4} {percent:5.1f}%")


if __name__ == "__main__":
    main()
