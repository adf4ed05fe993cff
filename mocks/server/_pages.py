"""Paging in the spec's own style over the synthetic dataset and the kept items."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from patchbay.mocks.server._helpers import (
    _body_fields,
    _offset_of,
    _with_page,
)
from patchbay.mocks.server._options import _PAGE_PARAM, Reply
from patchbay.mocks.server._resources import _Resources
from patchbay.mocks.vendor_errors import set_path
from patchbay.runtime.http import get_path
from patchbay.runtime.spec import (
    Action,
    ContinueEndpointPagination,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)


class _Pages(_Resources):
    def _page_size(
        self, action: Action, query: list[tuple[str, str]], body: bytes, content_type: str
    ) -> int:
        pag = action.pagination
        assert pag is not None
        size = pag.page_size
        default = (size.default if size and size.default else None) or 10
        if size is None:
            return default
        raw = dict(query).get(size.param)
        if raw is None and size.in_ == "body":
            raw = _body_fields(body, content_type).get(size.param)
            raw = raw[0] if isinstance(raw, list) else raw
        try:
            value = int(raw) if raw is not None else default
        except (TypeError, ValueError):
            value = default
        return max(1, min(value, size.max or value))

    def _start(
        self, action: Action, query: list[tuple[str, str]], body: bytes, content_type: str
    ) -> int:
        pag = action.pagination
        params = dict(query)
        fields = _body_fields(body, content_type)

        def value(name: str, where: str) -> Any:
            raw = fields.get(name) if where == "body" else params.get(name)
            return raw[0] if isinstance(raw, list) else raw

        if _PAGE_PARAM in params:
            return int(params[_PAGE_PARAM])
        page_param = action.mock.page_param if action.mock else None
        if page_param and not isinstance(pag, PagePagination):
            raw = params.get(page_param)
            page = int(raw) if raw is not None and raw.isdigit() else 1
            return (max(page, 1) - 1) * self._page_size(action, query, body, content_type)
        if isinstance(pag, CursorPagination):
            cursor = value(pag.cursor_param, pag.cursor_in)
            if cursor is None:
                return 0
            if pag.cursor_from_last_item is not None:
                return -1 if cursor == "" else self._after_id(action, str(cursor))
            return _offset_of(str(cursor))
        if isinstance(pag, OffsetPagination):
            raw = value(pag.offset_param, pag.param_in)
            return int(raw) if raw is not None else pag.start
        if isinstance(pag, PagePagination):
            raw = value(pag.page_param, pag.param_in)
            page = int(raw) if raw is not None else pag.start
            return (page - pag.start) * self._page_size(action, query, body, content_type)
        return 0

    def _page(
        self,
        action: Action,
        data: dict[str, Any],
        offset: int,
        url: httpx.URL,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str = "",
    ) -> Reply:
        pag = action.pagination
        assert pag is not None
        items = self._dataset(action, data)
        size = self._page_size(action, query or [], body, content_type)
        offset = max(offset, 0)
        chunk = items[offset : offset + size]
        nxt = offset + size
        more = nxt < len(items)
        envelope = self._synthesized(action.output.schema_, action.name)
        if pag.items_path == "":
            envelope = chunk
        else:
            if not isinstance(envelope, dict):
                envelope = {}
            set_path(envelope, pag.items_path, chunk)
        headers: dict[str, str] = {}
        if isinstance(envelope, dict):
            if pag.has_more_path:
                set_path(envelope, pag.has_more_path, more)
            # On the last page the "next" pointer is absent (Slack: an empty string).
            if isinstance(pag, CursorPagination) and pag.next_cursor_path:
                if more:
                    set_path(envelope, pag.next_cursor_path, f"mock-cursor-{nxt}")
                elif not pag.stop_on_empty_page:
                    set_path(envelope, pag.next_cursor_path, "")
                else:
                    self._drop_pointer(action, envelope, pag.next_cursor_path)
            if isinstance(pag, OffsetPagination):
                if pag.next_offset_path and more:
                    set_path(envelope, pag.next_offset_path, nxt)
                elif pag.next_offset_path:
                    self._drop_pointer(action, envelope, pag.next_offset_path)
                if pag.total_path:
                    set_path(envelope, pag.total_path, len(items))
            if isinstance(pag, PagePagination) and pag.total_pages_path:
                set_path(envelope, pag.total_pages_path, max(1, -(-len(items) // size)))
            if isinstance(pag, NextUrlPagination):
                if more:
                    set_path(envelope, pag.next_url_path, self._page_url(action, url, nxt, size))
                else:
                    self._drop_pointer(action, envelope, pag.next_url_path)
            if action.mock and action.mock.fields:
                page_context: dict[str, Any] = {
                    "_page": offset // size,
                    "_page_number": offset // size + 1,
                    "_page_size": size,
                    "_total": len(items),
                }
                wanted = "".join(action.mock.fields.values())
                # URLs only when a template names them (building them costs per request).
                for name, at in (("_first", 0), ("_uri", offset), ("_next", nxt)):
                    if "{" + name + "}" in wanted and (name != "_next" or more):
                        page_context[name] = self._page_url(action, url, at, size)
                self._apply_fields(action, envelope, self._context(url, data, page_context))
            envelope = self._defuse(envelope)
            if isinstance(pag, ContinueEndpointPagination):
                # After the last page the cursor marks the end: later records come after it.
                set_path(envelope, pag.cursor_path, f"mock-cursor-{min(nxt, len(items))}")
        if isinstance(pag, LinkHeaderPagination):
            links = self._links(action, url, offset, size, len(items))
            if links:
                headers["Link"] = links
        return self._ok(action, envelope, headers)

    def _page_url(self, action: Action, url: httpx.URL, offset: int, size: int) -> str:
        """The URL of the page at ``offset``, in the vendor's form: its own page-number
        parameter, and relative (the vendor's path) or absolute (this mock's URL)."""
        spec = action.mock
        if spec is not None and spec.page_param:
            params = [
                (k, v)
                for k, v in url.params.multi_items()
                if k not in (_PAGE_PARAM, spec.page_param)
            ]
            params.append((spec.page_param, str(offset // size + 1)))
            full = str(url.copy_with(query=urlencode(params).encode()))
        else:
            full = _with_page(url, offset)
        if spec is not None and spec.next_url == "relative":
            target = httpx.URL(full)
            query = target.query.decode()
            return self._vendor_path(target) + (f"?{query}" if query else "")
        return full

    def _links(self, action: Action, url: httpx.URL, offset: int, size: int, total: int) -> str:
        """A ``Link`` header with the relations the vendor sends (next only, by default)."""
        pag = action.pagination
        assert isinstance(pag, LinkHeaderPagination)
        rels = (action.mock.link_rels if action.mock else []) or [pag.rel]
        last = max(0, (total - 1) // size * size)
        targets = {
            "next": offset + size if offset + size < total else None,
            "prev": offset - size if offset > 0 else None,
            "first": 0 if offset > 0 else None,
            "last": last if offset < last else None,
        }
        targets[pag.rel] = targets["next"]
        parts = [
            f'<{self._page_url(action, url, at, size)}>; rel="{rel}"'
            for rel in rels
            if (at := targets.get(rel)) is not None
        ]
        return ", ".join(parts)

    def _after_id(self, action: Action, item_id: str) -> int:
        """The offset just after the listed item whose cursor field is ``item_id`` (0: unknown)."""
        pag = action.pagination
        assert isinstance(pag, CursorPagination) and pag.cursor_from_last_item is not None
        for i, item in enumerate(self._dataset(action, {})):
            if str(get_path(item, pag.cursor_from_last_item, "")) == item_id:
                return i + 1
        return 0
