"""What an executor and each call are configured with, and what a call can return."""

from __future__ import annotations

import time
from collections.abc import (
    Callable,
    Mapping,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import CollectorRegistry

from patchbay.runtime.errors import (
    PatchbayError,
)
from patchbay.runtime.http._limits import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_MAX_RESPONSE_BYTES,
)
from patchbay.runtime.http._retry import RetryPolicy

if TYPE_CHECKING:
    pass


USER_AGENT = "patchbay/0.1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

#: The ``action`` metric label of :meth:`GenericExecutor.request` calls: a fixed word, never the
#: caller's path (which may hold ids or e-mail addresses, one time series each).
REQUEST_LABEL = "request"


@dataclass(frozen=True)
class ExecutorOptions:
    """Settings of one executor. ``sleep``/``clock``/``monotonic`` exist so tests run without
    waiting.

    ``deadline`` (default ``DEFAULT_DEADLINE``, 300 s; ``None`` for none) is
    the total time one exchange may take: every attempt, retry wait, token acquisition and the
    body read. A call is one exchange; a paginated call gets a fresh deadline for each page
    request, so a caller that consumes a lazy pager slowly never times it out (the page count
    is bounded by ``max_pages_hard_cap``). Per-request httpx timeouts are lowered to what is
    left of it. ``max_response_bytes`` caps a body *after* decompression, enforced while it
    streams in; ``max_json_depth`` caps JSON nesting. Breaking either is a ``bad_response``.
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_pages_hard_cap: int = 10_000
    validate_responses: bool = False
    metrics_registry: CollectorRegistry | None = None
    clock: Callable[[], float] = time.time
    deadline: float | None = DEFAULT_DEADLINE
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class CallOptions:
    """Per-call overrides (``deadline`` replaces :attr:`ExecutorOptions.deadline`)."""

    timeout: float | httpx.Timeout | None = None
    retries: int | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a paginated call: its items and the decoded body they came from."""

    number: int
    items: list[Any]
    body: Any
    status: int


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The verdict of *Test Connection*."""

    ok: bool
    account_label: str | None = None
    account_id: str | None = None
    error: PatchbayError | None = None


NO_OPTIONS = CallOptions()


def timeout_table(timeout: float | httpx.Timeout) -> tuple[dict[str, float | None], float]:
    """httpx's per-request timeout dict, and its longest finite value (``inf`` when one is
    unlimited): a call with more time left than that needs no per-request lowering."""
    table = (timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)).as_dict()
    values = table.values()
    longest = float("inf") if None in values else max(v for v in values if v is not None)
    return table, longest
