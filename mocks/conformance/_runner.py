"""Serving the mocks the SDKs need and running each SDK's scenario against them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from patchbay.mocks.conformance.steps import Step, Steps
from patchbay.mocks.loopback import serve
from patchbay.mocks.server import MockOptions, MockServer, MountedMocks, default_credentials
from patchbay.runtime.spec import SpecRegistry

# SDK name -> (connector it talks to, scenario module, Python package the SDK ships as)
SDKS: dict[str, tuple[str, str, str]] = {
    "stripe": ("stripe", "stripe_sdk", "stripe"),
    "github": ("github", "github_sdk", "github"),
    "slack": ("slack", "slack_sdk", "slack_sdk"),
    "slack-async": ("slack", "slack_sdk:run_async", "slack_sdk"),
    "twilio": ("twilio", "twilio_sdk", "twilio"),
    "hubspot": ("hubspot", "hubspot_sdk", "hubspot"),
}

# Connection variables the mocks are served with (``mock serve --var``), per connector.
VARIABLES: dict[str, dict[str, str]] = {
    "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef"},
}


def _servers(registry: SpecRegistry, connectors: list[str]) -> list[MockServer]:
    return [
        MockServer(
            registry.get(n),
            MockOptions(
                mount=f"/{n}",
                # The mock's own behaviour, not canned fixtures: a recorded set matches the
                # very requests the scenarios make, and would answer them from another run.
                golden_root=None,
                records=5,
                variables=dict(VARIABLES.get(n, {})),
                shaped_credentials=True,
            ),
        )
        for n in connectors
    ]


@contextmanager
def served(registry: SpecRegistry, connectors: list[str]) -> Iterator[str]:
    """The mounted mocks of ``connectors`` under uvicorn on a free loopback port."""
    with serve(MountedMocks(_servers(registry, connectors))) as origin:
        yield origin


def run(
    registry: SpecRegistry, sdks: list[str] | None = None, origin: str | None = None
) -> dict[str, Steps]:
    """Each SDK's scenario against the mocks at ``origin`` (served here when None)."""
    names = sdks or list(SDKS)
    unknown = [n for n in names if n not in SDKS]
    if unknown:
        raise KeyError(", ".join(unknown))
    connectors = sorted({SDKS[n][0] for n in names})
    if origin is None:
        with served(registry, connectors) as here:
            return _run_all(registry, names, here)
    return _run_all(registry, names, origin)


def _run_all(registry: SpecRegistry, names: list[str], origin: str) -> dict[str, Steps]:
    out: dict[str, Steps] = {}
    for name in names:
        connector, module, package = SDKS[name]
        try:
            importlib.import_module(package)
        except ImportError:
            steps = Steps(name)
            steps.done.append(Step("import", False, f"{package} is not installed ([conformance])"))
            out[name] = steps
            continue
        module_name, _, function = module.partition(":")
        scenario: Callable[[str, dict[str, str]], Steps] = getattr(
            importlib.import_module(f"{__package__}.{module_name}"), function or "run"
        )
        # Where the connector is mounted: each SDK adds the vendor's own path (/v1, /api).
        mounted = origin.rstrip("/") + f"/{connector}"
        out[name] = scenario(mounted, default_credentials(registry.get(connector)))
    return out
