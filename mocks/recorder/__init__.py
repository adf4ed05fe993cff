"""The recorder: real HTTP traffic in, redacted golden fixtures out.

Every exchange (a mitmproxy flow, a HAR entry, or a request the replay transport forwarded) is
matched to a spec action by :class:`mocks.routing.Router` (method, base URL and path
templates; the same routes the mock server answers on), redacted *in memory* (auth carriers,
cookies, key query parameters, token fields, configured JSON paths and regexes, and every secret
value seen on an auth carrier, wherever it reappears), and only then written, atomically, as
``golden/<connector>/<action>/recorded-<n>.json`` in the format of :mod:`mocks.golden`. So the
mock servers and the contract suite pick recordings up like any other fixture.

mitmproxy is imported only when a proxy is started: replaying needs none of it.
"""

from __future__ import annotations

from patchbay.mocks.recorder._drift import Drift, drift
from patchbay.mocks.recorder._exchange import Exchange, exchange_from_flow
from patchbay.mocks.recorder._files import RECORDED_PREFIX, scan_fixtures, write_atomic
from patchbay.mocks.recorder._har import exchanges_from_har, import_har
from patchbay.mocks.recorder._proxy import RecorderAddon, RunningProxy, start_proxy
from patchbay.mocks.recorder._recorder import (
    MODES,
    STAND_IN_ORIGIN,
    Mode,
    Recorder,
    RecordReport,
    closest,
)
from patchbay.mocks.recorder._redaction import (
    DEFAULT_PATTERNS,
    PATH_REDACTED,
    FixtureRedactor,
    RedactionRules,
    check_rules,
    load_rules,
    rules_for,
)

__all__ = [
    "DEFAULT_PATTERNS",
    "MODES",
    "PATH_REDACTED",
    "RECORDED_PREFIX",
    "STAND_IN_ORIGIN",
    "Drift",
    "Exchange",
    "FixtureRedactor",
    "Mode",
    "RecordReport",
    "Recorder",
    "RecorderAddon",
    "RedactionRules",
    "RunningProxy",
    "check_rules",
    "closest",
    "drift",
    "exchange_from_flow",
    "exchanges_from_har",
    "import_har",
    "load_rules",
    "rules_for",
    "scan_fixtures",
    "start_proxy",
    "write_atomic",
]
