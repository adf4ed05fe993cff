"""One request, end to end: the GenericExecutor runs any action of any spec, sync or async,
over one sans-I/O request flow, and everything that flow needs.

:class:`ExecutorCore` compiles a spec for one connection (auth rendered, validators and request
builders built once per action) and produces *flows* (``_flow``): generators that decide
everything. :class:`GenericExecutor` and :class:`AsyncGenericExecutor` only drive them.

Private modules, one noun each: ``_connection`` (the account a request runs as: variables,
credentials, base URLs, all checked before use), ``_urls`` (where a request may go),
``_templating`` and ``_paths`` (the spec's two small languages), ``_requests`` (building),
``_auth`` (signing), ``_pagination``, ``_retry``, ``_budget``, ``_error_mapping``,
``_redaction``, ``_limits``, ``_validation``; ``_options`` (executor and call options,
results), ``_plan`` (what is compiled per action), ``_core`` (the compiled spec and its flows),
``_pagers``, ``_executors`` and ``_client_base`` (the typed base of generated clients).

Hostile responses are bounded: every call has a total deadline, every body a decoded-size cap and
every JSON document a depth limit (see :class:`ExecutorOptions`), and nothing but a redacted
:class:`~patchbay.runtime.errors.PatchbayError` leaves the public methods.
"""

from __future__ import annotations

from patchbay.runtime.http._client_base import (
    Credentials,
)
from patchbay.runtime.http._connection import (
    Connection,
    StaticTokenProvider,
    TokenProvider,
    connection_from_sources,
)
from patchbay.runtime.http._core import (
    ExecutorCore,
)
from patchbay.runtime.http._error_mapping import (
    DEFAULT_BY_STATUS,
    match_holds,
)
from patchbay.runtime.http._executors import (
    AsyncGenericExecutor,
    GenericExecutor,
)
from patchbay.runtime.http._limits import (
    loads_json,
)
from patchbay.runtime.http._options import (
    DEFAULT_TIMEOUT,
    REQUEST_LABEL,
    USER_AGENT,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    Page,
)
from patchbay.runtime.http._pagers import (
    AsyncPager,
    Pager,
)
from patchbay.runtime.http._paths import (
    MISSING,
    get_path,
    parse_path,
)
from patchbay.runtime.http._redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    SENSITIVE_FIELDS,
    SENSITIVE_HEADERS,
    SENSITIVE_PARAMS,
    Redactor,
)
from patchbay.runtime.http._templating import (
    render,
    template_names,
)
from patchbay.runtime.http._validation import (
    FILE_OBJECT_SCHEMA,
    InputCheck,
    input_schema,
)

__all__ = [
    "DEFAULT_BY_STATUS",
    "DEFAULT_TIMEOUT",
    "FILE_OBJECT_SCHEMA",
    "MIN_SECRET_LENGTH",
    "MISSING",
    "REDACTED",
    "REQUEST_LABEL",
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "SENSITIVE_PARAMS",
    "USER_AGENT",
    "AsyncGenericExecutor",
    "AsyncPager",
    "CallOptions",
    "Connection",
    "ConnectionCheck",
    "Credentials",
    "ExecutorCore",
    "ExecutorOptions",
    "GenericExecutor",
    "InputCheck",
    "Page",
    "Pager",
    "Redactor",
    "StaticTokenProvider",
    "TokenProvider",
    "connection_from_sources",
    "get_path",
    "input_schema",
    "loads_json",
    "match_holds",
    "parse_path",
    "render",
    "template_names",
]
