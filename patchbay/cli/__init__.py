"""``patchbay``: validate specs, generate clients, call actions, test against mocks.

Wiring only; logic lives elsewhere. One module per command group (``specs``: validate, schema,
generate; ``call``; ``connections``: connect, test-connection, connections; ``triggers``;
``mock``; ``contract``; ``fuzz``; ``demo``; ``record``; ``webhooks``; ``importing``; ``new``;
``coverage``; ``conformance``), shared helpers in ``_common``, reports in ``_reports``.

Nothing a user types ends in a traceback: the root group answers every failure with one line,
``error: [code] message``, and an exit code: 0 ok, 1 checks failed (or the call failed), 2 usage
(click's message), 3 configuration or input error; a bug prints ``error: [internal] Type:
message`` (exit 1), whose traceback ``PATCHBAY_DEBUG=1`` prints. Whatever is printed is first
scrubbed of every secret the command line or the environment handed in.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from pathlib import Path

import click

# Command modules are imported as modules (``patchbay.cli.call`` stays the module, not the
# command of the same name): the commands are attached below.
from patchbay.cli import (
    call,
    conformance,
    connections,
    contract,
    coverage,
    demo,
    fuzz,
    importing,
    mock,
    new,
    record,
    specs,
    triggers,
    webhooks,
)
from patchbay.cli._common import (
    DEBUG_VARIABLE,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PLAIN_VARIABLES,
    REDACTOR_KEY,
    SECRET_OPTIONS,
    VERBOSITY_KEY,
    GuardedGroup,
    RedactingFormatter,
    cli_secrets,
    echo_error,
    exit_code_for,
    printable,
)
from patchbay.project import PROJECT, Project
from patchbay.runtime.http import Redactor
from patchbay.runtime.observability import logger
from patchbay.runtime.spec import SpecRegistry

__all__ = [
    "DEBUG_VARIABLE",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PLAIN_VARIABLES",
    "SECRET_OPTIONS",
    "cli_secrets",
    "echo_error",
    "exit_code_for",
    "main",
    "printable",
    "version",
]


def version() -> str:
    """The installed distribution's version (``unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("patchbay")
    except metadata.PackageNotFoundError:
        return "unknown"


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"patchbay {version()}")
        ctx.exit(EXIT_OK)


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Print Patchbay's version and exit.",
)
@click.option(
    "--specs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where connector specs live (default: $PATCHBAY_SPECS_DIR, [tool.patchbay], ./specs).",
)
@click.option(
    "--golden-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where golden fixtures live (default: [tool.patchbay] golden, else ./golden).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Print Patchbay's structured (JSON, redacted) logs to stderr at this level.",
)
@click.option(
    "-v", "--verbose", count=True, help="Logs on stderr: -v info, -vv debug (as --log-level)."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Errors only: no summaries, hints or progress on stderr."
)
@click.pass_context
def main(
    ctx: click.Context,
    specs_dir: Path | None,
    golden_dir: Path | None,
    log_level: str | None,
    verbose: int = 0,
    quiet: bool = False,
) -> None:
    """Patchbay: connector specs in, typed and tested connectors out.

    Works on the project in the current directory: its specs/, golden/ and generated package,
    as [tool.patchbay] in the nearest pyproject.toml or the flags say. Connectors bundled with
    Patchbay (stripe, github, …) are usable by name; a project's spec of the same name wins.

    Exit codes: 0 ok, 1 checks failed, 2 usage error, 3 configuration or input error."""
    if verbose and quiet:
        raise click.UsageError("-v and -q contradict each other")
    ctx.meta[VERBOSITY_KEY] = -1 if quiet else verbose
    if log_level is None and verbose:
        log_level = "debug" if verbose > 1 else "info"
    if log_level is None and quiet:
        log_level = "error"
    if log_level is not None:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter(ctx.meta.get(REDACTOR_KEY) or Redactor()))
        logger.addHandler(handler)
        logger.setLevel(log_level.upper())
    env_specs = os.environ.get("PATCHBAY_SPECS_DIR")
    project = Project.discover(
        specs=specs_dir or (Path(env_specs) if env_specs else None), golden=golden_dir
    )
    ctx.meta[PROJECT] = project
    ctx.obj = SpecRegistry(project.specs)


for _command in (
    specs.validate,
    specs.schema,
    specs.generate,
    call.call,
    connections.connect,
    connections.test_connection_command,
    connections.connections,
    triggers.triggers,
    mock.mock,
    contract.contract,
    fuzz.fuzz,
    demo.demo,
    conformance.conformance,
    record.record,
    importing.import_group,
    coverage.coverage,
    new.new,
    webhooks.webhooks,
):
    main.add_command(_command)
