"""The GenericExecutor: runs any action of any spec, sync or async, over one request flow.

:class:`ExecutorCore` compiles a spec for one connection (auth rendered, validators and request
builders built once per action) and produces *flows* (see :mod:`runtime.flow`): generators that
decide everything. :class:`GenericExecutor` and :class:`AsyncGenericExecutor` only drive them.

One private module per noun: ``_options`` (executor and call options, results), ``_plan`` (what
is compiled per action), ``_core`` (the compiled spec and its flows), ``_pagers`` and
``_executors``.

Hostile responses are bounded: every call has a total deadline, every body a decoded-size cap and
every JSON document a depth limit (see :class:`ExecutorOptions`), and nothing but a redacted
:class:`~runtime.errors.PatchbayError` leaves the public methods.
"""

from __future__ import annotations

from patchbay.runtime.executor._core import ExecutorCore
from patchbay.runtime.executor._executors import AsyncGenericExecutor, GenericExecutor
from patchbay.runtime.executor._options import (
    DEFAULT_TIMEOUT,
    REQUEST_LABEL,
    USER_AGENT,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    Page,
)
from patchbay.runtime.executor._pagers import AsyncPager, Pager

__all__ = [
    "DEFAULT_TIMEOUT",
    "REQUEST_LABEL",
    "USER_AGENT",
    "AsyncGenericExecutor",
    "AsyncPager",
    "CallOptions",
    "ConnectionCheck",
    "ExecutorCore",
    "ExecutorOptions",
    "GenericExecutor",
    "Page",
    "Pager",
]
