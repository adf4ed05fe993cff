"""``patchbay record``: record real traffic through mitmproxy, check drift, import HAR files.

Wiring only; the logic is in :mod:`mocks.recorder`. Attach with ``main.add_command(record)``.

    patchbay record CONNECTOR [--port 8080] [--out golden/] [--mode new]   # run the proxy
    patchbay record --check [CONNECTOR...]                                  # spec drift
    patchbay record import FILE.har [--connector NAME]                      # HAR -> fixtures
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from patchbay.cli._common import EXIT_FAILED, fail
from patchbay.extras import need_extra
from patchbay.mocks.recorder import (
    MODES,
    Recorder,
    RecordReport,
    RedactionRules,
    drift,
    exchanges_from_har,
    load_rules,
    rules_for,
    scan_fixtures,
    start_proxy,
)
from patchbay.mocks.routing import Router
from patchbay.project import current_project
from patchbay.runtime.errors import PatchbayError
from patchbay.runtime.spec import ConnectorSpec, SpecRegistry

_RECORD_MODES = [m for m in MODES if m != "none"]


class _RecordGroup(click.Group):
    """``record CONNECTOR`` and ``record --check`` run the default command; ``record import``
    the subcommand: a group cannot take a positional argument before its subcommand name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["proxy", *args]
        return super().parse_args(ctx, args)


def _rules(spec: ConnectorSpec, rules_file: Path | None) -> RedactionRules:
    rules = rules_for(spec)
    if rules_file is not None:
        rules = rules.merged(load_rules(rules_file))
    # Credentials configured the way `patchbay call` reads them are scrubbed by value too.
    prefix = f"PATCHBAY_{spec.name.upper()}_"
    for variant in spec.auth:
        for name, fld in variant.fields.items():
            value = os.environ.get(prefix + name.upper())
            if value and fld.secret:
                rules.secrets.add(value)
    return rules


def _print_report(report: RecordReport) -> None:
    for line in report.lines():
        click.echo(line)


def _fail(message: str) -> NoReturn:
    fail(message)  # an input or configuration problem: exit 3


@click.group("record", cls=_RecordGroup)
def record() -> None:
    """Record real HTTP traffic into redacted golden fixtures (through mitmproxy)."""


@record.command("proxy")
@click.argument("connectors", nargs=-1)
@click.option("--check", is_flag=True, help="Compare recordings with output schemas; no proxy.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the proxy listens.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Fixture root (default: the project's golden/).",
)
@click.option("--mode", type=click.Choice(_RECORD_MODES), default="new", show_default=True)
@click.option("--auth", "variant", default=None, help="Auth variant the traffic uses.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stand-in", "stand_ins", multiple=True, help="host:port serving as the vendor.")
@click.option("--confdir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--upstream-ca", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--insecure", is_flag=True, help="Do not verify the vendor's certificate.")
@click.pass_obj
def proxy(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    check: bool,
    port: int,
    host: str,
    out: Path | None,
    mode: str,
    variant: str | None,
    rules_file: Path | None,
    stand_ins: tuple[str, ...],
    confdir: Path | None,
    upstream_ca: Path | None,
    insecure: bool,
) -> None:
    """Run a recording proxy for CONNECTOR (or, with --check, report spec drift)."""
    need_extra("record")
    out = out or current_project().golden
    try:
        if check:
            _check(registry, list(connectors) or registry.names(), out)
            return
        if len(connectors) != 1:
            _fail("record needs exactly one CONNECTOR (or --check)")
        spec = registry.get(connectors[0])
        recorder = Recorder(
            spec,
            root=out,
            rules=_rules(spec, rules_file),
            variant=variant,
            mode=mode,  # type: ignore[arg-type]
            stand_ins=stand_ins,
        )
        for problem in recorder.report.problems:
            click.echo(f"problem: {problem}", err=True)
        running = start_proxy(
            recorder,
            host=host,
            port=port,
            confdir=confdir,
            upstream_ca=upstream_ca,
            insecure=insecure,
        )
    except PatchbayError as exc:
        _fail(str(exc))
    click.echo(f"recording {spec.name} on {running.url} into {out / spec.name}")
    click.echo(f"  HTTPS_PROXY={running.url} and trust {running.ca_cert}; Ctrl-C to stop")
    try:
        while running._thread.is_alive():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    _print_report(recorder.report)


def _check(registry: SpecRegistry, names: list[str], root: Path) -> None:
    findings = 0
    for name in names:
        spec = registry.get(name)
        fixtures, problems = scan_fixtures(name, root, recorded_only=True)
        for problem in problems:
            click.echo(f"problem: {problem}")
            findings += 1
        for item in drift(spec, fixtures):
            click.echo(f"{item.line(name)}  ({item.fixture})")
            findings += 1
    if findings:
        sys.exit(EXIT_FAILED)
    click.echo("recordings match the output schemas")


@record.command("import")
@click.argument("har", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--connector", "connector", default=None, help="Default: detected per entry.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Fixture root (default: the project's golden/).",
)
@click.option("--mode", type=click.Choice(_RECORD_MODES), default="new", show_default=True)
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stand-in", "stand_ins", multiple=True, help="host:port serving as the vendor.")
@click.pass_obj
def import_(
    registry: SpecRegistry,
    har: Path,
    connector: str | None,
    out: Path | None,
    mode: str,
    rules_file: Path | None,
    stand_ins: tuple[str, ...],
) -> None:
    """Turn a browser/devtools HAR file into redacted fixtures."""
    out = out or current_project().golden
    try:
        exchanges = exchanges_from_har(har)
        names = [connector] if connector else registry.names()
        recorders: dict[str, Recorder] = {}
        matchers = {n: Router(registry.get(n), stand_ins) for n in names}
        unmatched: list[str] = []
        for ex in exchanges:
            owner = next((n for n, m in matchers.items() if m.match(ex.method, ex.url)), None)
            if owner is None or ex.status < 100:
                unmatched.append(ex.summary())
                continue
            if owner not in recorders:
                spec = registry.get(owner)
                recorders[owner] = Recorder(
                    spec,
                    root=out,
                    rules=_rules(spec, rules_file),
                    mode=mode,  # type: ignore[arg-type]
                    stand_ins=stand_ins,
                )
            recorders[owner].record(ex)
    except PatchbayError as exc:
        _fail(str(exc))
    merged: dict[str, Any] = {}
    for rec in recorders.values():
        _print_report(rec.report)
        merged.setdefault("written", 0)
        merged["written"] += len(rec.report.written)
    if unmatched:
        click.echo(f"{len(unmatched)} entr(y/ies) matched no action:")
        for line in unmatched:
            click.echo(f"  {line}")
    click.echo(f"imported {merged.get('written', 0)} fixture(s) from {har}")
