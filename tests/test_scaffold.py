"""``patchbay new``: the skeleton validates for every auth kind, generates, and its example
action passes the contract suite with a fixture the test writes; names are checked, nothing is
overwritten, and the next steps are printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import patchbay.connectors as generated
from patchbay.cli import main
from patchbay.codegen.generator import generate
from patchbay.codegen.scaffold import AUTH_KINDS, EXAMPLE_ACTION, AuthKind, skeleton, write_scaffold
from patchbay.mocks.contract import contract_cases, run_case
from patchbay.mocks.coverage import CoverageOptions, connector_coverage
from patchbay.mocks.golden import Fixture, FixtureRequest, FixtureResponse, dump_fixture
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._loading import check_spec_file
from patchbay.runtime.spec._model import OAuth2Auth
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent


def _fixture() -> Fixture:
    """A request/response pair for the skeleton's example action, as the mock would answer."""
    return Fixture(
        description="The example item, answered by the mock for the skeleton's test.",
        source="mock",
        input={"item_id": "itm_FAKE_1"},
        request=FixtureRequest(method="GET", path="/v1/items/itm_FAKE_1"),
        response=FixtureResponse(
            status=200,
            body={"id": "itm_FAKE_1", "name": "Example", "created_at": "2026-01-01T00:00:00Z"},
        ),
    )


@pytest.mark.parametrize("auth", AUTH_KINDS)
def test_skeleton_validates_generates_and_passes_its_contract_case(
    auth: AuthKind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"scaffold_{auth}"
    made = write_scaffold(name, auth, specs_dir=tmp_path / "specs", golden_root=tmp_path / "golden")
    assert made.spec_path == tmp_path / "specs" / f"{name}.json"
    assert made.golden_dir == tmp_path / "golden" / name / EXAMPLE_ACTION
    assert made.golden_dir.is_dir()
    spec, problems = check_spec_file(made.spec_path)
    assert problems == [] and spec is not None
    assert spec.auth[0].type == auth
    assert isinstance(spec.auth[0], OAuth2Auth) == (auth == "oauth2")

    out = tmp_path / "generated"
    result = generate(tmp_path / "specs", out)
    assert result.written == [name]
    assert (out / name / "client.py").is_file()
    monkeypatch.setattr(generated, "__path__", [*generated.__path__, str(out)])

    (made.golden_dir / "mock.json").write_text(dump_fixture(_fixture()), encoding="utf-8")
    registry = SpecRegistry(tmp_path / "specs")
    cases = contract_cases(registry, tmp_path / "golden")
    assert [c.action for c in cases] == [EXAMPLE_ACTION]
    outcome = run_case(registry.get(name), cases[0])
    assert outcome.problems == []
    assert outcome.record["response"]["result"]["id"] == "itm_FAKE_1"

    # The skeleton's own coverage: auth, Test Connection, fixture and contract hold; it is
    # one action short of everything else, and says so.
    report = connector_coverage(
        registry.get(name), CoverageOptions(golden_root=tmp_path / "golden", fuzz_examples=1)
    )
    held = {c.key for c in report.criteria if c.ok}
    assert {"auth", "test_connection", "fixtures", "contract", "pagination"} <= held
    assert report.level == "none"
    assert {c.key for c in report.missing} == {"actions_6", "polling_trigger"}


def test_a_wrong_fixture_fails_the_skeletons_contract_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = write_scaffold(
        "scaffold_wrong", "bearer", specs_dir=tmp_path / "specs", golden_root=tmp_path / "golden"
    )
    generate(tmp_path / "specs", tmp_path / "generated")
    monkeypatch.setattr(generated, "__path__", [*generated.__path__, str(tmp_path / "generated")])
    wrong = _fixture().model_copy(
        update={"response": FixtureResponse(status=200, body={"name": "no id"})}
    )
    (made.golden_dir / "mock.json").write_text(dump_fixture(wrong), encoding="utf-8")
    registry = SpecRegistry(tmp_path / "specs")
    case = contract_cases(registry, tmp_path / "golden")[0]
    assert run_case(registry.get("scaffold_wrong"), case).problems != []


@pytest.mark.parametrize("bad", ["Acme", "1acme", "ac-me", "class", "match", ""])
def test_bad_names_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_scaffold(bad, "bearer", specs_dir=tmp_path, golden_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    specs, golden = tmp_path / "specs", tmp_path / "golden"
    first = write_scaffold("acme", "basic", specs_dir=specs, golden_root=golden)
    first.spec_path.write_text("{}", encoding="utf-8")  # the author's edits
    with pytest.raises(ConfigError, match="already exists"):
        write_scaffold("acme", "bearer", specs_dir=specs, golden_root=golden)
    assert first.spec_path.read_text(encoding="utf-8") == "{}"
    (golden / "other").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already exists"):
        write_scaffold("other", "bearer", specs_dir=specs, golden_root=golden)
    assert not (specs / "other.json").exists()


def test_todo_markers_sit_only_in_free_text() -> None:
    data = skeleton("acme", "api_key", "https://api.acme.example/v2")
    assert data["connection"]["base_url"] == "https://api.acme.example/v2"

    def places(value: object, where: str = "") -> list[str]:
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in places(v, f"{where}/{k}")]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in places(v, f"{where}/{i}")]
        return [where] if isinstance(value, str) and "TODO" in value else []

    found = places(data)
    assert found
    assert all(p.rsplit("/", 1)[-1] in ("description", "title") for p in found), found


def test_cli_writes_prints_next_steps_and_refuses_a_second_time(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["new", "acme_cli", "--auth", "oauth2", "--into", str(tmp_path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    spec_path = tmp_path / "specs" / "acme_cli.json"
    assert json.loads(spec_path.read_text(encoding="utf-8"))["name"] == "acme_cli"
    assert (tmp_path / "golden" / "acme_cli" / EXAMPLE_ACTION).is_dir()
    for step in ("validate", "generate acme_cli", "contract acme_cli", "coverage acme_cli"):
        assert step in result.output
    again = runner.invoke(main, args)
    assert again.exit_code == 3 and "error: [config]" in again.output
    assert "Traceback" not in again.output
    bad = runner.invoke(main, ["new", "Bad", "--auth", "bearer", "--into", str(tmp_path)])
    assert bad.exit_code == 3 and "error: [config]" in bad.output
    wrong_kind = runner.invoke(main, ["new", "acme2", "--auth", "magic", "--into", str(tmp_path)])
    assert wrong_kind.exit_code == 2


def test_cli_defaults_to_the_specs_folder_of_the_project(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    result = CliRunner().invoke(
        main,
        [
            "--specs-dir",
            str(specs),
            "new",
            "acme_here",
            "--auth",
            "bearer",
            "--base-url",
            "https://api.acme.example",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (specs / "acme_here.json").is_file()
    assert (tmp_path / "golden" / "acme_here" / EXAMPLE_ACTION).is_dir()
    validated = CliRunner().invoke(main, ["--specs-dir", str(specs), "validate"])
    assert validated.exit_code == 0, validated.output


def test_variables_of_the_base_url_are_declared_with_a_pattern(tmp_path: Path) -> None:
    made = write_scaffold(
        "acme_sub",
        "basic",
        specs_dir=tmp_path / "specs",
        golden_root=tmp_path / "golden",
        base_url="https://{subdomain}.acme.example/api/{version}",
    )
    spec, problems = check_spec_file(made.spec_path)
    assert problems == [] and spec is not None
    assert sorted(spec.connection.variables) == ["subdomain", "version"]
    assert all(v.pattern for v in spec.connection.variables.values())
    with pytest.raises(ConfigError, match="must be an http"):
        write_scaffold(
            "acme_bad",
            "basic",
            specs_dir=tmp_path / "specs",
            golden_root=tmp_path / "golden",
            base_url="not a url {",
        )
    assert not (tmp_path / "specs" / "acme_bad.json").exists()
