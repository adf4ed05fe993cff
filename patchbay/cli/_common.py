"""What every command module of the CLI shares: the root group's error handling, exit codes,
redacted printing, colour, progress, ``--json`` output and the small option parsers.

Exit codes (README "Exit codes"): 0 ok; 1 checks failed (or the operation failed at the
vendor); 2 usage (click's malformed command line); 3 configuration or input error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

from patchbay.runtime import PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http import Redactor, loads_json
from patchbay.runtime.observability import JsonFormatter

EXIT_OK = 0
#: A check found problems (contract, fuzz, validate, generate --check, …) or a call failed.
EXIT_FAILED = 1
#: A malformed command line (click's own usage errors).
EXIT_USAGE = 2
#: A configuration or input error: unknown connector, bad spec folder, bad --input JSON, a
#: missing extra, an unreadable file.
EXIT_CONFIG = 3
#: ``PatchbayError`` codes that mean "what you gave me is wrong" rather than "it failed".
CONFIG_CODES = frozenset({"config", "validation"})

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
REDACTOR_KEY = "patchbay.redactor"
#: The root group's verbosity (``-v`` +1, ``-q`` -1), kept in the root context's meta.
VERBOSITY_KEY = "patchbay.verbosity"


def exit_code_for(error: PatchbayError) -> int:
    """The process exit code for a Patchbay error: 3 for configuration/input, else 1."""
    return EXIT_CONFIG if error.code in CONFIG_CODES else EXIT_FAILED


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


def redactor() -> Redactor:
    """The root group's redactor (a fresh one outside a command)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get(REDACTOR_KEY) if ctx is not None else None
    return found if isinstance(found, Redactor) else Redactor()


def printable(text: str) -> str:
    """``text`` redacted, with lone surrogates (undecodable bytes in argv) escaped, so
    printing it can neither leak a secret nor fail."""
    return redactor().text(text).encode("utf-8", "backslashreplace").decode("utf-8")


def verbosity() -> int:
    """0 by default, >0 with ``-v``, <0 with ``-q``."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get(VERBOSITY_KEY, 0) if ctx is not None else 0
    return found if isinstance(found, int) else 0


def echo_error(message: str) -> None:
    """Print one redacted error line on stderr."""
    click.echo(printable(message), err=True)


def note(message: str) -> None:
    """A secondary line on stderr (summaries, hints), silenced by ``-q``."""
    if verbosity() >= 0:
        click.echo(printable(message), err=True)


def fail(error: PatchbayError | str, code: int | None = None) -> NoReturn:
    """Print ``error: …`` and exit with the code the error maps to (3 for a plain message)."""
    if isinstance(error, PatchbayError):
        echo_error(f"error: {error}")
        sys.exit(exit_code_for(error) if code is None else code)
    echo_error(f"error: {error}")
    sys.exit(EXIT_CONFIG if code is None else code)


def use_colour(err: bool = False) -> bool:
    """Colour only on a terminal and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR", ""):
        return False
    stream = sys.stderr if err else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, colour: str, *, err: bool = False, bold: bool = False) -> str:
    """``text`` in ``colour`` when colour is on for that stream, as is otherwise."""
    return click.style(text, fg=colour, bold=bold) if use_colour(err) else text


def verdict(ok: bool, text: str | None = None, *, err: bool = False) -> str:
    """``ok``/``FAIL`` (or ``text``) in green or red."""
    shown = text if text is not None else ("ok" if ok else "FAIL")
    return paint(shown, "green" if ok else "red", err=err, bold=not ok)


def progress_shown(count: int) -> bool:
    """Whether a progress bar over ``count`` items is drawn: stderr is a terminal, there is
    more than one item and ``-q`` is not given."""
    if count < 2 or verbosity() < 0:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress[T](items: Sequence[T], label: str) -> Iterator[T]:
    """Iterate ``items`` with a progress bar on stderr when :func:`progress_shown`."""
    if not progress_shown(len(items)):
        yield from items
        return
    with click.progressbar(
        items, label=label, file=sys.stderr, item_show_func=lambda i: str(i) if i else None
    ) as bar:
        yield from bar


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (redacted like everything else)."""
    click.echo(printable(json.dumps(data, indent=2, default=str)))


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
)


def debug_trace(exc: BaseException) -> None:
    if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
        click.echo(printable("".join(traceback.format_exception(exc))), err=True, nl=False)


def safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the original error
        return ""


class GuardedGroup(click.Group):
    """The root group: every exception a command raises becomes one redacted line and the
    exit code its kind maps to."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[REDACTOR_KEY] = Redactor(cli_secrets(args, os.environ))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        code = EXIT_FAILED
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:  # usage errors: click prints them (exit 2)
            exc.message = printable(exc.message)  # type: ignore[misc]  # click marks it Final
            raise
        except PatchbayError as exc:
            echo_error(f"error: {exc}")
            code = exit_code_for(exc)
            debug_trace(exc)
        except OSError as exc:  # a file or socket the user named: a configuration problem
            detail = safe_str(exc)
            echo_error(f"error: [config] {type(exc).__name__}" + (f": {detail}" if detail else ""))
            code = EXIT_CONFIG
            debug_trace(exc)
        except Exception as exc:
            detail = safe_str(exc)
            echo_error(
                f"error: [internal] {type(exc).__name__}" + (f": {detail}" if detail else "")
            )
            if os.environ.get(DEBUG_VARIABLE, "") in ("", "0"):
                echo_error(
                    f"hint: this is a Patchbay bug; rerun with {DEBUG_VARIABLE}=1 to see where"
                )
            debug_trace(exc)
        ctx.exit(code)


class RedactingFormatter(JsonFormatter):
    """JSON log lines scrubbed of the command line's secrets (a second layer: the runtime
    redacts what it logs already)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.text(super().format(record))


def pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    """``name=value`` arguments as a dict; a usage error (never echoing the argument)."""
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


def json_input(text: str, option: str = "--input") -> Any:
    """``text`` parsed as JSON; an input error (exit 3) otherwise."""
    try:
        return loads_json(text)
    except ValueError as exc:  # invalid, or nested deeper than the limit
        raise ConfigError(f"{option} is not JSON: {exc}") from None


def http_url(value: str | None, option: str) -> str | None:
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


def open_store(path: str | Path | None) -> Any:
    """The connection (token) store: a SQLite file or a postgresql:// URL (default:
    ``$PATCHBAY_STORE`` or ~/.patchbay/connections.db)."""
    from patchbay.runtime.stores import open_token_store

    return open_token_store(path)


def open_subscriptions(path: str | Path | None) -> Any:
    """The polling-trigger subscription store beside the connections."""
    from patchbay.runtime.stores import open_subscription_store

    return open_subscription_store(path)


def open_webhook_store(path: str | Path | None) -> Any:
    """The webhook subscription store beside the connections."""
    from patchbay.runtime.stores import open_webhook_store as open_hooks

    return open_hooks(path)


STORE_OPTION = click.option(
    "--store",
    "store_path",
    type=str,
    metavar="PATH|URL",
    default=None,
    help="Store: a SQLite file or a postgresql:// URL "
    "(default: $PATCHBAY_STORE or ~/.patchbay/connections.db).",
)


def table(rows: Iterable[Sequence[str]], header: Sequence[str], right: Iterable[int] = ()) -> str:
    """A plain text table: columns as wide as their widest cell, ``right`` aligned right."""
    body = [list(map(str, r)) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    right_set = set(right)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right_set else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in body)])
