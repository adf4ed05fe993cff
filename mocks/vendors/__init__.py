"""Hand-written, vendor-like stand-ins (one module per vendor), found by connector name."""

from __future__ import annotations

import importlib
from types import ModuleType

STANDIN_MODULES: dict[str, str] = {
    "github": "patchbay.mocks.vendors.github",
    "slack": "patchbay.mocks.vendors.slack",
    "stripe": "patchbay.mocks.vendors.stripe",
}


def load_standin(connector: str) -> ModuleType:
    """The stand-in module of a connector: it exports ``DEMO`` and ``make_standin``."""
    return importlib.import_module(STANDIN_MODULES[connector])
