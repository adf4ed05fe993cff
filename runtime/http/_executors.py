"""The GenericExecutor and its async twin: they only drive the core's flows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    Awaitable,
    Callable,
    Mapping,
)
from typing import Any, Self

import httpx

from patchbay.runtime.http._connection import (
    Connection,
)
from patchbay.runtime.http._core import compile_core
from patchbay.runtime.http._flow import (
    Flow,
    run_async,
    run_sync,
)
from patchbay.runtime.http._options import (
    NO_OPTIONS,
    REQUEST_LABEL,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
)
from patchbay.runtime.http._pagers import AsyncPager, Pager
from patchbay.runtime.spec._model import ConnectorSpec


class GenericExecutor:
    """Runs actions of one spec for one connection with a synchronous ``httpx.Client``.

    Pass ``transport`` (e.g. ``httpx.MockTransport``) or a ready ``client`` to change how
    requests travel; that is the test seam.
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        connection: Connection,
        *,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        base_url: str | None = None,
        options: ExecutorOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.core = compile_core(spec, connection, base_url, options)
        self._owns_client = client is None
        self._client = client or httpx.Client(transport=transport)
        self._sleep = sleep

    @property
    def spec(self) -> ConnectorSpec:
        return self.core.spec

    def __repr__(self) -> str:
        return f"GenericExecutor({self.core.spec.name!r}, {self.core.connection!r})"

    def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = NO_OPTIONS
    ) -> Any:
        """Run one action and return its result (the spec's ``result_path`` of the body)."""
        core = self.core
        try:
            plan, parts = core.prepare(action, data, options)
            return run_sync(core.call_flow(plan, parts, options), self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, action)
        raise error  # outside the ``except``: the original is not attached as ``__context__``

    def paginate(
        self,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions = NO_OPTIONS,
        *,
        max_pages: int | None = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> Pager:
        """Lazy pager over an action's items: input is checked now, requests go out on iteration."""
        core = self.core
        try:
            make = core.pages_factory(
                action, data, options, max_pages=max_pages, max_items=max_items, page_size=page_size
            )
            return Pager(make, self._client, self._sleep, core, action)
        except Exception as exc:
            error = core.surface(exc, action)
        raise error

    def test_connection(self) -> ConnectionCheck:
        core = self.core
        try:
            return run_sync(core.test_connection_flow(), self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, "test_connection")
        raise error

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """A call no action describes (for bespoke clients): the same auth, retries and error
        mapping as any action, and the decoded body back. Metrics count it under the fixed
        action label ``request`` (a path can hold ids or e-mail addresses)."""
        core = self.core
        try:
            parts = core.raw_parts(method, path, query=query, json_body=json)
            flow = core.request_flow(parts, REQUEST_LABEL)
            return run_sync(flow, self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, REQUEST_LABEL)
        raise error

    def drive[T](self, flow: Flow[T]) -> T:
        """Run one flow of :attr:`core` on this executor's client and clock (the typed facade
        builds its own flows; nothing else needs the client itself)."""
        return run_sync(flow, self._client, self._sleep)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGenericExecutor:
    """The asynchronous twin of :class:`GenericExecutor`, driving the very same flows."""

    def __init__(
        self,
        spec: ConnectorSpec,
        connection: Connection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        base_url: str | None = None,
        options: ExecutorOptions | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.core = compile_core(spec, connection, base_url, options)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport)
        self._sleep = sleep

    @property
    def spec(self) -> ConnectorSpec:
        return self.core.spec

    def __repr__(self) -> str:
        return f"AsyncGenericExecutor({self.core.spec.name!r}, {self.core.connection!r})"

    async def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = NO_OPTIONS
    ) -> Any:
        core = self.core
        try:
            plan, parts = core.prepare(action, data, options)
            return await run_async(core.call_flow(plan, parts, options), self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, action)
        raise error

    def paginate(
        self,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions = NO_OPTIONS,
        *,
        max_pages: int | None = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> AsyncPager:
        core = self.core
        try:
            make = core.pages_factory(
                action, data, options, max_pages=max_pages, max_items=max_items, page_size=page_size
            )
            return AsyncPager(make, self._client, self._sleep, core, action)
        except Exception as exc:
            error = core.surface(exc, action)
        raise error

    async def test_connection(self) -> ConnectionCheck:
        core = self.core
        try:
            return await run_async(core.test_connection_flow(), self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, "test_connection")
        raise error

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        core = self.core
        try:
            parts = core.raw_parts(method, path, query=query, json_body=json)
            flow = core.request_flow(parts, REQUEST_LABEL)
            return await run_async(flow, self._client, self._sleep)
        except Exception as exc:
            error = core.surface(exc, REQUEST_LABEL)
        raise error

    async def drive[T](self, flow: Flow[T]) -> T:
        """Run one flow of :attr:`core` on this executor's client and clock."""
        return await run_async(flow, self._client, self._sleep)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
