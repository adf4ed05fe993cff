"""IntegrationManager routing and the GENERIC_EXECUTOR_ENABLED flag (environment and .env)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchbay.runtime import CallOptions, Connection, ConnectorUnavailable
from patchbay.runtime.accounts._manager import IntegrationManager
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.settings import flag, generic_executor_enabled, read_dotenv
from patchbay.runtime.spec._registry import SpecRegistry

SINK = Path(__file__).resolve().parent / "data/kitchen_sink.json"


@pytest.fixture
def registry(tmp_path: Path) -> SpecRegistry:
    shutil.copy(SINK, tmp_path / "kitchen_sink.json")
    return SpecRegistry(tmp_path)


def vendor(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [{"id": "g1"}], "next": ""})


CONN = Connection(
    "kitchen_sink",
    auth="key",
    variables={"instance_url": "https://acme.example.test"},
    credentials={"api_key": "k_FAKE_mgr"},
)


class Bespoke:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def call(
        self,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions | None = None,
    ) -> Any:
        self.calls.append((action, data))
        return {"from": "bespoke"}


def test_bespoke_client_is_preferred_even_with_the_flag_on(registry: SpecRegistry) -> None:
    bespoke = Bespoke()
    manager = IntegrationManager(registry, generic_enabled=True)
    manager.register_bespoke("kitchen_sink", lambda executor: bespoke)
    assert manager.route("kitchen_sink") == "bespoke"
    assert manager.call(CONN, "list_records", {"since": "x"}) == {"from": "bespoke"}
    assert bespoke.calls == [("list_records", {"since": "x"})]


def test_generic_executor_runs_the_spec_when_enabled(registry: SpecRegistry) -> None:
    manager = IntegrationManager(
        registry, generic_enabled=True, transport=httpx.MockTransport(vendor)
    )
    assert manager.route("kitchen_sink") == "generic"
    assert manager.call(CONN, "list_records") == {"data": [{"id": "g1"}], "next": ""}


def test_disabled_generic_path_is_a_clear_error(registry: SpecRegistry) -> None:
    manager = IntegrationManager(registry, generic_enabled=False)
    with pytest.raises(ConnectorUnavailable) as info:
        manager.call(CONN, "list_records")
    assert info.value.code == "config" and "GENERIC_EXECUTOR_ENABLED" in str(info.value)
    with pytest.raises(ConfigError, match="did you mean 'kitchen_sink'"):
        manager.route("kitchen_sinc")


def test_flag_reads_environment_then_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# settings\nexport GENERIC_EXECUTOR_ENABLED="yes"\nOTHER=1\n')
    assert read_dotenv(dotenv) == {"GENERIC_EXECUTOR_ENABLED": "yes", "OTHER": "1"}
    assert generic_executor_enabled(environ={}, dotenv=dotenv) is True
    assert (
        generic_executor_enabled(environ={"GENERIC_EXECUTOR_ENABLED": "0"}, dotenv=dotenv) is False
    )
    assert generic_executor_enabled(environ={}, dotenv=tmp_path / "missing.env") is False
    with pytest.raises(ValueError, match="not a boolean"):
        flag("GENERIC_EXECUTOR_ENABLED", environ={"GENERIC_EXECUTOR_ENABLED": "maybe"})


def test_manager_reads_the_flag_when_not_given(
    registry: SpecRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENERIC_EXECUTOR_ENABLED", "true")
    assert IntegrationManager(registry).route("kitchen_sink") == "generic"
    monkeypatch.setenv("GENERIC_EXECUTOR_ENABLED", "false")
    with pytest.raises(ConnectorUnavailable):
        IntegrationManager(registry).route("kitchen_sink")
