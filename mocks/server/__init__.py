"""A mock server for any connector, built from its spec alone (no per-vendor code).

It checks credentials the way the spec's auth variants send them, validates input with the same
check the executor uses, answers vendor-shaped errors derived from the spec's error rules, serves
golden fixtures when one matches, keeps created/updated/deleted resources for REST-shaped
actions, pages in the spec's own style over a synthetic dataset, and injects faults on demand
(``X-Mock-Scenario`` per request, or ``MockOptions.scenario`` per server).

One core (:meth:`MockServer.handle`) serves three ways: ``transport()`` (an ``httpx``
transport for sync and async clients), ``app`` (ASGI, for ``httpx.ASGITransport`` and uvicorn).
"""

from __future__ import annotations

from patchbay.mocks.server._helpers import input_pairs, satisfy
from patchbay.mocks.server._mounted import MountedMocks
from patchbay.mocks.server._options import (
    MOCK_ACCOUNT_LABEL,
    SCENARIO_HEADER,
    SCENARIOS,
    MockOptions,
    RecordedRequest,
    Reply,
    default_credentials,
    default_variables,
    well_formed_wrong,
)
from patchbay.mocks.server._server import MockServer

__all__ = [
    "MOCK_ACCOUNT_LABEL",
    "SCENARIOS",
    "SCENARIO_HEADER",
    "MockOptions",
    "MockServer",
    "MountedMocks",
    "RecordedRequest",
    "Reply",
    "default_credentials",
    "default_variables",
    "input_pairs",
    "satisfy",
    "well_formed_wrong",
]
