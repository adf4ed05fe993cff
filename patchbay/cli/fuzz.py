"""``patchbay fuzz``: each connector's OpenAPI description against its in-process mock."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from patchbay.cli._common import EXIT_FAILED, JSON_OPTION, emit_json, fail, progress
from patchbay.cli._reports import Case, Suite, report_options, write_reports
from patchbay.extras import need_extra
from patchbay.runtime import PatchbayError
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("connectors", nargs=-1)
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    default=25,
    show_default=True,
    help="Generated requests per operation.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed.")
@JSON_OPTION
@report_options
@click.pass_obj
def fuzz(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    max_examples: int,
    seed: int,
    as_json: bool = False,
    junit_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    """Fuzz each connector's OpenAPI description against its in-process mock (schemathesis)."""
    need_extra("fuzz")
    from patchbay.codegen.openapi import openapi_document
    from patchbay.mocks.fuzzing import FuzzReport, run_schemathesis

    try:
        specs = [registry.get(name) for name in list(connectors) or registry.names()]
    except PatchbayError as exc:
        fail(exc)
    reports: list[FuzzReport] = []
    suites: list[Suite] = []
    for spec in progress(specs, "fuzz"):
        # Built from the spec itself, so fuzzing needs no generated package.
        document = openapi_document(spec)
        report = run_schemathesis(spec, document, max_examples=max_examples, seed=seed)
        reports.append(report)
        suites.append(_suite(report, [a.name for a in spec.actions], _operation_ids(document)))
        if not as_json:
            click.echo(report.summary())
    write_reports("patchbay fuzz", suites, junit_path, html_path)
    failed = any(not r.ok for r in reports)
    if as_json:
        emit_json({"ok": not failed, "connectors": [_as_json(r) for r in reports]})
    if failed:
        sys.exit(EXIT_FAILED)


def _operation_ids(document: dict[str, Any]) -> dict[str, str]:
    """``METHOD /path`` (schemathesis' operation label) -> operationId."""
    out: dict[str, str] = {}
    for path, item in (document.get("paths") or {}).items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                out[f"{method.upper()} {path}"] = str(op["operationId"])
    return out


def _suite(report: Any, actions: list[str], ids: dict[str, str]) -> Suite:
    """A fuzz report as a report suite: one case per operation, filed under its action (the
    operationId; a derived operation such as ``<action>_continue`` under its own name)."""
    suite = Suite(report.connector, actions)
    for op in report.operations:
        action = ids.get(op.operation, op.operation)
        detail = "\n".join(str(f) for f in op.failures)
        outcome = "failed" if op.failures else "passed"
        suite.cases.append(Case(action, op.operation, outcome, detail))
    return suite


def _as_json(report: Any) -> dict[str, Any]:
    return {
        "connector": report.connector,
        "requests": report.examples,
        "ok": report.ok,
        "operations": [
            {
                "operation": op.operation,
                "examples": op.examples,
                "statuses": {str(k): v for k, v in sorted(op.statuses.items())},
                "failures": [
                    {
                        "kind": f.kind,
                        "summary": f.summary,
                        "status": f.status,
                        "count": f.count,
                        "reproduction": f.reproduction,
                    }
                    for f in op.failures
                ],
            }
            for op in report.operations
        ],
    }
