"""``patchbay demo``: validate, generate, contract, then page through one action per connector
on a local stand-in."""

from __future__ import annotations

import click

from patchbay.cli._common import fail
from patchbay.cli.contract import contract
from patchbay.cli.specs import generate, validate
from patchbay.extras import need_extra
from patchbay.runtime import PatchbayError
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.option("--items", type=click.IntRange(min=1), default=25, help="Records per stand-in.")
@click.option(
    "--page-size", type=click.IntRange(min=1), default=10, help="Items per page requested."
)
@click.pass_obj
def demo(registry: SpecRegistry, items: int, page_size: int) -> None:
    """The main job: validate every spec, regenerate clients, run the contract suite against
    the spec-driven mocks, then page through one action per connector on a local stand-in."""
    need_extra("codegen", "mock")
    from patchbay.mocks.demo import run_demo

    ctx = click.get_current_context()
    ctx.invoke(validate, paths=())
    click.echo("")
    ctx.invoke(generate, connectors=(), check=False, force=False, out=None)
    click.echo("")
    ctx.invoke(contract, connectors=())
    try:
        rows = run_demo(registry, items=items, page_size=page_size)
    except PatchbayError as exc:
        fail(exc)
    click.echo("")
    header = (
        f"{'connector':<10} {'action':<28} {'pages':>5} {'items':>5} {'requests':>8}  first ids"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        click.echo(
            f"{row.connector:<10} {row.action:<28} {row.pages:>5} {row.items:>5} "
            f"{row.requests:>8}  {', '.join(row.first_ids)}"
        )
    click.echo(f"\nevery call went over HTTP to a stand-in on 127.0.0.1 ({len(rows)} connectors)")
