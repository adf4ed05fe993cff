"""``patchbay``: validate specs, call actions, run the demo. Wiring only; logic lives elsewhere.

Nothing a user types ends in a traceback: the root group answers every failure with one line,
``error: [code] message`` (exit 1) for Patchbay's own errors, click's usage message (exit 2)
for a malformed command line, and ``error: [internal] Type: message`` (exit 1) for a bug, whose
traceback ``PATCHBAY_DEBUG=1`` prints. Whatever is printed is first scrubbed of every secret
the command line or the environment handed in, in all their encodings.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

from patchbay.extras import need_extra
from patchbay.project import PROJECT, Project, current_project
from patchbay.runtime import CallOptions, GenericExecutor, PatchbayError
from patchbay.runtime.connection import connection_from_sources
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.limits import loads_json
from patchbay.runtime.observability import JsonFormatter, logger
from patchbay.runtime.redaction import Redactor
from patchbay.runtime.registry import SCHEMA_FILE, SpecRegistry, spec_files
from patchbay.runtime.spec import connector_json_schema
from patchbay.runtime.spec_loading import SpecInvalid, SpecProblem, check_spec_file

#: Set to 1 to print the traceback of an unexpected error (after the one-line message).
DEBUG_VARIABLE = "PATCHBAY_DEBUG"
#: ``PATCHBAY_*`` variables that configure Patchbay and hold nothing secret; every other one
#: (credentials, client secrets, ``PATCHBAY_SECRET_KEY``) is scrubbed from all output.
PLAIN_VARIABLES = frozenset(
    {
        "PATCHBAY_STORE",
        "PATCHBAY_SPECS_DIR",
        "PATCHBAY_RECORD_MODE",
        "PATCHBAY_PYTHON",
        DEBUG_VARIABLE,
    }
)
#: Options whose value is a secret (``--field`` holds ``name=secret``).
SECRET_OPTIONS = ("--field", "--secret")
_REDACTOR = "patchbay.redactor"


def cli_secrets(argv: Sequence[str], environ: Mapping[str, str]) -> Iterator[str]:
    """The secrets a command line carries: ``--field`` values (the whole argument when it
    lacks ``=``: a mistyped credential is still a credential), ``--secret`` values and every
    ``PATCHBAY_*`` environment value that is not plain configuration."""
    args = iter(argv)
    for arg in args:
        option, eq, inline = arg.partition("=")
        if option not in SECRET_OPTIONS:
            continue
        value = inline if eq else next(args, "")
        if option == "--field":
            name, sep, secret = value.partition("=")
            value = secret if sep and name else value
        yield value
    for key, value in environ.items():
        if key.startswith("PATCHBAY_") and key not in PLAIN_VARIABLES:
            yield value
            yield from value.split(",")  # PATCHBAY_SECRET_KEY holds comma-separated keys


def _redactor() -> Redactor:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get(_REDACTOR) if ctx is not None else None
    return found if isinstance(found, Redactor) else Redactor()


def printable(text: str) -> str:
    """``text`` redacted, with lone surrogates (undecodable bytes in argv) escaped, so
    printing it can neither leak a secret nor fail."""
    return _redactor().text(text).encode("utf-8", "backslashreplace").decode("utf-8")


def echo_error(message: str) -> None:
    """Print one redacted error line on stderr."""
    click.echo(printable(message), err=True)


def _fail(error: PatchbayError) -> NoReturn:
    echo_error(f"error: {error}")
    sys.exit(1)


def _debug_trace(exc: BaseException) -> None:
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        click.echo(printable("".join(traceback.format_exception(exc))), err=True, nl=False)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the original error
        return ""


class GuardedGroup(click.Group):
    """The root group: every exception a command raises becomes one redacted line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_REDACTOR] = Redactor(cli_secrets(args, os.environ))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:  # usage errors: click prints them (exit 2)
            exc.message = printable(exc.message)  # type: ignore[misc]  # click marks it Final
            raise
        except PatchbayError as exc:
            echo_error(f"error: {exc}")
            _debug_trace(exc)
        except OSError as exc:  # a file or socket the user named: a configuration problem
            detail = _safe_str(exc)
            echo_error(f"error: [config] {type(exc).__name__}" + (f": {detail}" if detail else ""))
            _debug_trace(exc)
        except Exception as exc:
            detail = _safe_str(exc)
            echo_error(
                f"error: [internal] {type(exc).__name__}" + (f": {detail}" if detail else "")
            )
            if os.environ.get(DEBUG_VARIABLE, "") in ("", "0"):
                echo_error(
                    f"hint: this is a Patchbay bug; rerun with {DEBUG_VARIABLE}=1 to see where"
                )
            _debug_trace(exc)
        ctx.exit(1)


class _RedactingFormatter(JsonFormatter):
    """JSON log lines scrubbed of the command line's secrets (a second layer: the runtime
    redacts what it logs already)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.text(super().format(record))


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            # Never echo the argument: for --field it is a credential someone mistyped.
            raise click.BadParameter(
                f"expected name=value, got an argument without a name and '=' "
                f"({len(item)} characters, not shown)",
                param_hint=what,
            )
        out[key] = value
    return out


def _json_input(text: str) -> Any:
    try:
        return loads_json(text)
    except ValueError as exc:  # invalid, or nested deeper than the limit
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--input") from None


def _http_url(value: str | None, option: str) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host; a ``config`` error (which
    does not repeat the URL: it may carry credentials) otherwise."""
    if value is None:
        return None
    problem = ""
    if any(c.isspace() or not c.isprintable() for c in value):
        problem = "it contains whitespace or control characters"
    else:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            problem = str(exc)
        else:
            if url.scheme not in ("http", "https"):
                problem = "the scheme must be http or https"
            elif not url.host:
                problem = "it has no host"
    if problem:
        raise ConfigError(f"{option} is not a usable http(s) URL: {problem}")
    return value


@click.group(cls=GuardedGroup)
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
@click.pass_context
def main(
    ctx: click.Context, specs_dir: Path | None, golden_dir: Path | None, log_level: str | None
) -> None:
    """Patchbay: connector specs in, typed and tested connectors out.

    Works on the project in the current directory: its specs/, golden/ and generated package,
    as [tool.patchbay] in the nearest pyproject.toml or the flags say. Connectors bundled with
    Patchbay (stripe, github, …) are usable by name; a project's spec of the same name wins."""
    if log_level is not None:
        handler = logging.StreamHandler()
        handler.setFormatter(_RedactingFormatter(ctx.meta.get(_REDACTOR) or Redactor()))
        logger.addHandler(handler)
        logger.setLevel(log_level.upper())
    env_specs = os.environ.get("PATCHBAY_SPECS_DIR")
    project = Project.discover(
        specs=specs_dir or (Path(env_specs) if env_specs else None), golden=golden_dir
    )
    ctx.meta[PROJECT] = project
    ctx.obj = SpecRegistry(project.specs)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def validate(registry: SpecRegistry, paths: tuple[Path, ...]) -> None:
    """Check specs against the schema and semantic rules (default: every spec)."""
    files: list[Path] = []
    for path in paths or (registry.directory,):
        files += spec_files(path) if path.is_dir() else [path]
    if not files:
        click.echo("error: no spec files found", err=True)
        sys.exit(1)
    problems: list[SpecProblem] = []
    for file in files:
        spec, found = check_spec_file(file)
        problems += found
        if spec is not None:
            click.echo(
                f"ok    {file}  ({spec.name}: {len(spec.actions)} actions, "
                f"{len(spec.triggers.polling)} polling trigger(s), "
                f"{len(spec.triggers.webhooks)} webhook(s))"
            )
            for note in spec.todo:  # open points an import left; they do not fail validation
                click.echo(f"todo  {file}: {note}")
        else:
            click.echo(f"FAIL  {file}")
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {len(files)} file(s)", err=True)
        sys.exit(1)


@main.command()
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
            sys.exit(1)
        click.echo(f"{target} is up to date")
        return
    if current != text:
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")
    else:
        click.echo(f"{target} unchanged")


@main.command()
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
@click.pass_obj
def generate(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    check: bool,
    force: bool,
    out: Path | None,
    package: str | None = None,
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
        _fail(exc)
    out_dir, package = project.out, project.package
    try:
        if check:
            drift = check_generated(registry.directory, out_dir, package)
            for line in drift.problems:
                click.echo(f"drift: {line}", err=True)
            if drift:
                click.echo("generated/ is out of date: run 'patchbay generate'", err=True)
                sys.exit(1)
            click.echo(f"{out_dir} matches the specs")
            return
        result = generate_all(
            registry.directory, out_dir, list(connectors) or None, force=force, package=package
        )
    except SpecInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo("nothing was generated", err=True)
        sys.exit(1)
    for name in result.written:
        click.echo(f"wrote    {out_dir / name}")
    for name in result.skipped:
        click.echo(f"skipped  {out_dir / name} (spec unchanged; --force to regenerate)")


@main.command()
@click.argument("connector")
@click.argument("action")
@click.option("--input", "input_json", default="{}", help="Action input as a JSON object.")
@click.option("--base-url", default=None, help="Send requests here instead of the vendor.")
@click.option("--auth", "auth_variant", default=None, help="Auth variant (default: the first).")
@click.option("--field", "fields", multiple=True, help="Credential name=value (repeatable).")
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.option("--all-pages", is_flag=True, help="Follow pagination and print every item.")
@click.option("--max-pages", type=click.IntRange(min=1), default=None)
@click.option("--max-items", type=click.IntRange(min=1), default=None)
@click.option("--idempotency-key", default=None)
@click.pass_obj
def call(
    registry: SpecRegistry,
    connector: str,
    action: str,
    input_json: str,
    base_url: str | None,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    all_pages: bool,
    max_pages: int | None,
    max_items: int | None,
    idempotency_key: str | None,
) -> None:
    """Run one action and print its result as JSON.

    Credentials come from --field or PATCHBAY_<CONNECTOR>_<FIELD> environment variables.
    """
    data = _json_input(input_json)
    try:
        base_url = _http_url(base_url, "--base-url")
        spec = registry.get(connector)
        connection = connection_from_sources(
            spec,
            auth=auth_variant,
            fields=_pairs(fields, "--field"),
            variables=_pairs(variables, "--var"),
            environ=dict(os.environ),
        )
        options = CallOptions(idempotency_key=idempotency_key)
        with GenericExecutor(spec, connection, base_url=base_url) as executor:
            if all_pages or max_pages or max_items:
                pager = executor.paginate(
                    action, data, options, max_pages=max_pages, max_items=max_items
                )
                result: Any = pager.all()
            else:
                result = executor.call(action, data, options)
    except PatchbayError as exc:
        _fail(exc)
    click.echo(json.dumps(result, indent=2, sort_keys=True))


def _store(path: str | Path | None) -> Any:
    from patchbay.runtime.stores import open_token_store

    return open_token_store(path)


_STORE_OPTION = click.option(
    "--store",
    "store_path",
    type=str,
    metavar="PATH|URL",
    default=None,
    help="Connection store: a SQLite file or a postgresql:// URL "
    "(default: $PATCHBAY_STORE or ~/.patchbay/connections.db).",
)


@main.command()
@click.argument("connector")
@click.option("--auth", "auth_variant", default=None, help="Auth variant (default: the first).")
@click.option("--field", "fields", multiple=True, help="Credential name=value (API keys).")
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead.")
@click.option("--base-url", default=None, help="Send the Test Connection request here.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@_STORE_OPTION
@click.pass_obj
def connect(
    registry: SpecRegistry,
    connector: str,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    no_browser: bool,
    base_url: str | None,
    timeout: float,
    store_path: str | None,
) -> None:
    """Connect an account: OAuth2 in the browser, or API keys (flags, env or hidden prompts)."""
    import webbrowser

    from patchbay.runtime.connect import connect_api_key, connect_oauth
    from patchbay.runtime.oauth import OAuthClient
    from patchbay.runtime.spec import OAuth2Auth

    try:
        base_url = _http_url(base_url, "--base-url")
        spec = registry.get(connector)
        variant = spec.auth[0] if auth_variant is None else spec.auth_variant(auth_variant)
        values = _pairs(variables, "--var")
        store = _store(store_path)
        if isinstance(variant, OAuth2Auth):
            client = OAuthClient.from_env(spec.name)

            def show(url: str) -> None:
                click.echo(f"Open this URL to authorize:\n{url}")
                if not no_browser:
                    webbrowser.open(url)

            result = connect_oauth(
                spec,
                store,
                client,
                open_url=show,
                auth=variant.name,
                variables=values,
                base_url=base_url,
                timeout=timeout,
            )
        else:
            base = connection_from_sources(
                spec, auth=variant.name, fields=_pairs(fields, "--field"), environ=dict(os.environ)
            ).credentials
            for name, field in variant.fields.items():
                if name not in base:
                    base[name] = click.prompt(name, hide_input=field.secret)
                    if field.secret:
                        _redactor().add(base[name])
            result = connect_api_key(
                spec,
                store,
                auth=variant.name,
                credentials=base,
                variables=values,
                base_url=base_url,
            )
    except KeyError as exc:
        echo_error(f"error: [config] unknown auth variant {exc}")
        sys.exit(1)
    except PatchbayError as exc:
        _fail(exc)
    conn = result.connection
    click.echo(f"connected {conn.connector} as {conn.account_label or '(no label)'}: id {conn.id}")


@main.command("test-connection")
@click.argument("connection_id")
@click.option("--base-url", default=None, help="Send the request here instead of the vendor.")
@_STORE_OPTION
@click.pass_obj
def test_connection_command(
    registry: SpecRegistry, connection_id: str, base_url: str | None, store_path: str | None
) -> None:
    """Check a stored connection: OK with its account label, or the error and what to do."""
    from patchbay.runtime.connect import check_stored_connection, hint_for

    try:
        base_url = _http_url(base_url, "--base-url")
        store = _store(store_path)
        spec = registry.get(store.get(connection_id).connector)
        check = check_stored_connection(spec, store, connection_id, base_url=base_url)
    except PatchbayError as exc:
        _fail(exc)
    if check.ok:
        click.echo(f"OK  {spec.name} {connection_id}: {check.account_label or '(no label)'}")
        return
    assert check.error is not None
    echo_error(f"FAILED  {spec.name} {connection_id}: {check.error}")
    echo_error(f"hint: {hint_for(spec, check.error)}")
    sys.exit(1)


@main.group()
def connections() -> None:
    """Stored connections (secrets are never shown)."""


@connections.command("list")
@_STORE_OPTION
def connections_list(store_path: str | None) -> None:
    try:
        rows = _store(store_path).list()
    except PatchbayError as exc:
        _fail(exc)
    click.echo(f"{'id':<14} {'connector':<16} {'auth':<14} {'status':<13} account")
    for c in rows:
        click.echo(
            f"{c.id:<14} {c.connector:<16} {c.auth:<14} {c.status:<13} {c.account_label or ''}"
        )


@connections.command("show")
@click.argument("connection_id")
@_STORE_OPTION
def connections_show(connection_id: str, store_path: str | None) -> None:
    try:
        c = _store(store_path).get(connection_id)
    except PatchbayError as exc:
        _fail(exc)
    shown = {
        "id": c.id,
        "connector": c.connector,
        "auth": c.auth,
        "status": c.status,
        "account_label": c.account_label,
        "account_id": c.account_id,
        "variables": sorted(c.variables),
        "credentials": sorted(c.credentials),
        "token_expires_at": c.expires_at,
        "has_refresh_token": bool(c.tokens and c.tokens.refresh_token),
    }
    click.echo(json.dumps(shown, indent=2))


@connections.command("delete")
@click.argument("connection_id")
@click.option("--keep-remote", is_flag=True, help="Do not revoke the grant at the vendor.")
@click.option("--force", is_flag=True, help="Delete locally even if the revocation fails.")
@click.option(
    "--oauth-base-url",
    default=None,
    help="Send the revocation (and a refresh it needs) to this origin instead of the vendor.",
)
@_STORE_OPTION
@click.pass_obj
def connections_delete(
    registry: SpecRegistry,
    connection_id: str,
    keep_remote: bool,
    force: bool,
    oauth_base_url: str | None,
    store_path: str | None,
) -> None:
    """Revoke the connection's grant at the vendor, then delete it from the store."""
    from patchbay.runtime.connect import OriginTransport, delete_connection

    try:
        oauth_base_url = _http_url(oauth_base_url, "--oauth-base-url")
        transport = OriginTransport(oauth_base_url) if oauth_base_url else None
        result = delete_connection(
            registry.get,
            _store(store_path),
            connection_id,
            keep_remote=keep_remote,
            force=force,
            transport=transport,
        )
    except PatchbayError as exc:
        _fail(exc)
    if result.error is not None:
        echo_error(f"error: revoking {connection_id} at the vendor failed: {result.error}")
    if not result.deleted:
        click.echo(
            f"kept {connection_id} (nothing lost): retry later, or delete it anyway with "
            "--force (revoke the app's access in the vendor's settings then)",
            err=True,
        )
        sys.exit(1)
    notes = {
        "revoked": "revoked at the vendor",
        "already_revoked": "already revoked at the vendor",
        "nothing_to_revoke": "nothing to revoke at the vendor (no revoke_url or an API key)",
        "kept": "not revoked at the vendor (--keep-remote)",
        "failed": "NOT revoked at the vendor (--force): revoke it in the vendor's settings",
    }
    click.echo(f"deleted {connection_id}: {notes[result.remote]}")


@connections.command("new-key")
def connections_new_key() -> None:
    """Print a fresh key for PATCHBAY_SECRET_KEY."""
    from patchbay.runtime.encryption import new_key

    click.echo(new_key())


@main.group()
def triggers() -> None:
    """Polling trigger subscriptions (stored beside the connections)."""


@triggers.command("add")
@click.argument("connection_id")
@click.argument("connector")
@click.argument("trigger")
@click.option("--interval", type=float, default=None, help="Seconds (default: the spec's).")
@click.option("--param", "params", multiple=True, help="Action input name=value (repeatable).")
@click.option("--backfill", type=click.IntRange(min=0), default=0, help="Deliver N existing items.")
@_STORE_OPTION
@click.pass_obj
def triggers_add(
    registry: SpecRegistry,
    connection_id: str,
    connector: str,
    trigger: str,
    interval: float | None,
    params: tuple[str, ...],
    backfill: int,
    store_path: str | None,
) -> None:
    from patchbay.runtime.polling import trigger_of
    from patchbay.runtime.trigger_runner import Subscription

    try:
        spec_trigger = trigger_of(registry.get(connector), trigger)
    except PatchbayError as exc:
        _fail(exc)
    sub = _subscriptions(store_path).add(
        Subscription(
            "",
            connection_id,
            connector,
            trigger,
            interval or spec_trigger.default_interval_seconds,
            params=_pairs(params, "--param"),
            backfill=backfill,
        )
    )
    click.echo(f"subscribed {connector}.{trigger} for {connection_id}: id {sub.id}")


@triggers.command("list")
@_STORE_OPTION
def triggers_list(store_path: str | None) -> None:
    click.echo(f"{'id':<14} {'trigger':<32} {'every':>6} {'status':<12} {'sent':>6}  message")
    for s in _subscriptions(store_path).list():
        name = f"{s.connector}.{s.trigger}"
        every = f"{s.interval_seconds:g}"
        click.echo(f"{s.id:<14} {name:<32} {every:>6} {s.status:<12} {s.delivered:>6}  {s.message}")


@triggers.command("show")
@click.argument("subscription_id")
@_STORE_OPTION
def triggers_show(subscription_id: str, store_path: str | None) -> None:
    try:
        sub = _subscriptions(store_path).get(subscription_id)
    except PatchbayError as exc:
        _fail(exc)
    shown = {**sub.__dict__, "seen": len(sub.seen)}
    click.echo(json.dumps(shown, indent=2, default=str))


@triggers.command("remove")
@click.argument("subscription_id")
@_STORE_OPTION
def triggers_remove(subscription_id: str, store_path: str | None) -> None:
    try:
        _subscriptions(store_path).remove(subscription_id)
    except PatchbayError as exc:
        _fail(exc)
    click.echo(f"removed {subscription_id}")


@triggers.command("run")
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: never).")
@_STORE_OPTION
@click.pass_obj
def triggers_run(registry: SpecRegistry, seconds: float | None, store_path: str | None) -> None:
    """Run every subscription; events are printed as JSON lines, with a status line per tick."""
    import asyncio

    from patchbay.runtime.events import TriggerEvent
    from patchbay.runtime.executor import AsyncGenericExecutor
    from patchbay.runtime.manager import IntegrationManager
    from patchbay.runtime.trigger_runner import Subscription, TriggerRunner

    manager = IntegrationManager(registry, store=_store(store_path), generic_enabled=True)

    def executors(connection_id: str) -> Any:
        spec, conn = manager.connection(connection_id)
        return spec, AsyncGenericExecutor(spec, conn)

    def emit(events: list[TriggerEvent]) -> None:
        for e in events:
            click.echo(
                json.dumps(
                    {"subscription": e.subscription, "key": e.dedupe_key, "payload": e.payload},
                    default=str,
                )
            )

    def status(subs: list[Subscription]) -> None:
        for s in subs:
            click.echo(
                f"# {s.id} {s.connector}.{s.trigger} {s.status} sent={s.delivered} {s.message}",
                err=True,
            )

    runner = TriggerRunner(_subscriptions(store_path), executors, emit)

    async def go() -> None:
        stop = asyncio.Event()
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, stop.set)
        await runner.run(stop=stop, on_tick=status, tick_seconds=5.0)

    asyncio.run(go())


def _subscriptions(path: str | Path | None) -> Any:
    from patchbay.runtime.stores import open_subscription_store

    return open_subscription_store(path)


@main.group()
def mock() -> None:
    """Spec-driven mock servers."""


@mock.command("serve")
@click.argument("connectors", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of synthetic data.")
@click.option("--records", type=click.IntRange(min=0), default=25, show_default=True)
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.pass_obj
def mock_serve(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    host: str,
    port: int,
    seed: int,
    records: int,
    variables: tuple[str, ...],
) -> None:
    """Serve mocks of CONNECTORS (default: the project's), each under /<connector>, until
    interrupted."""
    need_extra("mock")
    import uvicorn

    from patchbay.mocks.server import MockOptions, MockServer, MountedMocks

    try:
        project = current_project()
        names = list(connectors) or registry.names()
        if not names:
            raise ConfigError(f"no connector specs in {registry.directory}: name one to serve")
        values = _pairs(variables, "--var")
        specs = [registry.get(n) for n in names]
        servers = [
            MockServer(
                spec,
                MockOptions(
                    golden_root=project.golden_for(registry, spec.name),
                    seed=seed,
                    records=records,
                    mount=f"/{spec.name}",
                    shaped_credentials=True,
                    # Each connector takes the variables it declares (Twilio's account_sid).
                    variables={k: v for k, v in values.items() if k in spec.connection.variables},
                ),
            )
            for spec in specs
        ]
    except PatchbayError as exc:
        _fail(exc)
    origin = f"http://{host}:{port}"
    for server in servers:
        creds = ", ".join(f"{k}={v}" for k, v in sorted(server.credentials.items()))
        click.echo(f"{server.spec.name:<10} {server.local_base_url(origin)}   ({creds})")
    uvicorn.run(MountedMocks(servers), host=host, port=port, log_level="warning", interface="asgi3")


@main.command()
@click.argument("connectors", nargs=-1)
@click.pass_obj
def contract(registry: SpecRegistry, connectors: tuple[str, ...]) -> None:
    """Run the contract suite (every golden fixture through the generated client and the mock)."""
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
        _fail(exc)
    project.activate()
    results: dict[str, list[ContractResult]] = {}
    missing: list[str] = []
    for name in names:
        golden = project.golden_for(registry, name)
        package = project.package_for(registry, name)
        results.update(run_suite(registry, [name], golden, package))
        missing += missing_fixtures(registry, golden, [name])
    header = f"{'connector':<16} {'actions':>7} {'fixtures':>8} {'passed':>6} {'failed':>6}"
    click.echo(header)
    click.echo("-" * len(header))
    failed = 0
    for name in names:
        rows = results.get(name, [])
        bad = [r for r in rows if not r.ok]
        failed += len(bad)
        actions = len(registry.get(name).actions)
        passed = len(rows) - len(bad)
        click.echo(f"{name:<16} {actions:>7} {len(rows):>8} {passed:>6} {len(bad):>6}")
        for r in bad:
            click.echo(f"  FAIL {r.case.id}: {'; '.join(r.problems)}", err=True)
    for m in missing:
        click.echo(f"  no golden fixture for {m}", err=True)
    if failed or missing:
        sys.exit(1)


@main.command()
@click.argument("connectors", nargs=-1)
@click.option("--max-examples", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def fuzz(registry: SpecRegistry, connectors: tuple[str, ...], max_examples: int, seed: int) -> None:
    """Fuzz each connector's OpenAPI description against its in-process mock (schemathesis)."""
    need_extra("fuzz")
    from patchbay.codegen.openapi import openapi_document
    from patchbay.mocks.fuzzing import run_schemathesis

    failed = False
    for name in list(connectors) or registry.names():
        try:
            spec = registry.get(name)
        except PatchbayError as exc:
            _fail(exc)
        # Built from the spec itself, so fuzzing needs no generated package.
        document = openapi_document(spec)
        report = run_schemathesis(spec, document, max_examples=max_examples, seed=seed)
        click.echo(report.summary())
        failed = failed or not report.ok
    if failed:
        sys.exit(1)


@main.command()
@click.option("--items", type=click.IntRange(min=1), default=25, help="Records per stand-in.")
@click.option("--page-size", type=click.IntRange(min=1), default=10)
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
        _fail(exc)
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


def _attach_subcommands() -> None:
    """Command groups that live in their own modules (they stay wiring only)."""
    from patchbay.conformance_cli import conformance
    from patchbay.coverage_cli import coverage
    from patchbay.import_cli import import_group
    from patchbay.new_cli import new
    from patchbay.record_cli import record
    from patchbay.webhooks_cli import webhooks

    main.add_command(conformance)
    main.add_command(record)
    main.add_command(import_group)
    main.add_command(coverage)
    main.add_command(new)
    main.add_command(webhooks)


_attach_subcommands()
