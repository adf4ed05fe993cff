"""``registration: {manual: true, instructions}``: a webhook whose endpoint the user sets in the
vendor's settings (Slack's Events API). Coverage accepts it as declared and still verifies a
signed delivery; ``register`` refuses it with the instructions; the format rejects a manual
block without instructions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import patchbay.runtime.webhooks
import patchbay.runtime.webhooks._manager
from patchbay.mocks.coverage import check_webhooks
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._loading import check_spec_data
from patchbay.runtime.spec._model import ConnectorSpec, ManualRegistration
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.webhooks import SQLiteWebhookStore, register

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")


def slack_with(registration: Any) -> tuple[ConnectorSpec | None, list[Any]]:
    data = json.loads((ROOT / "specs" / "slack.json").read_text(encoding="utf-8"))
    hook = data["triggers"]["webhooks"][0]
    if registration is None:
        hook.pop("registration", None)
    else:
        hook["registration"] = registration
    return check_spec_data(data, "slack.json")


def test_slack_declares_its_events_api_registration_manual() -> None:
    hook = REGISTRY.get("slack").triggers.webhooks[0]
    assert isinstance(hook.registration, ManualRegistration)
    assert hook.registration.instructions and "Request URL" in hook.registration.instructions
    assert hook.registration_action is None and hook.api_registration is None


def test_coverage_accepts_a_declared_manual_registration_and_verifies_deliveries() -> None:
    criterion = check_webhooks(REGISTRY.get("slack"))
    assert criterion.ok, criterion.detail
    assert "declared manual and verified" in criterion.detail


def test_an_undeclared_registration_still_fails_coverage() -> None:
    spec, problems = slack_with(None)
    assert spec is not None and problems == []
    criterion = check_webhooks(spec)
    assert not criterion.ok and "no registration block" in criterion.detail


def test_a_manual_webhook_whose_verifier_accepts_forgeries_fails(
    monkeypatch: pytest.MonkeyPatch,
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
    criterion = check_webhooks(REGISTRY.get("slack"))
    assert not criterion.ok and "wrong secret was answered 200" in criterion.detail


@pytest.mark.parametrize(
    "block",
    [
        {"manual": True},
        {"manual": True, "instructions": ""},
        {"manual": False, "instructions": "Paste it."},
        {"manual": True, "instructions": "Paste it.", "create": {"action": "auth_test"}},
    ],
)
def test_the_format_rejects_malformed_manual_blocks(block: dict[str, Any]) -> None:
    spec, problems = slack_with(block)
    assert spec is None and problems


def test_register_refuses_a_manual_webhook_with_its_instructions(tmp_path: Path) -> None:
    spec = REGISTRY.get("slack")
    store = SQLiteWebhookStore(tmp_path / "hooks.db", Encryptor([new_key()]))

    class NoCalls:
        def call(self, action: str, data: Any = None) -> Any:
            raise AssertionError(f"no API call expected, got {action}")

    with pytest.raises(ConfigError) as caught:
        register(spec, NoCalls(), store, "https://hooks.example.test")  # type: ignore[arg-type]
    assert "Event Subscriptions" in str(caught.value)
    assert "patchbay webhooks url slack" in str(caught.value)
    assert store.list() == []
