"""``patchbay new NAME --auth KIND``: write a connector spec skeleton and its golden folder, then
print the next steps. Wiring only; the skeleton is built in :mod:`codegen.scaffold`."""

from __future__ import annotations

from pathlib import Path

import click

from patchbay.cli._common import fail
from patchbay.codegen.scaffold import AUTH_KINDS, AuthKind, write_scaffold
from patchbay.project import current_project
from patchbay.runtime.errors import PatchbayError
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("name")
@click.option("--auth", "auth", type=click.Choice(AUTH_KINDS), required=True)
@click.option("--base-url", default=None, help="The vendor's API base URL (a template).")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder holding specs/ and golden/ (default: the current project's).",
)
@click.pass_obj
def new(
    registry: SpecRegistry, name: str, auth: AuthKind, base_url: str | None, into: Path | None
) -> None:
    """Start a connector: a spec skeleton that validates, and its golden fixture folder."""
    project = current_project()
    specs_dir = into / "specs" if into is not None else registry.directory
    golden_root = into / "golden" if into is not None else project.golden
    try:
        made = write_scaffold(
            name, auth, specs_dir=specs_dir, golden_root=golden_root, base_url=base_url
        )
    except PatchbayError as exc:
        fail(exc)
    click.echo(f"wrote {made.spec_path} and {made.golden_dir}/")
    click.echo("next steps:")
    for number, step in enumerate(made.next_steps(), 1):
        click.echo(f"  {number}. {step}")
