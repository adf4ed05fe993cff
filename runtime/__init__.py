"""Patchbay's runtime: what a deployed application needs to run connectors.

It never imports codegen, mocks, Jinja2 or test libraries.
"""

from patchbay.runtime.connection import Connection, StaticTokenProvider, TokenProvider
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
from patchbay.runtime.executor import (
    AsyncGenericExecutor,
    AsyncPager,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    GenericExecutor,
    Page,
    Pager,
)
from patchbay.runtime.retry import RetryPolicy
from patchbay.runtime.spec import ConnectorSpec
from patchbay.runtime.spec_loading import SpecInvalid, SpecProblem, load_spec, parse_spec

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
    "NetworkError",
    "NotFound",
    "Page",
    "Pager",
    "PatchbayError",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "SpecInvalid",
    "SpecProblem",
    "StaticTokenProvider",
    "StoreError",
    "StoreLocked",
    "Timeout",
    "TokenProvider",
    "UpstreamUnavailable",
    "ValidationFailed",
    "load_spec",
    "parse_spec",
]
