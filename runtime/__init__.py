"""Patchbay's runtime: what a deployed application needs to run connectors.

It never imports codegen, mocks, Jinja2 or test libraries.
"""

from .connection import Connection, StaticTokenProvider, TokenProvider
from .errors import (
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
from .executor import (
    AsyncGenericExecutor,
    AsyncPager,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    GenericExecutor,
    Page,
    Pager,
)
from .retry import RetryPolicy
from .spec import ConnectorSpec
from .spec_loading import SpecInvalid, SpecProblem, load_spec, parse_spec

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
