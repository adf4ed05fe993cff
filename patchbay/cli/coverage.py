"""``patchbay coverage``: the level each connector really reaches (DESIGN.md §7), computed by
exercising every criterion against the spec-driven mock. Wiring only; the logic is in
:mod:`mocks.coverage`. A report: it exits 0 whatever the levels are (3 for bad input).
"""

from __future__ import annotations

import json
import time

import click

from patchbay.cli._common import fail, note
from patchbay.extras import need_extra
from patchbay.project import current_project
from patchbay.runtime.errors import PatchbayError
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("connectors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--fuzz-examples",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Generated requests per operation in the bounded fuzz run (seed 0).",
)
@click.pass_obj
def coverage(
    registry: SpecRegistry, connectors: tuple[str, ...], as_json: bool, fuzz_examples: int
) -> None:
    """Compute each connector's coverage level and what it misses for the next one."""
    need_extra("mock", "fuzz")
    from patchbay.mocks.coverage import CoverageOptions, coverage_report, coverage_table

    project = current_project()
    project.activate()
    started = time.perf_counter()
    try:
        report = [
            item
            for name in list(connectors) or registry.names()
            for item in coverage_report(
                registry,
                [name],
                CoverageOptions(
                    golden_root=project.golden_for(registry, name),
                    package=project.package_for(registry, name),
                    fuzz_examples=fuzz_examples,
                ),
            )
        ]
    except PatchbayError as exc:
        fail(exc)
    seconds = time.perf_counter() - started
    if as_json:
        data = {"connectors": [c.as_json() for c in report], "seconds": round(seconds, 3)}
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(coverage_table(report))
    note(f"\n{len(report)} connector(s) in {seconds:.1f} s")
