"""Paging: from one page's response to the next request, for every style of the spec format.

A :class:`PageWalker` is pure state (no I/O), driven by the request flow. It carries the guards
popular connector frameworks lack: a cursor, offset or URL that repeats or stops advancing raises
``bad_response`` instead of looping forever (URLs compared without fragment, query sorted), an
empty page ends paging cleanly even after a full one, and a next URL on another origin than the
base URL's (or the spec's ``allowed_origins``) is refused: credentials never follow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from patchbay.runtime.errors import BadResponse
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._requests import RequestParts, wire_scalar
from patchbay.runtime.http._urls import allowed_origins, normalized, origin_of, show_origin
from patchbay.runtime.spec._model import (
    Body,
    ContinueEndpointPagination,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
    Pagination,
)

_CONTINUE_BODY = Body(encoding="json")


def _set(parts: RequestParts, where: str, name: str, value: Any) -> None:
    if where == "body":
        parts.body_fields[name] = value
    else:
        text = wire_scalar(value)
        parts.params = [p for p in parts.params if p[0] != name]
        parts.params.append((name, text))


def _has(parts: RequestParts, where: str, name: str) -> bool:
    if where == "body":
        return name in parts.body_fields
    return any(p[0] == name for p in parts.params)


class PageWalker:
    """Computes the request for each page of one paginated call."""

    def __init__(
        self,
        pagination: Pagination,
        first: RequestParts,
        *,
        base_url: str,
        page_size: int | None = None,
        connector: str = "",
        action: str = "",
        allowed_origins: Sequence[str] = (),
    ) -> None:
        self.pagination = pagination
        self._base_url = base_url
        self._allowed_origins = tuple(allowed_origins)
        self._connector = connector
        self._action = action
        self._seen: set[Any] = set()
        self._position: int = 0
        parts = first.copy()
        size_spec = pagination.page_size
        if size_spec is not None:
            size = page_size if page_size is not None else size_spec.default
            if size is not None and size_spec.max is not None:
                size = min(size, size_spec.max)
            if size is not None and not _has(parts, size_spec.in_, size_spec.param):
                _set(parts, size_spec.in_, size_spec.param, size)
        if isinstance(pagination, OffsetPagination):
            self._position = _start_at(
                parts, pagination.param_in, pagination.offset_param, pagination.start
            )
        elif isinstance(pagination, PagePagination):
            self._position = _start_at(
                parts, pagination.param_in, pagination.page_param, pagination.start
            )
        self.first = parts
        self._current = parts

    def _loop(self, what: str, value: Any) -> BadResponse:
        return BadResponse(
            f"pagination stopped: the {what} {value!r} repeated, which would loop forever",
            connector=self._connector,
            action=self._action,
            retryable=False,
        )

    def _guard(self, what: str, value: Any) -> None:
        key = (what, value)
        if key in self._seen:
            raise self._loop(what, value)
        self._seen.add(key)

    def next_request(
        self, response: httpx.Response, body: Any, items: list[Any]
    ) -> RequestParts | None:
        """The next page's request, or ``None`` when this page was the last."""
        pag = self.pagination
        if not items and pag.stop_on_empty_page:
            return None
        if pag.has_more_path is not None and get_path(body, pag.has_more_path, None) is False:
            return None
        parts = self._current.copy()
        if isinstance(pag, CursorPagination):
            if pag.next_cursor_path is not None:
                cursor = get_path(body, pag.next_cursor_path, None)
            else:
                cursor = (
                    get_path(items[-1], pag.cursor_from_last_item or "", None) if items else None
                )
            if cursor is None or cursor == "":
                return None
            self._guard("cursor", cursor)
            _set(parts, pag.cursor_in, pag.cursor_param, cursor)
        elif isinstance(pag, OffsetPagination):
            if pag.next_offset_path is not None:
                raw = get_path(body, pag.next_offset_path, None)
                if raw is None:
                    return None
                nxt = int(raw)
            else:
                nxt = self._position + len(items)
            if pag.total_path is not None:
                total = get_path(body, pag.total_path, None)
                if isinstance(total, int) and nxt >= total:
                    return None
            if nxt <= self._position:
                raise self._loop("offset", nxt)
            self._position = nxt
            _set(parts, pag.param_in, pag.offset_param, nxt)
        elif isinstance(pag, PagePagination):
            if pag.total_pages_path is not None:
                total = get_path(body, pag.total_pages_path, None)
                if isinstance(total, int) and self._position >= total + pag.start - 1:
                    return None
            self._position += 1
            _set(parts, pag.param_in, pag.page_param, self._position)
        elif isinstance(pag, LinkHeaderPagination):
            url = response.links.get(pag.rel, {}).get("url")
            if not url:
                return None
            self._follow(parts, url)
        elif isinstance(pag, NextUrlPagination):
            url = get_path(body, pag.next_url_path, None)
            if not isinstance(url, str) or not url:
                return None
            self._follow(parts, url)
        elif isinstance(pag, ContinueEndpointPagination):
            cursor = get_path(body, pag.cursor_path, None)
            if cursor is None or cursor == "":
                return None
            self._guard("cursor", cursor)
            parts.method = pag.continue_method
            parts.url = self._base_url + pag.continue_path
            parts.params = []
            parts.body = _CONTINUE_BODY
            parts.body_fields = {pag.cursor_field: cursor}
        self._current = parts
        return parts

    def _follow(self, parts: RequestParts, url: str) -> None:
        """Go to a vendor-given next URL (absolute or relative to the base URL's origin), only
        on the base URL's own origin (or one the spec allows): the request carries credentials.
        """
        try:
            absolute = httpx.URL(self._base_url).join(url)
        except httpx.InvalidURL:
            raise self._refuse("the next page URL is not a valid URL") from None
        target = origin_of(absolute)
        if target not in allowed_origins(self._base_url, self._allowed_origins):
            raise self._refuse(
                f"the next page is on another origin ({show_origin(target)}), not "
                f"{show_origin(origin_of(httpx.URL(self._base_url)))}: not sending credentials "
                "there"
            )
        key = normalized(absolute)
        if ("next URL", key) in self._seen:
            shown = str(absolute.copy_with(query=None, fragment=None))
            raise self._loop("next URL", f"{shown} (query and fragment aside)")
        self._seen.add(("next URL", key))
        # The next URL carries its own query; only auth parameters are added back later.
        parts.url = str(absolute.copy_with(fragment=None))
        parts.params = []

    def _refuse(self, message: str) -> BadResponse:
        return BadResponse(
            f"pagination stopped: {message}",
            connector=self._connector,
            action=self._action,
            retryable=False,
        )


def _start_at(parts: RequestParts, where: str, name: str, start: int) -> int:
    """The first offset/page: the caller's own value if given, else the spec's start."""
    if where == "body":
        if name in parts.body_fields:
            return int(parts.body_fields[name])
    else:
        for key, value in parts.params:
            if key == name:
                return int(value)
    _set(parts, where, name, start)
    return start
