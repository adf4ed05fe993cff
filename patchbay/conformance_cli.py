"""``patchbay conformance``: the vendors' official SDKs, unchanged, against the mocks.

Wiring only; the scenarios live in ``mocks.conformance``. Attached to the main group with
``main.add_command(conformance)``; ``ctx.obj`` is a SpecRegistry.
"""

from __future__ import annotations

import sys

import click

from patchbay.runtime.registry import SpecRegistry


@click.command()
@click.argument("sdks", nargs=-1)
@click.option(
    "--origin",
    default=None,
    help="A running `patchbay mock serve` (e.g. http://127.0.0.1:8765); default: serve here.",
)
@click.pass_obj
def conformance(registry: SpecRegistry, sdks: tuple[str, ...], origin: str | None) -> None:
    """Run each vendor SDK's scenario against the mocks; a table per SDK, exit 1 on a failure."""
    from patchbay.mocks.conformance import SDKS, run

    try:
        results = run(registry, list(sdks) or None, origin)
    except KeyError as exc:
        click.echo(
            f"error: [config] unknown SDK {exc.args[0]} (known: {', '.join(SDKS)})", err=True
        )
        sys.exit(1)
    failed = 0
    for name, steps in results.items():
        bad = steps.failed
        failed += len(bad)
        click.echo(f"{name}: {len(steps.done)} calls, {steps.passed} passed, {len(bad)} failed")
        width = max((len(s.name) for s in steps.done), default=10)
        for step in steps.done:
            verdict = "ok" if step.ok else "FAIL"
            reason = f"  {step.reason}" if step.reason else ""
            click.echo(f"  {step.name:<{width}}  {verdict}{reason}")
    sys.exit(1 if failed else 0)
