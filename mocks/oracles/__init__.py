"""Independent oracles: hand-written, vendor-like stand-ins (one module per vendor), found by
connector name. They never read a spec, so a mistake the spec and the spec-driven mock share
cannot pass against them too."""

from __future__ import annotations

import importlib
from types import ModuleType

STANDIN_MODULES: dict[str, str] = {
    "github": "patchbay.mocks.oracles.github",
    "slack": "patchbay.mocks.oracles.slack",
    "stripe": "patchbay.mocks.oracles.stripe",
}


def load_standin(connector: str) -> ModuleType:
    """The stand-in module of a connector: it exports ``DEMO`` and ``make_standin``."""
    return importlib.import_module(STANDIN_MODULES[connector])
