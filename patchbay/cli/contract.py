"""``patchbay contract``: every golden fixture through the generated client and the mock."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from patchbay.cli._common import (
    EXIT_FAILED,
    JSON_OPTION,
    emit_json,
    fail,
    note,
    paint,
    progress,
    table,
    verdict,
)
from patchbay.cli._reports import Case, Suite, report_options, write_reports
from patchbay.extras import need_extra
from patchbay.project import current_project
from patchbay.runtime import PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("connectors", nargs=-1)
@JSON_OPTION
@report_options
@click.pass_obj
def contract(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    as_json: bool = False,
    junit_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    """Run the contract suite (every golden fixture through the generated client and the mock).

    Exits 1 when a fixture fails or an action has no fixture (the `missing` column)."""
    need_extra("mock")
    from patchbay.mocks.contract import ContractResult, missing_fixtures, run_suite

    project = current_project()
    try:
        for name in connectors:  # unknown names fail before the suite runs
            registry.get(name)
        names = list(connectors) or registry.names()
        if not names:
            raise ConfigError(f"no connector specs in {registry.directory}")
    except PatchbayError as exc:
        fail(exc)
    project.activate()
    results: dict[str, list[ContractResult]] = {}
    missing: dict[str, list[str]] = {}
    for name in progress(names, "contract"):
        golden = project.golden_for(registry, name)
        package = project.package_for(registry, name)
        results.update(run_suite(registry, [name], golden, package))
        missing[name] = missing_fixtures(registry, golden, [name])
    suites: list[Suite] = []
    for name in names:
        actions = [a.name for a in registry.get(name).actions]
        suite = Suite(name, actions)
        for r in results.get(name, []):
            outcome = "passed" if r.ok else "failed"
            suite.cases.append(Case(r.case.action, r.case.name, outcome, "\n".join(r.problems)))
        for m in missing[name]:
            action = m.partition(".")[2]
            suite.cases.append(
                Case(action, "(no fixture)", "missing", f"no golden fixture for {m}")
            )
        suites.append(suite)
    write_reports("patchbay contract", suites, junit_path, html_path)
    bad = any(s.count("failed") or s.count("missing") for s in suites)
    if as_json:
        emit_json({"ok": not bad, "connectors": [_as_json(s) for s in suites]})
    else:
        rows = [
            [
                s.connector,
                str(len(s.actions)),
                str(s.count("passed") + s.count("failed")),
                str(s.count("passed")),
                str(s.count("failed")),
                str(s.count("missing")),
            ]
            for s in suites
        ]
        header = ["connector", "actions", "fixtures", "passed", "failed", "missing"]
        text = table(rows, header, right=range(1, 6))
        head, _, body = text.partition("\n")
        click.echo(head)
        click.echo("-" * len(head))
        for line, suite in zip(body.splitlines(), suites, strict=True):
            failed = suite.count("failed") or suite.count("missing")
            click.echo(paint(line, "red", bold=True) if failed else line)
        for suite in suites:
            for case in suite.cases:
                if case.outcome == "failed":
                    click.echo(
                        f"  {verdict(False, err=True)} {suite.connector}.{case.action}."
                        f"{case.name}: {case.detail.replace(chr(10), '; ')}",
                        err=True,
                    )
                elif case.outcome == "missing":
                    click.echo(f"  {case.detail}", err=True)
        if bad:
            note("hint: `patchbay record` or a documented payload fills a missing fixture")
    if bad:
        sys.exit(EXIT_FAILED)


def _as_json(suite: Suite) -> dict[str, Any]:
    return {
        "connector": suite.connector,
        "actions": len(suite.actions),
        "passed": suite.count("passed"),
        "failed": suite.count("failed"),
        "missing": suite.count("missing"),
        "cases": [
            {"action": c.action, "name": c.name, "outcome": c.outcome, "detail": c.detail}
            for c in suite.cases
        ],
    }
