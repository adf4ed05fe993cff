"""What a mock is built with, what it records, what it answers, and its fake values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from patchbay.mocks.golden import GOLDEN_DIR, Fixture
from patchbay.runtime.spec import (
    ConnectorSpec,
)

SCENARIO_HEADER = "X-Mock-Scenario"
SCENARIOS = (
    "rate_limited",
    "server_error",
    "unavailable",
    "slow",
    "malformed",
    "expired_token",
    "drop",
)
_PAGE_PARAM = "mock_page"
_FRESH_BASE = 500_000  # ids of created items count from here (list items from 1)
_SYNTH_ORIGIN = b"https://example.test"  # the origin synthesized URLs carry (mocks.synthesis)
MOCK_ACCOUNT_LABEL = "Mock Account"


@dataclass
class MockOptions:
    seed: int = 0
    records: int = 25
    credentials: dict[str, str] | None = None
    access_tokens: tuple[str, ...] = ("mock_access_token",)
    variables: dict[str, str] = field(default_factory=dict)
    scenario: str | None = None
    slow_seconds: float = 5.0
    retry_after: float = 1.0
    golden_root: Path | None = GOLDEN_DIR
    fixtures: dict[str, list[Fixture]] | None = None  # per action; replaces golden_root's
    mount: str = ""  # a path prefix, when several connectors share one port ("/stripe")
    max_body_bytes: int = 1_048_576
    # Take any credential of the shape its field declares (sk_test_..., xoxb-...), as a user's
    # own test keys are, besides the printed fakes (`mock serve` and the SDK conformance do).
    shaped_credentials: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    action: str | None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes
    delay: float = 0.0


def default_credentials(spec: ConnectorSpec) -> dict[str, str]:
    """Obviously fake values for every credential field of every auth variant (the spec's
    example when it has one: the executor refuses values that miss a declared pattern)."""
    return {name: f.example or f"mock_{name}" for v in spec.auth for name, f in v.fields.items()}


def default_variables(spec: ConnectorSpec, template: str | None = None) -> dict[str, str]:
    """Connection variables the mock and the executor agree on: a whole-origin variable of
    ``template`` (the base URL by default) gets its example or a loopback-free fake origin;
    others their default, example, first enum value or an obvious fake."""
    template = template or spec.connection.base_url
    out = {}
    for name, var in spec.connection.variables.items():
        if template.startswith("{" + name + "}"):
            out[name] = var.example or "https://mock.test"
        else:
            fallback = var.enum[0] if var.enum else f"mock_{name}"
            out[name] = var.default or var.example or fallback
    return out


def well_formed_wrong(value: str) -> str:
    """Another value of the same shape (the last character changed within its kind), so the
    mock, not the executor's pattern check, is what refuses it."""
    last = value[-1]
    if last.isdigit():
        return value[:-1] + str((int(last) + 1) % 10)
    if last.isalpha():
        return value[:-1] + ("b" if last.lower() != "b" else "c")
    return value + "x"
