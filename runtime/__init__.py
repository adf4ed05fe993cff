"""Patchbay's runtime: what a deployed application needs to run connectors.

It never imports codegen, mocks, Jinja2 or test libraries. The names below are the public
surface; the modules behind them may move.
"""

from patchbay.runtime.accounts._manager import IntegrationManager
from patchbay.runtime.accounts._token_store import SQLiteTokenStore
from patchbay.runtime.errors import (
    AuthExpired,
    AuthInvalid,
    BadResponse,
    ConfigError,
    Conflict,
    ConnectorUnavailable,
    NetworkError,
    NotFound,
    PatchbayError,
    PermissionDenied,
    RateLimited,
    StoreError,
    StoreLocked,
    Timeout,
    UpstreamUnavailable,
    ValidationFailed,
)
from patchbay.runtime.http import (
    AsyncGenericExecutor,
    AsyncPager,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    GenericExecutor,
    Page,
    Pager,
)
from patchbay.runtime.http._connection import Connection, StaticTokenProvider, TokenProvider
from patchbay.runtime.http._retry import RetryPolicy
from patchbay.runtime.spec._loading import SpecInvalid, SpecProblem, load_spec, parse_spec
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.triggers._events import TriggerEvent
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore, TriggerRunner
from patchbay.runtime.webhooks import WebhookManager

__all__ = [
    "AsyncGenericExecutor",
    "AsyncPager",
    "AuthExpired",
    "AuthInvalid",
    "BadResponse",
    "CallOptions",
    "ConfigError",
    "Conflict",
    "Connection",
    "ConnectionCheck",
    "ConnectorSpec",
    "ConnectorUnavailable",
    "ExecutorOptions",
    "GenericExecutor",
    "IntegrationManager",
    "NetworkError",
    "NotFound",
    "Page",
    "Pager",
    "PatchbayError",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "SQLiteTokenStore",
    "SpecInvalid",
    "SpecProblem",
    "StaticTokenProvider",
    "StoreError",
    "StoreLocked",
    "Subscription",
    "SubscriptionStore",
    "Timeout",
    "TokenProvider",
    "TriggerEvent",
    "TriggerRunner",
    "UpstreamUnavailable",
    "ValidationFailed",
    "WebhookManager",
    "load_spec",
    "parse_spec",
]
