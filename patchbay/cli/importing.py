"""``patchbay import openapi``: wiring only; the work is in :mod:`codegen.openapi_import`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchbay.cli._common import fail
from patchbay.extras import need_extra
from patchbay.project import current_project
from patchbay.runtime import PatchbayError
from patchbay.runtime.spec import SpecRegistry


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


@click.group(name="import")
def import_group() -> None:
    """Create or update connector specs from a vendor's published API description."""


@import_group.command()
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--connector", required=True, help="Connector name (lower_snake).")
@click.option("--operations", multiple=True, help="operationIds or action names, comma-separated.")
@click.option("--tags", multiple=True, help="Only operations with one of these tags.")
@click.option("--paths", "path_globs", multiple=True, help="Only paths matching a glob (/v1/*).")
@click.option(
    "--into",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Spec file to write or merge into (default: <specs-dir>/<connector>.json).",
)
@click.option(
    "--golden",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where documented examples go (default: the project's golden/).",
)
@click.option("--base-url", default=None, help="Base URL when the servers are relative or many.")
@click.option(
    "--source-url", default=None, help="Public URL of the description (fixtures cite it)."
)
@click.option(
    "--keep-descriptions",
    is_flag=True,
    help="Copy summaries and descriptions (only for a description you may copy, e.g. your own).",
)
@click.option(
    "--examples",
    "examples_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON/YAML object: component name -> the vendor's example of it (Stripe's "
    "fixtures3.json; its 'resources' key is read).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Into an existing spec: let the import overwrite the vendor facts of the actions it "
    "brings (inputs, bodies, outputs, $defs) instead of only adding what the spec lacks.",
)
@click.option(
    "--responses-only",
    is_flag=True,
    help="Into an existing spec: leave the parameters and bodies of its actions as they are "
    "(add to responses and $defs only).",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.pass_obj
def openapi(
    registry: SpecRegistry,
    document: Path,
    connector: str,
    operations: tuple[str, ...],
    tags: tuple[str, ...],
    path_globs: tuple[str, ...],
    into: Path | None,
    golden: Path | None,
    base_url: str | None,
    source_url: str | None,
    keep_descriptions: bool,
    examples_file: Path | None,
    replace: bool,
    responses_only: bool,
    dry_run: bool,
) -> None:
    """Import operations of an OpenAPI 3.x / Swagger 2.0 DOCUMENT (JSON or YAML)."""
    need_extra("codegen")
    from patchbay.codegen.openapi_import import (
        ImportOptions,
        Selection,
        dump_spec,
        import_openapi,
        load_document,
        load_examples,
        merge_spec,
    )

    target = into or registry.directory / f"{connector}.json"
    golden_root = golden or current_project().golden
    try:
        doc = load_document(document)
        examples = load_examples(examples_file) if examples_file is not None else {}
        options = ImportOptions(
            connector=connector,
            selection=Selection(_split(operations), _split(tags), _split(path_globs)),
            base_url=base_url,
            source_url=source_url,
            keep_descriptions=keep_descriptions,
            examples=examples,
        )
        result = import_openapi(doc, options)
        if target.exists():
            existing = json.loads(target.read_text(encoding="utf-8"))
            spec, changes = merge_spec(
                existing, result.spec, replace=replace, inputs=not responses_only
            )
        else:
            spec = result.spec
            changes = [f"+ {target} ({len(spec['actions'])} actions)"]
    except PatchbayError as exc:
        fail(exc)
    except (OSError, ValueError) as exc:
        fail(f"[config] {exc}")
    fixture_files = {
        golden_root / connector / action / f"{stem}.json": fixture
        for action, found in sorted(result.fixtures.items())
        for stem, fixture in sorted(found.items())
    }
    for line in changes:
        click.echo(line)
    for path in fixture_files:
        click.echo(f"+ {path}" if not path.exists() else f"= {path}")
    for line in spec.get("todo", []):
        click.echo(f"todo  {line}")
    if dry_run:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_spec(spec), encoding="utf-8")
    for path, fixture in fixture_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_spec(fixture), encoding="utf-8")
    click.echo(f"wrote {target}; next: patchbay validate {target} && patchbay generate {connector}")
