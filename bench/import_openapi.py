"""Importing a chosen operation set from a vendor's full description, timed.

    .venv/bin/python bench/import_openapi.py path/to/stripe/openapi/spec3.json \
        [--operations GetCustomers,PostCustomers,...] [--repeat 5]

Prints, best of --repeat runs: reading and parsing the file alone (``json.loads`` or libyaml: the
baseline, measured in the same run), loading it as a description (parse + normalize), importing
the chosen operations (selection, schemas, reached $defs, fixtures), and the whole
``patchbay import openapi`` path, each with its ratio to the baseline. Target: < 10 s in all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from patchbay.codegen.openapi_import import (  # noqa: E402
    ImportOptions,
    Selection,
    dump_spec,
    import_openapi,
    load_document,
)

STRIPE_SET = (
    "GetCustomers,GetCustomersCustomer,PostCustomers,PostCustomersCustomer,"
    "DeleteCustomersCustomer,GetCharges,GetChargesCharge,PostPaymentIntents,"
    "GetPaymentIntentsIntent,PostRefunds,GetEvents,GetBalance"
)


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def parse_only(path: Path) -> Any:
    """The baseline: the file parsed by the fastest parser of its kind, nothing else."""
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.load(text, Loader=yaml.CSafeLoader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("description", type=Path)
    parser.add_argument("--operations", default=STRIPE_SET)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ids = tuple(o for o in args.operations.split(",") if o)
    options = ImportOptions("bench", Selection(operations=ids), source_url="https://example.test/")
    size = args.description.stat().st_size

    baseline, _ = best(args.repeat, lambda: parse_only(args.description))
    loading, doc = best(args.repeat, lambda: load_document(args.description))
    importing, result = best(args.repeat, lambda: import_openapi(doc, options))

    def whole() -> str:
        return dump_spec(import_openapi(load_document(args.description), options).spec)

    total, text = best(args.repeat, whole)
    print(f"description: {args.description} ({size / 1e6:.1f} MB, {len(doc.operations())} ops)")
    actions, defs = len(result.spec["actions"]), len(result.spec.get("$defs", {}))
    print(f"selected:    {actions} operations -> {defs} $defs, {len(text) / 1e3:.0f} kB of spec")
    for label, seconds in (
        ("parse alone (baseline)", baseline),
        ("load + normalize", loading),
        ("import selection", importing),
        ("whole import", total),
    ):
        print(f"{label:<30} {seconds * 1000:9.1f} ms  {seconds / baseline:6.2f}x baseline")
    print(f"target < 10 s: {'met' if total < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
