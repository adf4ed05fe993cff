"""``patchbay coverage``: each criterion can fail on its own (specs and fixture sets built in tmp
dirs that miss exactly one, the level drops and the item is named), the real table is
consistent with the criteria it is computed from, and ``--json`` parses."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import patchbay.mocks.fuzzing
import patchbay.mocks.oauth_provider
import patchbay.runtime.webhooks
import patchbay.runtime.webhooks._manager
from patchbay.cli import main
from patchbay.mocks.contract import missing_fixtures, run_suite
from patchbay.mocks.coverage import (
    LEVELS,
    ConnectorCoverage,
    CoverageOptions,
    connector_coverage,
    coverage_report,
    coverage_table,
)
from patchbay.mocks.golden import GOLDEN_DIR, all_fixtures, dump_fixture, load_fixture
from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime.spec._loading import check_spec_data
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Auth
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
FAST = 1  # fuzz examples per operation in the per-criterion tests


def spec_with(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> ConnectorSpec:
    """The committed spec, changed in memory; it must still validate."""
    data = json.loads((ROOT / "specs" / f"{name}.json").read_text(encoding="utf-8"))
    if change is not None:
        change(data)
    spec, problems = check_spec_data(data, f"{name}.json")
    assert spec is not None and problems == [], problems
    return spec


def golden_copy(tmp_path: Path, name: str) -> Path:
    """The committed fixtures of ``name`` without its recorded set (tests add what they need)."""
    root = tmp_path / "golden"
    shutil.copytree(
        GOLDEN_DIR / name, root / name, ignore=shutil.ignore_patterns("recorded-*.json")
    )
    return root


def add_recorded(root: Path, name: str, action: str) -> None:
    """A recorded set in the tmp golden tree: the documented pair re-labelled as captured."""
    path, fixture = all_fixtures(name, root)[action][0]
    recorded = fixture.model_copy(update={"source": "recorded", "source_url": None})
    (path.parent / "recorded-1.json").write_text(dump_fixture(recorded), encoding="utf-8")


def coverage_of(spec: ConnectorSpec, golden: Path) -> ConnectorCoverage:
    return connector_coverage(spec, CoverageOptions(golden_root=golden, fuzz_examples=FAST))


def expected_level(item: ConnectorCoverage) -> str:
    """The level the criteria imply, recomputed here from the verdicts alone."""
    reached = "none"
    for level in LEVELS[1:]:
        if any(not c.ok for c in item.criteria if c.level == level):
            break
        reached = level
    return reached


def failing(item: ConnectorCoverage) -> set[str]:
    return {c.key for c in item.criteria if not c.ok}


# ---------------------------------------------------------------------- bronze, one by one


@pytest.fixture
def stripe_golden(tmp_path: Path) -> Path:
    return golden_copy(tmp_path, "stripe")


def test_the_stripe_baseline_reaches_bronze_and_only_misses_a_recording(
    stripe_golden: Path,
) -> None:
    item = coverage_of(spec_with("stripe"), stripe_golden)
    assert item.level == "bronze"
    assert [c.key for c in item.missing] == ["recorded"]


def test_mock_accepting_any_credentials_fails_auth_only(
    stripe_golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MockServer, "_authorized", lambda self, headers, query: True)
    item = coverage_of(spec_with("stripe"), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["auth"]
    assert "accepted wrong credentials" in item.criterion("auth").detail


def test_an_oauth_provider_that_denies_the_grant_fails_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    denying = functools.partial(patchbay.mocks.oauth_provider.MockOAuthProvider, deny=True)
    monkeypatch.setattr(patchbay.mocks.oauth_provider, "MockOAuthProvider", denying)
    item = coverage_of(spec_with("zendesk"), golden_copy(tmp_path, "zendesk"))
    assert isinstance(REGISTRY.get("zendesk").auth[0], OAuth2Auth)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["auth"]


def test_unmet_test_connection_condition_fails_test_connection_only(stripe_golden: Path) -> None:
    def header_condition(data: dict[str, Any]) -> None:
        data["test_connection"]["success"] = {"headers": [{"path": "X-Never-Sent", "exists": True}]}

    item = coverage_of(spec_with("stripe", header_condition), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["test_connection"]


def test_five_actions_are_too_few_for_bronze(stripe_golden: Path) -> None:
    keep = {
        "list_events",
        "create_webhook_endpoint",
        "delete_webhook_endpoint",
        "list_customers",
        "get_customer",
    }

    def fewer(data: dict[str, Any]) -> None:
        data["actions"] = [a for a in data["actions"] if a["name"] in keep]

    for folder in (stripe_golden / "stripe").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder)
    item = coverage_of(spec_with("stripe", fewer), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["actions_6"]
    assert "5 of 5" in item.criterion("actions_6").detail


def test_an_action_without_an_output_schema_is_not_counted(stripe_golden: Path) -> None:
    def untyped(data: dict[str, Any]) -> None:
        for action in data["actions"]:
            if action["name"] == "get_balance":
                action["output"] = {"schema": {}}

    item = coverage_of(spec_with("stripe", untyped), stripe_golden)
    assert "get_balance" in item.criterion("actions_6").detail
    assert item.criterion("actions_6").ok  # 12 of 13 are still typed


def test_no_polling_trigger_fails_bronze(stripe_golden: Path) -> None:
    def no_trigger(data: dict[str, Any]) -> None:
        data["triggers"]["polling"] = []

    item = coverage_of(spec_with("stripe", no_trigger), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["polling_trigger"]


def test_an_action_without_a_fixture_fails_bronze(stripe_golden: Path) -> None:
    shutil.rmtree(stripe_golden / "stripe" / "get_balance")
    item = coverage_of(spec_with("stripe"), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["fixtures"]
    assert "get_balance" in item.criterion("fixtures").detail


def test_a_failing_contract_case_fails_bronze(stripe_golden: Path) -> None:
    path, fixture = all_fixtures("stripe", stripe_golden)["get_balance"][0]
    broken = json.loads(dump_fixture(fixture))
    broken["response"]["body"]["available"] = "not a list"
    path.write_text(json.dumps(broken), encoding="utf-8")
    item = coverage_of(spec_with("stripe"), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["contract"]
    assert "get_balance" in item.criterion("contract").detail


def test_a_mock_answering_one_page_fails_pagination(
    stripe_golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MockServer, "_page_size", lambda self, *args: 1000)
    item = coverage_of(spec_with("stripe"), stripe_golden)
    assert item.level == "none"
    assert [c.key for c in item.missing] == ["pagination"]
    assert "(1 page(s))" in item.criterion("pagination").detail


# ---------------------------------------------------------------------- silver and gold


@pytest.fixture
def github_golden(tmp_path: Path) -> Path:
    root = golden_copy(tmp_path, "github")
    add_recorded(root, "github", "get_issue")
    return root


def test_github_with_a_recorded_set_reaches_gold(github_golden: Path) -> None:
    item = coverage_of(spec_with("github"), github_golden)
    assert item.level == "gold", [(c.key, c.detail) for c in item.criteria if not c.ok]
    assert item.missing == [] and item.next_level is None


def test_without_a_recording_github_stays_bronze(tmp_path: Path) -> None:
    item = coverage_of(spec_with("github"), golden_copy(tmp_path, "github"))
    assert item.level == "bronze"
    assert [c.key for c in item.missing] == ["recorded"]


def test_a_failing_recorded_fixture_does_not_count(github_golden: Path) -> None:
    path = github_golden / "github" / "get_issue" / "recorded-1.json"
    broken = json.loads(path.read_text(encoding="utf-8"))
    broken["request"]["path"] += "/elsewhere"
    path.write_text(json.dumps(broken), encoding="utf-8")
    item = coverage_of(spec_with("github"), github_golden)
    assert "recorded" in failing(item) and item.level == "none"  # the contract fails as well


def test_seven_actions_are_too_few_for_silver(github_golden: Path) -> None:
    # Leave exactly 7, keeping what the trigger and the webhook registration use.
    spare = ["list_pull_requests", "list_repos_for_authenticated_user", "get_repo"]
    spare += ["update_issue", "list_issue_comments", "get_user", "create_issue_comment"]
    drop = set(spare[: len(REGISTRY.get("github").actions) - 7])

    def fewer(data: dict[str, Any]) -> None:
        data["actions"] = [a for a in data["actions"] if a["name"] not in drop]

    for name in drop:
        shutil.rmtree(github_golden / "github" / name)
    item = coverage_of(spec_with("github", fewer), github_golden)
    assert item.level == "bronze"
    assert [c.key for c in item.missing] == ["actions_8"]


def test_a_webhook_registered_by_hand_fails_silver(github_golden: Path) -> None:
    def by_hand(data: dict[str, Any]) -> None:
        data["triggers"]["webhooks"][0].pop("registration")

    item = coverage_of(spec_with("github", by_hand), github_golden)
    assert item.level == "bronze"
    assert [c.key for c in item.missing] == ["webhooks"]
    assert "registration" in item.criterion("webhooks").detail


def test_a_verifier_that_accepts_forgeries_fails_silver(
    github_golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Lenient:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def verify(self, *args: Any, **kwargs: Any) -> None:
            return None

    real = patchbay.runtime.webhooks.verifier_for
    # The manager's own reference (its private module), where a lenient verifier would sit.
    monkeypatch.setattr(
        patchbay.runtime.webhooks._manager, "verifier_for", lambda config: Lenient(real(config))
    )
    item = coverage_of(spec_with("github"), github_golden)
    assert [c.key for c in item.missing] == ["webhooks"]
    assert "wrong secret was answered 200" in item.criterion("webhooks").detail


def test_a_mock_answering_500_to_the_fuzzer_fails_silver(
    github_golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = patchbay.mocks.fuzzing.mock_options

    def failing_mock(spec: ConnectorSpec) -> MockOptions:
        options = real(spec)
        options.scenario = "server_error"
        return options

    monkeypatch.setattr(patchbay.mocks.fuzzing, "mock_options", failing_mock)
    item = coverage_of(spec_with("github"), github_golden)
    assert item.level == "bronze"
    assert [c.key for c in item.missing] == ["fuzz"]
    assert "server_error" in item.criterion("fuzz").detail


def test_no_documented_fixture_fails_gold(github_golden: Path) -> None:
    for path in (github_golden / "github").rglob("*.json"):
        fixture = load_fixture(path)
        if fixture.source == "documented":
            relabelled = fixture.model_copy(update={"source": "mock", "source_url": None})
            path.write_text(dump_fixture(relabelled), encoding="utf-8")
    item = coverage_of(spec_with("github"), github_golden)
    assert item.level == "silver"
    assert [c.key for c in item.missing] == ["documented"]


def test_a_rate_limit_the_spec_maps_to_another_code_fails_gold(github_golden: Path) -> None:
    def no_rate_rules(data: dict[str, Any]) -> None:
        rules = [r for r in data["errors"]["rules"] if r["code"] != "rate_limited"]
        data["errors"]["rules"] = [{"when": {"status": [429]}, "code": "permission_denied"}, *rules]

    item = coverage_of(spec_with("github", no_rate_rules), github_golden)
    assert item.level == "silver"
    assert [c.key for c in item.missing] == ["scenarios"]
    assert "rate_limited" in item.criterion("scenarios").detail


def test_an_oauth_spec_that_cannot_tell_expiry_apart_fails_the_token_scenario(
    tmp_path: Path,
) -> None:
    golden = golden_copy(tmp_path, "zendesk")
    add_recorded(golden, "zendesk", "get_ticket")
    assert "scenarios" not in failing(coverage_of(spec_with("zendesk"), golden))

    def no_expiry_rule(data: dict[str, Any]) -> None:
        rules = data["errors"]["rules"]
        data["errors"]["rules"] = [r for r in rules if r["code"] != "auth_expired"]

    item = coverage_of(spec_with("zendesk", no_expiry_rule), golden)
    assert "scenarios" in failing(item)
    assert "expired token was not refreshed" in item.criterion("scenarios").detail


# --------------------------------------------------------------------------- the real table


@pytest.fixture(scope="module")
def real_report() -> list[ConnectorCoverage]:
    return coverage_report(REGISTRY, options=CoverageOptions(fuzz_examples=FAST))


def test_the_real_table_is_consistent_with_what_exists(
    real_report: list[ConnectorCoverage],
) -> None:
    assert [i.connector for i in real_report] == REGISTRY.names()
    lacking = {m.split(".")[0] for m in missing_fixtures(REGISTRY)}
    suite = run_suite(REGISTRY)
    for item in real_report:
        spec = REGISTRY.get(item.connector)
        assert item.level == expected_level(item), item.connector
        assert item.actions == len(spec.actions)
        nxt = item.next_level
        assert {c.key for c in item.missing} == {
            c.key for c in item.criteria if c.level == nxt and not c.ok
        }
        assert item.criterion("fixtures").ok == (item.connector not in lacking)
        assert item.criterion("contract").ok == all(r.ok for r in suite.get(item.connector, []))
        if len(spec.actions) < 6:
            assert not item.criterion("actions_6").ok and item.level == "none"
        if not spec.triggers.polling:
            assert not item.criterion("polling_trigger").ok
        hooks = item.criterion("webhooks")
        assert hooks.applicable == bool(spec.triggers.webhooks)
        sources = {f.source for found in all_fixtures(item.connector).values() for _, f in found}
        if "recorded" not in sources:
            assert not item.criterion("recorded").ok and item.level in ("none", "bronze")


def test_the_table_prints_every_connector_and_what_it_misses(
    real_report: list[ConnectorCoverage],
) -> None:
    table = coverage_table(real_report)
    for item in real_report:
        row = next(line for line in table.splitlines() if line.startswith(item.connector + " "))
        assert item.level in row
        for criterion in item.missing:
            assert criterion.key in row
            assert criterion.title in table


def test_cli_json_parses_and_matches_the_criteria() -> None:
    result = CliRunner().invoke(main, ["coverage", "stripe", "pipedrive", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {row["connector"]: row for row in data["connectors"]}
    assert set(rows) == {"stripe", "pipedrive"}
    for row in rows.values():
        assert row["level"] in LEVELS
        bad = [c["key"] for c in row["criteria"] if not c["ok"] and c["level"] == row["next_level"]]
        assert row["missing"] == bad
    # Pipedrive has eight typed actions: bronze or better, so actions_6 is not what it misses.
    assert rows["pipedrive"]["level"] != "none" and "actions_6" not in rows["pipedrive"]["missing"]


def test_cli_table_exits_zero_and_names_unknown_connectors() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["coverage", "trello"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("connector")
    assert "trello" in result.stdout
    unknown = runner.invoke(main, ["coverage", "nope"])
    assert unknown.exit_code == 3 and "error: [config]" in unknown.output
    assert "Traceback" not in unknown.output
