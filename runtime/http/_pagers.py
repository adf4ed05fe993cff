"""Lazy items of a paginated call, sync and async."""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from typing import TYPE_CHECKING, Any

import httpx

from patchbay.runtime.http._core import ExecutorCore
from patchbay.runtime.http._flow import (
    Flow,
    iterate_async,
    iterate_sync,
)
from patchbay.runtime.http._options import Page

if TYPE_CHECKING:
    pass


def _surfacing(
    core: ExecutorCore, pages: Generator[Page, None, None], action: str
) -> Generator[Page, None, None]:
    """``pages`` with whatever it raises turned into a redacted :class:`PatchbayError`."""
    try:
        yield from pages
        return
    except Exception as exc:
        error = core.surface(exc, action)
    raise error  # outside the ``except``: the original is not attached as ``__context__``


async def _asurfacing(
    core: ExecutorCore, pages: AsyncGenerator[Page, None], action: str
) -> AsyncGenerator[Page, None]:
    try:
        async for page in pages:
            yield page
        return
    except Exception as exc:
        error = core.surface(exc, action)
    finally:
        await pages.aclose()
    raise error


class Pager:
    """Lazy items of a paginated call; ``.pages()`` gives whole pages. Iterate once."""

    def __init__(
        self,
        make_flow: Callable[[], Flow[None]],
        client: httpx.Client,
        sleep: Callable[[float], None],
        core: ExecutorCore,
        action: str,
    ) -> None:
        self._make_flow = make_flow
        self._client = client
        self._sleep = sleep
        self._core = core
        self._action = action

    def pages(self) -> Generator[Page, None, None]:
        flow = iterate_sync(self._make_flow(), self._client, self._sleep)
        return _surfacing(self._core, flow, self._action)

    def __iter__(self) -> Iterator[Any]:
        for page in self.pages():
            yield from page.items

    def all(self) -> list[Any]:
        items: list[Any] = []
        for page in self.pages():  # whole pages at a time, not one generator step per item
            items.extend(page.items)
        return items


class AsyncPager:
    """Lazy items of a paginated call for ``async for``; ``.pages()`` gives whole pages."""

    def __init__(
        self,
        make_flow: Callable[[], Flow[None]],
        client: httpx.AsyncClient,
        sleep: Callable[[float], Awaitable[None]],
        core: ExecutorCore,
        action: str,
    ) -> None:
        self._make_flow = make_flow
        self._client = client
        self._sleep = sleep
        self._core = core
        self._action = action

    def pages(self) -> AsyncGenerator[Page, None]:
        flow = iterate_async(self._make_flow(), self._client, self._sleep)
        return _asurfacing(self._core, flow, self._action)

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def all(self) -> list[Any]:
        items: list[Any] = []
        async for page in self.pages():
            items.extend(page.items)
        return items
