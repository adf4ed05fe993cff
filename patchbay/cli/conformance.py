"""``patchbay conformance``: the vendors' official SDKs, unchanged, against the mocks.

Wiring only; the scenarios live in ``mocks.conformance``. Attached to the main group with
``main.add_command(conformance)``; ``ctx.obj`` is a SpecRegistry.
"""

from __future__ import annotations

import sys

import click

from patchbay.cli._common import EXIT_FAILED, JSON_OPTION, emit_json, fail, verdict
from patchbay.extras import need_extra
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("sdks", nargs=-1)
@click.option(
    "--origin",
    default=None,
    help="A running `patchbay mock serve` (e.g. http://127.0.0.1:8765); default: serve here.",
)
@JSON_OPTION
@click.pass_obj
def conformance(
    registry: SpecRegistry, sdks: tuple[str, ...], origin: str | None, as_json: bool = False
) -> None:
    """Run each vendor SDK's scenario against the mocks; a table per SDK, exit 1 on a failure."""
    need_extra("conformance")
    from patchbay.mocks.conformance import SDKS, run

    try:
        results = run(registry, list(sdks) or None, origin)
    except KeyError as exc:
        fail(f"[config] unknown SDK {exc.args[0]} (known: {', '.join(SDKS)})")
    failed = sum(len(steps.failed) for steps in results.values())
    if as_json:
        emit_json(
            {
                "ok": not failed,
                "sdks": {
                    name: [{"step": s.name, "ok": s.ok, "reason": s.reason} for s in steps.done]
                    for name, steps in results.items()
                },
            }
        )
        sys.exit(EXIT_FAILED if failed else 0)
    for name, steps in results.items():
        bad = steps.failed
        click.echo(f"{name}: {len(steps.done)} calls, {steps.passed} passed, {len(bad)} failed")
        width = max((len(s.name) for s in steps.done), default=10)
        for step in steps.done:
            reason = f"  {step.reason}" if step.reason else ""
            click.echo(f"  {step.name:<{width}}  {verdict(step.ok)}{reason}")
    sys.exit(EXIT_FAILED if failed else 0)
