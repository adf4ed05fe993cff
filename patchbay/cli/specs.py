"""``patchbay validate``, ``schema`` and ``generate``: the spec files and what is built from
them. Wiring only; the work is in :mod:`patchbay.runtime.spec._loading` and
:mod:`patchbay.codegen.generator`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from patchbay.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    JSON_OPTION,
    emit_json,
    fail,
    note,
    paint,
    progress,
    progress_shown,
    verdict,
)
from patchbay.extras import need_extra
from patchbay.project import Project, current_project
from patchbay.runtime import PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import (
    SCHEMA_FILE,
    SpecInvalid,
    SpecProblem,
    SpecRegistry,
    check_spec_file,
    connector_json_schema,
    spec_files,
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@JSON_OPTION
@click.pass_obj
def validate(registry: SpecRegistry, paths: tuple[Path, ...], as_json: bool = False) -> None:
    """Check specs against the schema and semantic rules (default: every spec)."""
    files: list[Path] = []
    for path in paths or (registry.directory,):
        files += spec_files(path) if path.is_dir() else [path]
    if not files:
        fail(ConfigError("no spec files found"))
    problems: list[SpecProblem] = []
    report: list[dict[str, Any]] = []
    for file in files:
        spec, found = check_spec_file(file)
        problems += found
        entry: dict[str, Any] = {"file": str(file), "ok": spec is not None}
        if spec is not None:
            entry.update(
                connector=spec.name,
                actions=len(spec.actions),
                polling_triggers=len(spec.triggers.polling),
                webhooks=len(spec.triggers.webhooks),
                todo=list(spec.todo),
            )
        entry["problems"] = [str(p) for p in found]
        report.append(entry)
        if as_json:
            continue
        if spec is not None:
            click.echo(
                f"{verdict(True, 'ok  ')}  {file}  ({spec.name}: {len(spec.actions)} actions, "
                f"{len(spec.triggers.polling)} polling trigger(s), "
                f"{len(spec.triggers.webhooks)} webhook(s))"
            )
            for todo in spec.todo:  # open points an import left; they do not fail validation
                click.echo(f"{paint('todo', 'yellow')}  {file}: {todo}")
        else:
            click.echo(f"{verdict(False)}  {file}")
    if as_json:
        emit_json({"ok": not problems, "files": report})
    else:
        for problem in problems:
            click.echo(str(problem), err=True)
    if problems:
        note(f"{len(problems)} problem(s) in {len(files)} file(s)")
        sys.exit(EXIT_FAILED)


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if the published schema is out of date.")
@click.pass_obj
def schema(registry: SpecRegistry, check: bool) -> None:
    """Write specs/connector.schema.json from the spec model (or --check it)."""
    target = registry.directory / SCHEMA_FILE
    text = json.dumps(connector_json_schema(), indent=2, sort_keys=True) + "\n"
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if check:
        if current != text:
            click.echo(f"{target} is out of date: run 'patchbay schema'", err=True)
            sys.exit(EXIT_FAILED)
        click.echo(f"{target} is up to date")
        return
    if current != text:
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")
    else:
        click.echo(f"{target} unchanged")


@click.command()
@click.argument("connectors", nargs=-1)
@click.option(
    "--check", is_flag=True, help="Exit 1 listing drifted or missing files; write nothing."
)
@click.option("--force", is_flag=True, help="Regenerate even specs whose hash is unchanged.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: [tool.patchbay] out, else ./connectors).",
)
@click.option(
    "--package",
    default=None,
    help="Dotted package name of the output folder (default: derived from --out, e.g. "
    "src/myapp/connectors -> myapp.connectors, or [tool.patchbay] package).",
)
@JSON_OPTION
@click.pass_obj
def generate(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    check: bool,
    force: bool,
    out: Path | None,
    package: str | None = None,
    as_json: bool = False,
) -> None:
    """Generate typed client packages from the project's specs into its output package."""
    need_extra("codegen")
    from patchbay.codegen.generator import check as check_generated
    from patchbay.codegen.generator import generate as generate_all

    project = current_project()
    try:
        if out is not None or package is not None:
            project = Project.discover(
                specs=project.specs, golden=project.golden, out=out, package=package
            )
        if not registry.names():
            raise ConfigError(
                f"no connector specs in {registry.directory} (start one: patchbay new NAME)"
            )
    except PatchbayError as exc:
        fail(exc)
    out_dir, package = project.out, project.package
    try:
        if check:
            drift = check_generated(registry.directory, out_dir, package)
            if as_json:
                emit_json({"ok": not drift, "out": str(out_dir), "drift": list(drift.problems)})
            else:
                for line in drift.problems:
                    click.echo(f"drift: {line}", err=True)
            if drift:
                note("generated/ is out of date: run 'patchbay generate'")
                sys.exit(EXIT_FAILED)
            if not as_json:
                click.echo(f"{out_dir} matches the specs")
            return
        names = list(connectors) or registry.names()
        written: list[str] = []
        skipped: list[str] = []
        if force and progress_shown(len(names)):  # one connector at a time, to show it
            for name in progress(names, "generating"):
                one = generate_all(registry.directory, out_dir, [name], force=True, package=package)
                written += one.written
                skipped += one.skipped
        else:
            result = generate_all(
                registry.directory, out_dir, list(connectors) or None, force=force, package=package
            )
            written, skipped = list(result.written), list(result.skipped)
    except SpecInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo("nothing was generated", err=True)
        sys.exit(EXIT_CONFIG)
    if as_json:
        emit_json(
            {
                "out": str(out_dir),
                "written": [str(out_dir / n) for n in written],
                "skipped": [str(out_dir / n) for n in skipped],
            }
        )
        return
    for name in written:
        click.echo(f"wrote    {out_dir / name}")
    for name in skipped:
        click.echo(f"skipped  {out_dir / name} (spec unchanged; --force to regenerate)")
