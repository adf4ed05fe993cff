"""The CLI end to end: validate (good and broken copies), schema check, call over real HTTP."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from patchbay.cli import main
from patchbay.mocks.loopback import HandlerApp, serve

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests/data/kitchen_sink.json"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_validate_passes_on_every_shipped_spec() -> None:
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    shipped = sorted(
        p.stem for p in (ROOT / "specs").glob("*.json") if p.name != "connector.schema.json"
    )
    assert shipped, "there are specs to validate"
    for name in shipped:
        assert f"({name}: " in result.output


def _broken_copy(tmp_path: Path, edit: Any) -> Path:
    doc = json.loads(SINK.read_text())
    edit(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("edit", "pointer", "fragment"),
    [
        (
            lambda d: d["actions"][0].__setitem__("method", "FETCH"),
            "/actions/0/method",
            "is not one of",
        ),
        (
            lambda d: d["actions"][1].__setitem__("name", "list_records"),
            "/actions/1/name",
            "duplicate action name",
        ),
        (
            lambda d: d["actions"][0]["pagination"].__setitem__("next_cursor_path", "meta.next"),
            "/actions/0/pagination/next_cursor_path",
            "is not in the output schema",
        ),
    ],
)
def test_validate_fails_clearly_on_broken_copies(
    tmp_path: Path, edit: Any, pointer: str, fragment: str
) -> None:
    path = _broken_copy(tmp_path, edit)
    result = invoke("validate", str(path), str(SINK))
    assert result.exit_code == 1
    assert f"{path}: {pointer}: " in result.output and fragment in result.output
    assert f"ok    {SINK}" in result.output


def test_validate_reports_json_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "syntax.json"
    path.write_text('{"name": "x",,}')
    result = invoke("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}: /: invalid JSON: Expecting property name" in result.output


def test_schema_check_passes_and_detects_drift(tmp_path: Path) -> None:
    assert invoke("schema", "--check").exit_code == 0
    (tmp_path / "connector.schema.json").write_text("{}")
    result = invoke("--specs-dir", str(tmp_path), "schema", "--check")
    assert result.exit_code == 1 and "out of date" in result.output


@pytest.fixture
def sink_specs(tmp_path: Path) -> Path:
    shutil.copy(SINK, tmp_path / "kitchen_sink.json")
    return tmp_path


def vendor(request: httpx.Request) -> httpx.Response:
    if request.headers.get("authorization") != "Bearer key_FAKE_cli":
        return httpx.Response(401, json={"error": {"message": "no such key", "code": "auth"}})
    cursor = int(request.url.params.get("cursor", 0))
    items = [{"id": f"rec{i}"} for i in range(cursor, min(cursor + 2, 5))]
    nxt = str(cursor + 2) if cursor + 2 < 5 else ""
    return httpx.Response(200, json={"data": items, "next": nxt})


def test_call_against_a_local_server(sink_specs: Path) -> None:
    with serve(HandlerApp(vendor)) as origin:
        args = [
            "--specs-dir",
            str(sink_specs),
            "call",
            "kitchen_sink",
            "list_records",
            "--auth",
            "key",
            "--base-url",
            origin,
            "--input",
            '{"since": "2026-01-01"}',
        ]
        one = invoke(*args, env={"PATCHBAY_KITCHEN_SINK_API_KEY": "key_FAKE_cli"})
        assert one.exit_code == 0, one.output
        assert json.loads(one.output) == {"data": [{"id": "rec0"}, {"id": "rec1"}], "next": "2"}
        every = invoke(*args, "--all-pages", "--field", "api_key=key_FAKE_cli")
        assert [r["id"] for r in json.loads(every.output)] == [f"rec{i}" for i in range(5)]
        bad = invoke(*args, "--field", "api_key=wrong_FAKE")
        assert bad.exit_code == 1 and "[auth_invalid]" in bad.output and "no such key" in bad.output


def test_call_rejects_bad_input_and_unknown_names(sink_specs: Path) -> None:
    base = ["--specs-dir", str(sink_specs), "call"]
    # Port 9 on loopback: nothing listens, so any request would fail with a network error.
    common = ["--auth", "key", "--field", "api_key=k_FAKE", "--base-url", "http://127.0.0.1:9"]
    result = invoke(*base, "kitchen_sink", "list_records", *common, "--input", '{"sinse": "x"}')
    assert (
        result.exit_code == 3
        and "[validation]" in result.output
        and "did you mean 'since'" in result.output
    )
    result = invoke(*base, "kitchen_sink", "list_record", *common)
    assert result.exit_code == 3 and "did you mean 'list_records'" in result.output
    result = invoke(*base, "kitchen_sinc", "list_records", *common)
    assert result.exit_code == 3 and "did you mean 'kitchen_sink'" in result.output
    result = invoke(
        *base, "kitchen_sink", "list_records", "--auth", "key", "--base-url", "http://127.0.0.1:9"
    )
    assert (
        result.exit_code == 3
        and "[config]" in result.output
        and "'api_key' is missing" in result.output
    )


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "patchbay", "validate", str(SINK)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "kitchen_sink" in done.stdout


def test_demo_runs_contract_suite_and_pages_every_connector_over_loopback_http() -> None:
    result = invoke("demo", "--items", "25", "--page-size", "10")
    assert result.exit_code == 0, result.output
    contract_part, paging_part = result.output.split("first ids", 1)
    names = ("github ", "slack ", "stripe ")
    contract_rows = [line.split() for line in contract_part.splitlines() if line.startswith(names)]
    assert [r[0] for r in contract_rows] == ["github", "slack", "stripe"]
    assert all(r[4] == "0" and r[2] == r[3] for r in contract_rows)
    rows = [line.split() for line in paging_part.splitlines() if line.startswith(names)]
    assert [r[0] for r in rows] == ["github", "slack", "stripe"]
    for row in rows:
        pages, items, requests = int(row[2]), int(row[3]), int(row[4])
        assert pages >= 3 and items >= 25 and requests == pages


@pytest.fixture
def restore_logging() -> Any:
    log = logging.getLogger("patchbay")
    handlers, level = list(log.handlers), log.level
    yield
    log.handlers[:] = handlers
    log.setLevel(level)


def test_log_level_prints_redacted_json_logs(sink_specs: Path, restore_logging: Any) -> None:
    with serve(HandlerApp(vendor)) as origin:
        result = invoke(
            "--log-level",
            "debug",
            "--specs-dir",
            str(sink_specs),
            "call",
            "kitchen_sink",
            "list_records",
            "--auth",
            "key",
            "--base-url",
            origin,
            "--field",
            "api_key=key_FAKE_cli",
        )
    assert result.exit_code == 0
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {entry["event"] for entry in logs} >= {"http.request", "http.response"}
    assert "key_FAKE_cli" not in result.stderr
