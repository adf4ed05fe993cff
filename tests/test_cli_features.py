"""The CLI's shared behaviour: --version, -v/-q, --json, exit codes, colour, progress, help on
every command, and the JUnit/HTML reports of ``contract`` and ``fuzz`` (parsed back)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import patchbay.cli._common as common
from patchbay.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, version
from patchbay.cli._reports import Case, Suite, html_report, junit_xml
from patchbay.runtime.spec._registry import BUNDLED_SPECS_DIR, SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests/data/kitchen_sink.json"
KEY = "u1bEmMZ5YVf2N0ovWl8OukC6N2Vd0K3Ab3xP0xkhQ7s="  # a throwaway Fernet key for the store


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    log = logging.getLogger("patchbay")
    handlers, level = list(log.handlers), log.level
    yield
    log.handlers[:] = handlers
    log.setLevel(level)


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


ALL_COMMANDS = list(_walk(main))


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in ALL_COMMANDS}
    for expected in ("contract", "fuzz", "connections list", "webhooks send", "record import"):
        assert expected in names


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "patchbay")
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    command = _command(path)
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    result = invoke(*path, "--help")
    assert result.exit_code == 0
    first = command.help.strip().splitlines()[0][:30] if command.help else ""
    assert " ".join(first.split()) in " ".join(result.output.split())


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"patchbay {version()}\n"
    assert version() != ""


@pytest.mark.parametrize(
    ("flags", "level"),
    [(["-v"], logging.INFO), (["-vv"], logging.DEBUG), (["-q"], logging.ERROR)],
)
def test_verbosity_sets_the_log_level(flags: list[str], level: int, restore_logging: None) -> None:
    logging.getLogger("patchbay").setLevel(logging.WARNING)
    result = invoke(*flags, "validate", str(SINK))
    assert result.exit_code == 0, result.output
    assert logging.getLogger("patchbay").level == level


def test_quiet_drops_the_summary_and_v_with_q_is_a_usage_error(
    tmp_path: Path, restore_logging: None
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",,}')
    loud = invoke("validate", str(broken))
    assert loud.exit_code == EXIT_FAILED and "problem(s) in 1 file(s)" in loud.output
    quiet = invoke("-q", "validate", str(broken))
    assert quiet.exit_code == EXIT_FAILED
    assert "problem(s)" not in quiet.output and "invalid JSON" in quiet.output
    assert invoke("-v", "-q", "validate").exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["contract", "nosuch"], EXIT_CONFIG, "error: [config] unknown connector 'nosuch'"),
        (["call", "stripe", "list_customers", "--input", "{"], EXIT_CONFIG, "is not JSON"),
        (["call", "stripe", "nosuch_action"], EXIT_CONFIG, "error: [config]"),
        (["--no-such-flag"], EXIT_USAGE, "No such option"),
        (["call", "stripe"], EXIT_USAGE, "Missing argument"),
        (["schema", "--check", "--specs-dir"], EXIT_USAGE, "No such option"),
    ],
)
def test_exit_codes(args: list[str], code: int, text: str) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == code, result.output
    assert text in result.output and "Traceback" not in result.output


def test_a_missing_extra_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import patchbay.extras

    monkeypatch.setitem(patchbay.extras.EXTRAS, "mock", ("no_such_module_xyz",))
    result = CliRunner().invoke(main, ["contract", "stripe"])
    assert result.exit_code == EXIT_CONFIG and "patchbay[mock]" in result.output


def test_exit_code_for_maps_error_codes() -> None:
    from patchbay.runtime.errors import ERROR_CLASSES

    for code, cls in ERROR_CLASSES.items():
        expected = EXIT_CONFIG if code in ("config", "validation") else EXIT_FAILED
        assert common.exit_code_for(cls("x")) == expected, code
    assert EXIT_OK == 0


@pytest.fixture
def scaffold(tmp_path: Path) -> Path:
    """A project holding one new connector whose only action has no fixture yet."""
    result = invoke("new", "acme", "--auth", "bearer", "--into", str(tmp_path))
    assert result.exit_code == 0, result.output
    return tmp_path


def test_contract_names_a_missing_fixture_in_the_table(scaffold: Path) -> None:
    result = invoke("--specs-dir", str(scaffold / "specs"), "contract", "acme")
    assert result.exit_code == EXIT_FAILED
    header, _, row = result.stdout.splitlines()[:3]
    assert header.split() == ["connector", "actions", "fixtures", "passed", "failed", "missing"]
    assert row.split() == ["acme", "1", "0", "0", "0", "1"]
    assert "no golden fixture for acme." in result.stderr


def test_contract_json_and_reports_of_a_missing_fixture(scaffold: Path) -> None:
    junit, page = scaffold / "out/contract.xml", scaffold / "out/contract.html"
    args = ["--specs-dir", str(scaffold / "specs"), "contract", "acme", "--json"]
    result = invoke(*args, "--junit-xml", str(junit), "--html", str(page))
    assert result.exit_code == EXIT_FAILED
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [(c["connector"], c["missing"], c["failed"]) for c in data["connectors"]] == [
        ("acme", 1, 0)
    ]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("type") == "missing"
    assert Page.parse(page).outcomes == ["missing"]


class Page(HTMLParser):
    """What a report page holds: case rows, chart bars, and any external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[str] = []
        self.bars: dict[str, float] = {}
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and found.get("class") == "case":
            self.outcomes.append(found.get("data-outcome") or "")
        if tag == "rect" and found.get("class") == "bar":
            self.bars[found.get("data-connector") or ""] = float(found.get("width") or 0)
        for name in ("src", "href"):
            value = found.get(name)
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(found))

    @classmethod
    def parse(cls, path: Path) -> Page:
        page = cls()
        page.feed(path.read_text(encoding="utf-8"))
        return page


def test_contract_reports_list_every_fixture_per_connector_and_action(tmp_path: Path) -> None:
    junit, page = tmp_path / "c.xml", tmp_path / "c.html"
    result = invoke("contract", "trello", "twilio", "--junit-xml", str(junit), "--html", str(page))
    assert result.exit_code == EXIT_OK, result.output
    fixtures = {
        name: sorted(p.parent.name for p in (ROOT / "golden" / name).glob("*/*.json"))
        for name in ("trello", "twilio")
    }
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"trello", "twilio"}
    for name, actions in fixtures.items():
        cases = suites[name].findall("testcase")
        assert sorted(c.get("classname", "").split(".", 1)[1] for c in cases) == actions
        assert all(c.find("failure") is None for c in cases)
    assert root.get("tests") == str(sum(len(a) for a in fixtures.values()))
    parsed = Page.parse(page)
    assert parsed.outcomes == ["passed"] * sum(len(a) for a in fixtures.values())
    assert "svg" in parsed.tags and set(parsed.bars) == {"trello", "twilio"}
    assert all(width > 0 for width in parsed.bars.values())
    assert parsed.external == [] and "script" not in parsed.tags


def test_report_builders_mark_failures_and_scale_the_chart() -> None:
    good = Suite("a", ["x", "y"], [Case("x", "1", "passed"), Case("y", "1", "passed")])
    half = Suite("b", ["x", "y"], [Case("x", "1", "passed"), Case("y", "1", "failed", "boom<")])
    root = ET.fromstring(junit_xml("t", [good, half]))
    assert root.get("failures") == "1" and root.get("tests") == "4"
    failure = root.find("testsuite[@name='b']/testcase[@classname='b.y']/failure")
    assert failure is not None and failure.text == "boom<"
    page = Page()
    page.feed(html_report("t", [good, half]))
    assert page.bars["a"] == 2 * page.bars["b"] > 0
    assert page.outcomes == ["passed", "passed", "passed", "failed"]


def test_fuzz_json_and_reports(tmp_path: Path) -> None:
    junit, page = tmp_path / "f.xml", tmp_path / "f.html"
    args = ["fuzz", "trello", "--max-examples", "1", "--json"]
    result = invoke(*args, "--junit-xml", str(junit), "--html", str(page))
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    operations = data["connectors"][0]["operations"]
    cases = ET.parse(junit).getroot().findall("testsuite[@name='trello']/testcase")
    assert len(cases) == len(operations) > 0
    # Each case is filed under its action (the operationId), named by its operation.
    actions = SpecRegistry(BUNDLED_SPECS_DIR).get("trello").actions
    assert {c.get("classname") for c in cases} == {f"trello.{a.name}" for a in actions}
    assert sorted(c.get("name") for c in cases) == sorted(o["operation"] for o in operations)
    assert Page.parse(page).outcomes == ["passed"] * len(cases)


def test_validate_and_generate_check_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",,}')
    result = invoke("validate", str(SINK), str(broken), "--json")
    assert result.exit_code == EXIT_FAILED
    data = json.loads(result.stdout)
    assert data["ok"] is False
    by_file = {Path(f["file"]).name: f for f in data["files"]}
    assert by_file["kitchen_sink.json"]["ok"] is True
    assert by_file["kitchen_sink.json"]["connector"] == "kitchen_sink"
    assert by_file["broken.json"]["ok"] is False and by_file["broken.json"]["problems"]
    check = invoke("generate", "--check", "--json", "--out", str(ROOT / "generated"))
    assert json.loads(check.stdout)["ok"] is (check.exit_code == 0)


def test_generate_json_lists_what_it_wrote(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SINK, specs / "kitchen_sink.json")
    out = tmp_path / "src" / "app" / "connectors"
    args = ["--specs-dir", str(specs), "generate", "--out", str(out), "--json"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["written"] == [str(out / "kitchen_sink")]
    again = json.loads(invoke(*args).stdout)
    assert again["written"] == [] and again["skipped"] == [str(out / "kitchen_sink")]


def test_connections_and_triggers_list_json(tmp_path: Path) -> None:
    env = {"PATCHBAY_SECRET_KEY": KEY}
    store = str(tmp_path / "store.db")
    assert (
        json.loads(invoke("connections", "list", "--store", store, "--json", env=env).stdout) == []
    )
    assert json.loads(invoke("triggers", "list", "--store", store, "--json").stdout) == []
    added = invoke("triggers", "add", "c1", "trello", _first_trigger("trello"), "--store", store)
    assert added.exit_code == 0, added.output
    listed = json.loads(invoke("triggers", "list", "--store", store, "--json").stdout)
    assert [(s["connection"], s["connector"]) for s in listed] == [("c1", "trello")]


def _first_trigger(connector: str) -> str:
    from patchbay.runtime.spec._registry import SpecRegistry

    return SpecRegistry().get(connector).triggers.polling[0].name


def test_mock_serve_json_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    ran: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append(kw))
    result = invoke("mock", "serve", "trello", "stripe", "--port", "9999", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert [m["connector"] for m in listing] == ["trello", "stripe"]
    assert all(m["base_url"].startswith("http://127.0.0.1:9999/") for m in listing)
    assert ran and ran[0]["port"] == 9999


def test_conformance_json() -> None:
    result = invoke("conformance", "stripe", "--json")
    data = json.loads(result.stdout)
    steps = data["sdks"]["stripe"]
    assert steps and all({"step", "ok", "reason"} <= set(s) for s in steps)
    assert data["ok"] is all(s["ok"] for s in steps)
    assert result.exit_code == (EXIT_OK if data["ok"] else EXIT_FAILED)


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("tty", "no_color", "coloured"),
    [(True, "", True), (True, "1", False), (False, "", False)],
)
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str, coloured: bool
) -> None:
    monkeypatch.setattr(sys, "stdout", _Tty(tty))
    monkeypatch.setenv("NO_COLOR", no_color)
    shown = common.verdict(False)
    assert ("\x1b[" in shown) is coloured
    assert click.unstyle(shown) == "FAIL"


def test_plain_output_has_no_escape_codes() -> None:
    result = invoke("validate", str(SINK))
    assert result.exit_code == 0 and "\x1b[" not in result.output


@pytest.mark.parametrize(
    ("tty", "count", "quiet", "shown"),
    [
        (True, 2, False, True),
        (True, 1, False, False),
        (False, 5, False, False),
        (True, 5, True, False),
    ],
)
def test_progress_only_on_a_terminal_for_several_items(
    monkeypatch: pytest.MonkeyPatch, tty: bool, count: int, quiet: bool, shown: bool
) -> None:
    monkeypatch.setattr(sys, "stderr", _Tty(tty))
    ctx = click.Context(main)
    ctx.meta[common.VERBOSITY_KEY] = -1 if quiet else 0
    with ctx:
        assert common.progress_shown(count) is shown
        assert list(common.progress(list(range(count)), "x")) == list(range(count))


def test_webhooks_list_json(tmp_path: Path) -> None:
    env = {"PATCHBAY_SECRET_KEY": KEY}
    store = str(tmp_path / "store.db")
    assert json.loads(invoke("webhooks", "list", "--store", store, "--json", env=env).stdout) == []
    url = ["--public-url", "https://hooks.example.test", "--secret", "whsec_FAKE"]
    made = invoke("webhooks", "url", "github", *url, "--store", store, env=env)
    assert made.exit_code == 0, made.output
    listed = json.loads(invoke("webhooks", "list", "--store", store, "--json", env=env).stdout)
    assert [s["connector"] for s in listed] == ["github"]
    assert "whsec_FAKE" not in json.dumps(listed)
