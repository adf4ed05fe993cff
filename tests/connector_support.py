"""Shared helpers for the per-connector tests: an executor against the spec-driven mock
(in-process, loopback only), paging and polling through it, and the fault scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from patchbay.mocks.coverage import _executor, _server
from patchbay.mocks.golden import GOLDEN_DIR
from patchbay.mocks.server import MockOptions, MockServer, default_variables
from patchbay.runtime import ExecutorOptions, GenericExecutor, RetryPolicy
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.triggers._polling import poll

REGISTRY = SpecRegistry()


def spec_of(name: str) -> ConnectorSpec:
    return REGISTRY.get(name)


@contextmanager
def mock_executor(
    name: str, *, golden: bool = True, **server_options: Any
) -> Iterator[tuple[GenericExecutor, MockServer]]:
    """An executor (the spec's first auth variant, the mock's fake credentials) wired to a mock
    of the connector; ``golden=False`` answers only from synthesized data and kept state."""
    spec = spec_of(name)
    options = server_options.pop("executor_options", None)
    variables = {**default_variables(spec), **server_options.pop("variables", {})}
    root = GOLDEN_DIR if golden else None
    server = MockServer(spec, MockOptions(golden_root=root, variables=variables, **server_options))
    with _executor(spec, server, variables, options=options) as ex:
        yield ex, server


def pages_read(
    name: str, action: str, data: dict[str, Any], page_size: int | None = 2, records: int = 9
) -> list[int]:
    """Items per page while paging ``action`` over a synthetic dataset of ``records`` items."""
    with mock_executor(name, golden=False, records=records) as (ex, _):
        pager = ex.paginate(action, data, page_size=page_size, max_pages=10)
        return [len(page.items) for page in pager.pages()]


def poll_twice(name: str, trigger: str, params: dict[str, Any]) -> tuple[Any, Any]:
    """Two polls of a trigger against one mock: the second starts from the first's cursor."""
    with mock_executor(name, golden=False, records=6) as (ex, _):
        first = poll(ex, trigger, params=params, max_items=50)
        second = poll(ex, trigger, params=params, cursor=first.cursor, max_items=50)
    return first, second


def connection_under(name: str, scenario: str) -> Any:
    """Test Connection while the mock answers every request with ``scenario``, no retries."""
    once = ExecutorOptions(retry=RetryPolicy(max_attempts=1))
    spec = spec_of(name)
    server, variables = _server(spec, scenario=scenario)
    with _executor(spec, server, variables, options=once) as ex:
        return ex.test_connection()
