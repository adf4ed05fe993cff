"""Attack: hostile command lines. Every row feeds the CLI an input that used to end in a
traceback (or echo a credential), with a planted secret on the command line (``--field``) and
in the environment; the CLI must answer with one line (``error: [code] …`` and exit 1, or
click's usage message and exit 2), never a traceback, and the secret must appear nowhere in
what it prints, in any encoding. Two rows also run as real processes to see real stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attack_support import Origin, Seen, assert_not_in_text, leak_forms, origin
from click.testing import CliRunner, Result

from patchbay.cli import main

ROOT = Path(__file__).resolve().parent.parent
#: Characters that percent-, form- and JSON-encoding change, so every form differs.
PLANTED = "sk_live_a+b/c=d%e&f_PLANTED_cli"
CLIENT_SECRET = "cs+PLANTED/client=secret%&"
#: A credential typed without its ``name=`` (so without any ``=`` at all).
TYPO = "sk_live_PLANTED_typo_without_equals"
DEEP = "[" * 100_000


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATCHBAY_STRIPE_API_KEY": PLANTED,
        "PATCHBAY_ZENDESK_CLIENT_SECRET": CLIENT_SECRET,
        "PATCHBAY_ZENDESK_CLIENT_ID": "client-id-FAKE",
        "PATCHBAY_SECRET_KEY": "",
        "PATCHBAY_STORE": str(tmp / "store.db"),
        "PATCHBAY_DEBUG": "",
    }
    env.update(extra)
    return env


def _workspace(tmp: Path) -> dict[str, str]:
    """Files the hostile rows point at: broken specs, a garbage store, a deep HAR."""
    broken = tmp / "broken-specs"
    broken.mkdir()
    (broken / "stripe.json").write_text('{"name": ', encoding="utf-8")
    (broken / "deep.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000, encoding="utf-8")
    (tmp / "empty-specs").mkdir()
    (tmp / "garbage.db").write_bytes(b"this is not a database")
    (tmp / "deep.har").write_text('{"log":' * 50_000 + "1" + "}" * 50_000, encoding="utf-8")
    (tmp / "a-file").write_text("x", encoding="utf-8")
    return {
        "broken": str(broken),
        "deep_spec": str(broken / "deep.json"),
        "empty": str(tmp / "empty-specs"),
        "garbage": str(tmp / "garbage.db"),
        "har": str(tmp / "deep.har"),
        "under_a_file": str(tmp / "a-file" / "sub" / "store.db"),
        "key": "u1bEmMZ5YVf2N0ovWl8OukC6N2Vd0K3Ab3xP0xkhQ7s=",
    }


FIELD = ["--field", f"api_key={PLANTED}"]
NOWHERE = "http://127.0.0.1:9/v1"  # nothing listens; no row gets as far as sending

# (id, args with {placeholders} from the workspace, extra env, exit code, expected text)
ROWS: list[tuple[str, list[str], dict[str, str], int, str]] = [
    ("contract-unknown", ["contract", "nosuch"], {}, 3, "error: [config] unknown connector"),
    ("call-unknown", ["call", "nosuch", "x", *FIELD], {}, 3, "error: [config] unknown connector"),
    ("connect-unknown", ["connect", "nosuch", *FIELD], {}, 3, "error: [config] unknown connector"),
    (
        "triggers-add-unknown",
        ["triggers", "add", "c1", "nosuch", "t"],
        {},
        3,
        "error: [config] unknown connector",
    ),
    ("mock-unknown", ["mock", "serve", "nosuch"], {}, 3, "error: [config] unknown connector"),
    ("fuzz-unknown", ["fuzz", "nosuch"], {}, 3, "error: [config] unknown connector"),
    ("record-unknown", ["record", "nosuch"], {}, 3, "error: [config] unknown connector"),
    (
        "webhooks-unknown",
        ["webhooks", "register", "nosuch", "--public-url", "https://hooks.example.test"],
        {},
        3,
        "error: [config] unknown connector",
    ),
    (
        "base-url-invalid-port",
        ["call", "stripe", "list_customers", "--base-url", "http://[::1", *FIELD],
        {},
        3,
        "error: [config] --base-url is not a usable http(s) URL",
    ),
    (
        "base-url-crlf",
        ["call", "stripe", "list_customers", "--base-url", f"{NOWHERE}\r\nX-Evil: 1", *FIELD],
        {},
        3,
        "error: [config] --base-url is not a usable http(s) URL",
    ),
    (
        "base-url-connect",
        ["connect", "stripe", "--base-url", "http://[::1", *FIELD],
        {"PATCHBAY_SECRET_KEY": "{key}"},
        3,
        "error: [config] --base-url is not a usable http(s) URL",
    ),
    (
        "oauth-base-url-invalid",
        ["connections", "delete", "c1", "--oauth-base-url", "http://[::1"],
        {"PATCHBAY_SECRET_KEY": "{key}"},
        3,
        "error: [config] --oauth-base-url is not a usable http(s) URL",
    ),
    (
        "input-not-json",
        ["call", "stripe", "list_customers", "--base-url", NOWHERE, "--input", "{nope"],
        {},
        3,
        "error: [config] --input is not JSON",
    ),
    (
        "input-too-deep",
        ["call", "stripe", "list_customers", "--base-url", NOWHERE, "--input", DEEP],
        {},
        3,
        "--input is not JSON: JSON nests deeper than",
    ),
    (
        "field-without-equals",
        ["call", "stripe", "list_customers", "--base-url", NOWHERE, "--field", f"api_key{TYPO}"],
        {},
        2,
        "expected name=value",
    ),
    (
        "spec-does-not-parse",
        ["--specs-dir", "{broken}", "contract", "stripe"],
        {},
        3,
        "error: [config] invalid connector spec",
    ),
    (
        "spec-does-not-exist",
        ["--specs-dir", "{empty}", "call", "stripey", "list_customers", *FIELD],
        {},
        3,
        "error: [config] unknown connector 'stripey'; did you mean 'stripe'?",
    ),
    ("spec-too-deep", ["validate", "{deep_spec}"], {}, 1, "nests deeper than"),
    (
        "secret-key-missing-list",
        ["connections", "list"],
        {},
        3,
        "error: [config] PATCHBAY_SECRET_KEY is not set",
    ),
    (
        "secret-key-missing-connect",
        ["connect", "stripe", *FIELD, "--base-url", NOWHERE],
        {},
        3,
        "error: [config] PATCHBAY_SECRET_KEY is not set",
    ),
    (
        "secret-key-missing-test",
        ["test-connection", "c1"],
        {},
        3,
        "error: [config] PATCHBAY_SECRET_KEY is not set",
    ),
    (
        "secret-key-is-the-secret",
        ["connections", "list"],
        {"PATCHBAY_SECRET_KEY": PLANTED},
        3,
        "error: [config] PATCHBAY_SECRET_KEY: key #1 is not a valid Fernet key",
    ),
    (
        "store-under-a-file",
        ["connections", "list", "--store", "{under_a_file}"],
        {"PATCHBAY_SECRET_KEY": "{key}"},
        3,
        "error: [config]",
    ),
    (
        "store-not-a-database",
        ["triggers", "list", "--store", "{garbage}"],
        {},
        3,
        "error: [config] subscription store",
    ),
    ("har-too-deep", ["record", "import", "{har}"], {}, 3, "error: [config] HAR file"),
    (
        "credential-not-ascii",
        ["call", "stripe", "list_customers", "--base-url", NOWHERE,
         "--field", f"api_key={PLANTED}é"],
        {},
        3,
        "error: [config]",
    ),
    (
        "input-lone-surrogate",
        ["call", "stripe", "list_customers", "--base-url", NOWHERE, *FIELD,
         "--input", '{"email": "\\ud800"}'],
        {},
        3,
        "error: [config]",
    ),
    (
        "variable-crlf",
        [
            "call", "zendesk", "list_tickets", "--auth", "api_token",
            "--field", "email=jo@example.test", "--field", f"api_token={PLANTED}",
            "--var", "subdomain=acme\r\nX-Evil: 1",
        ],
        {},
        3,
        "error: [config]",
    ),
]  # fmt: skip


def _fill(value: str, files: dict[str, str]) -> str:
    name = value[1:-1]
    return files[name] if value[:1] + value[-1:] == "{}" and name in files else value


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return _workspace(tmp_path)


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    # catch_exceptions: an exception escaping the CLI is recorded (and fails the row) instead of
    # stopping the test, the way a user would have seen a traceback.
    return CliRunner().invoke(main, args, env=env, catch_exceptions=True)


def _assert_clean(result: Result, code: int, expected: str) -> None:
    output = result.output
    escaped = result.exception
    assert escaped is None or isinstance(escaped, SystemExit), (
        f"an exception escaped the CLI: {escaped!r}"
    )
    assert "Traceback" not in output
    assert result.exit_code == code, output
    if expected.startswith("error: ["):  # the error line itself starts the right way
        assert any(line.startswith(expected) for line in output.splitlines()), output
    else:
        assert expected in output, output
    assert_not_in_text(output, PLANTED, CLIENT_SECRET, TYPO)


@pytest.mark.parametrize(
    ("args", "env", "code", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_hostile_input_answers_one_line_and_leaks_nothing(
    files: dict[str, str],
    tmp_path: Path,
    args: list[str],
    env: dict[str, str],
    code: int,
    expected: str,
) -> None:
    filled_env = _env(tmp_path, **{k: _fill(v, files) for k, v in env.items()})
    result = _invoke([_fill(a, files) for a in args], filled_env)
    _assert_clean(result, code, expected)


def _echo_everything(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
    """A hostile vendor answering 401 with the credential it got, in every encoding."""
    key = seen.headers.get("authorization", "").partition(" ")[2]
    message = " ".join([seen.path, *leak_forms(key)])
    body = {"error": {"message": f"bad key {message}", "code": "auth"}}
    return 401, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def hostile_vendor() -> Iterator[Origin]:
    with origin(_echo_everything) as running:
        yield running


@pytest.fixture
def restore_logging() -> Iterator[None]:
    import logging

    log = logging.getLogger("patchbay")
    handlers, level = list(log.handlers), log.level
    yield
    log.handlers[:] = handlers
    log.setLevel(level)


def test_vendor_echo_and_debug_logs_leak_nothing(
    hostile_vendor: Origin, tmp_path: Path, restore_logging: None
) -> None:
    args = ["--log-level", "debug", "call", "stripe", "list_customers"]
    args += ["--base-url", f"{hostile_vendor.url}/v1", *FIELD]
    result = _invoke(args, _env(tmp_path))
    _assert_clean(result, 1, "error: [auth_invalid]")
    assert hostile_vendor.requests, "the call reached the vendor, which echoed the key"
    assert '"event": "http.request"' in result.output


Run = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    def go(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full = {**os.environ, **_env(tmp_path, **env)}
        return subprocess.run(
            [sys.executable, "-m", "patchbay", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=full,
            timeout=120,
        )

    return go


def test_real_process_stderr_has_no_traceback_and_no_secret(run: Run) -> None:
    done = run("contract", "nosuch")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("error: [config] unknown connector 'nosuch'"), done.stderr
    assert "Traceback" not in done.stderr
    done = run("call", "stripe", "list_customers", "--base-url", "http://[::1", *FIELD)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: [config] --base-url"), done.stderr
    assert_not_in_text(done.stdout + done.stderr, PLANTED, CLIENT_SECRET)


def test_unexpected_errors_name_their_type_and_debug_shows_a_redacted_traceback(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug (here: a command whose code raises an arbitrary exception carrying the planted
    secret in its message) still answers one line, ``error: [internal] Type: …`` with a hint;
    ``PATCHBAY_DEBUG=1`` adds the traceback, scrubbed like everything else."""
    import patchbay.cli.call as cli

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"internal failure near {PLANTED}")

    monkeypatch.setattr(cli, "connection_from_sources", boom)
    args = ["call", "stripe", "list_customers", "--base-url", NOWHERE, *FIELD]
    plain = _invoke(args, _env(tmp_path))
    _assert_clean(plain, 1, "error: [internal] RuntimeError: internal failure near [REDACTED]")
    assert "PATCHBAY_DEBUG=1" in plain.output
    debug = _invoke(args, _env(tmp_path, PATCHBAY_DEBUG="1"))
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.output
    assert "in boom" in debug.output
    assert_not_in_text(debug.output, PLANTED)
