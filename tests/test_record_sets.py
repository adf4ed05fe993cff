"""Recorded fixture sets (``mocks/conformance/record_sets.py``): real client traffic through the
recording proxy (mitmproxy, reverse mode, loopback only) against the spec-driven mock, redacted
into ``source: recorded`` fixtures that the contract suite replays; and the committed sets of
the five webhook vendors replay and pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchbay.mocks.conformance.record_sets import CLIENTS, clear_recordings, record_set
from patchbay.mocks.contract import run_suite
from patchbay.mocks.golden import GOLDEN_DIR, all_fixtures, load_fixture
from patchbay.mocks.recorder import Exchange, Recorder
from patchbay.mocks.server import default_credentials
from patchbay.runtime.http._redaction import REDACTED
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
WEBHOOK_VENDORS = ["github", "slack", "stripe", "typeform", "zendesk"]


def recorded(root: Path, name: str) -> list[tuple[Path, Any]]:
    return [
        (path, fixture)
        for found in all_fixtures(name, root).values()
        for path, fixture in found
        if fixture.source == "recorded"
    ]


@pytest.mark.parametrize("vendor", ["slack", "typeform"])
def test_a_recording_run_writes_redacted_fixtures_that_replay(tmp_path: Path, vendor: str) -> None:
    # Slack: the official SDK (form POSTs, the canonical form matters); Typeform: our client.
    root = tmp_path / "golden"
    result = record_set(REGISTRY, vendor, root)
    assert result.error is None, result.error
    assert result.report.written and not result.report.unmatched
    found = recorded(root, vendor)
    assert len(found) == len(result.report.written)
    assert all(p.name.startswith("recorded-") for p, _ in found)
    # No credential the client sent survives in any written byte.
    written = b"".join(p.read_bytes() for p, _ in found)
    for value in default_credentials(REGISTRY.get(vendor)).values():
        assert value.encode() not in written
    results = run_suite(REGISTRY, [vendor], golden_root=root)[vendor]
    replayed = [r for r in results if r.case.fixture.source == "recorded"]
    assert len(replayed) == len(found)
    assert [r.case.id for r in replayed if not r.ok] == []


def test_a_run_replaces_earlier_recordings_unless_kept(tmp_path: Path) -> None:
    root = tmp_path / "golden"
    stale = root / "typeform" / "get_form" / "recorded-9.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    other = root / "typeform" / "get_form" / "documented.json"
    other.write_text("{}", encoding="utf-8")
    assert clear_recordings(root, "typeform") == 1
    assert not stale.exists() and other.exists()


def test_a_slack_form_post_is_kept_in_the_form_the_mock_matches() -> None:
    spec = REGISTRY.get("slack")
    recorder = Recorder(spec, root=Path("/nonexistent-golden"), mode="all")
    info = Exchange(
        "POST",
        "https://slack.com/api/conversations.info",
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"channel=C0FAKE1",
        200,
        [("Content-Type", "application/json")],
        b'{"ok": true, "channel": {"id": "C0FAKE1"}}',
    )
    match = recorder.matcher.match(info.method, info.url)
    assert match is not None and match.action.name == "get_conversation"
    fixture = recorder.fixture_for(info, match)
    assert (fixture.request.method, fixture.request.query) == ("GET", {"channel": ["C0FAKE1"]})
    assert fixture.request.body is None and fixture.input == {"channel": "C0FAKE1"}
    assert "equivalent GET" in fixture.description
    delete = Exchange(
        "POST",
        "https://slack.com/api/chat.delete",
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"channel=C0FAKE1&ts=1700000000.000100",
        200,
        [("Content-Type", "application/json")],
        b'{"ok": true, "channel": "C0FAKE1", "ts": "1700000000.000100"}',
    )
    match = recorder.matcher.match(delete.method, delete.url)
    assert match is not None and match.action.name == "delete_message"
    fixture = recorder.fixture_for(delete, match)
    assert fixture.request.body == {"channel": "C0FAKE1", "ts": "1700000000.000100"}
    assert fixture.input == {"channel": "C0FAKE1", "ts": "1700000000.000100"}


def test_a_secret_object_is_redacted_leaf_by_leaf_keeping_its_shape() -> None:
    spec = REGISTRY.get("zendesk")
    recorder = Recorder(spec, root=Path("/nonexistent-golden"), mode="all")
    secret = "PLANTED_FAKE_zendesk_signing_secret_42"
    body = {"signing_secret": {"algorithm": "SHA256", "secret": secret}}
    ex = Exchange(
        "GET",
        "https://patchbay-example.zendesk.com/api/v2/webhooks/01FAKE/signing_secret",
        [],
        b"",
        200,
        [("Content-Type", "application/json")],
        json.dumps(body).encode(),
    )
    match = recorder.matcher.match(ex.method, ex.url)
    assert match is not None
    fixture = recorder.fixture_for(ex, match)
    assert fixture.response.body == {"signing_secret": {"algorithm": REDACTED, "secret": REDACTED}}
    assert secret not in json.dumps(fixture.model_dump(mode="json"))


def test_every_webhook_vendor_has_a_recorder_scenario() -> None:
    assert sorted(CLIENTS) == WEBHOOK_VENDORS
    for name in WEBHOOK_VENDORS:
        assert REGISTRY.get(name).triggers.webhooks, name


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_the_committed_recorded_set_replays_and_passes(vendor: str) -> None:
    found = recorded(GOLDEN_DIR, vendor)
    assert len(found) >= 8, f"run python -m patchbay.mocks.conformance.record_sets {vendor}"
    for path, fixture in found:
        assert fixture.description.startswith("Recorded "), path
        assert load_fixture(path).source == "recorded"
    results = run_suite(REGISTRY, [vendor])[vendor]
    mine = [r for r in results if r.case.fixture.source == "recorded"]
    assert len(mine) == len(found)
    assert [(r.case.id, r.problems) for r in mine if not r.ok] == []
