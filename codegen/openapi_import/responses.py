"""Responses: the success schema and status, error-rule hints, and paging (only when certain).

Paging is inferred from a few unambiguous shapes (Stripe's starting_after + has_more + data, a
documented ``Link`` header with a page parameter, a next URL or next-token field beside a single
list); anything else that looks like a list with paging parameters becomes a TODO line in the
spec, which ``patchbay validate`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patchbay.codegen.openapi_import.document import Document
from patchbay.codegen.openapi_import.schemas import SchemaConverter
from patchbay.runtime.http import DEFAULT_BY_STATUS

_PAGE_SIZE_PARAMS = ("limit", "per_page", "page_size", "PageSize", "pageSize", "maxResults")
_NEXT_URL_FIELDS = ("next_page_uri", "next_page_url", "next_url", "nextLink", "next")
_NEXT_TOKEN = (
    ("nextPageToken", ("pageToken",)),
    ("next_page_token", ("page_token",)),
    ("next_cursor", ("cursor",)),
    ("nextCursor", ("cursor",)),
)
_PAGING_HINTS = frozenset(
    {"page", "offset", "cursor", "starting_after", "pageToken", "page_token", "start", "after"}
    | set(_PAGE_SIZE_PARAMS)
)
_MESSAGE_PATHS = ("error.message", "message", "error_description", "detail", "error")
_CODE_PATHS = ("error.code", "code", "error.type", "error")


@dataclass
class Success:
    status: int
    media: str | None
    response: dict[str, Any]
    schema: Any


def success_response(doc: Document, op: dict[str, Any]) -> Success | None:
    """The lowest documented 2xx response (2XX ranges after exact codes)."""
    responses = op.get("responses") or {}
    codes = sorted(k for k in responses if k.isdigit() and k.startswith("2"))
    codes += [k for k in responses if k.upper() == "2XX"]
    for code in codes:
        resp = doc.resolve(responses[code])
        if not isinstance(resp, dict):
            continue
        content = resp.get("content") or {}
        media = _pick(content)
        status = int(code) if code.isdigit() else 200
        schema = (content.get(media) or {}).get("schema", {}) if media else None
        return Success(status, media, resp, schema)
    return None


def _pick(content: dict[str, Any]) -> str | None:
    for media in content:
        base = media.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return media
    return next(iter(content), None)


def output(conv: SchemaConverter, success: Success | None) -> dict[str, Any]:
    """The spec's output: the schema for JSON, else the text/binary format."""
    if success is None or success.media is None:
        return {}
    base = success.media.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return {"schema": conv.convert(success.schema)}
    if base.startswith("text/"):
        return {"schema": {"type": "string"}, "format": "text"}
    return {"format": "binary"}


# --------------------------------------------------------------------------------- paging


def _props(conv: SchemaConverter, schema: Any, depth: int = 0) -> dict[str, dict[str, Any]]:
    node = conv.resolved(schema)
    out: dict[str, dict[str, Any]] = {}
    for branch in node.get("allOf") or []:
        if depth < 6:
            out.update(_props(conv, branch, depth + 1))
    for name, sub in (node.get("properties") or {}).items():
        out[name] = conv.resolved(sub)
    return out


def _is(node: dict[str, Any], kind: str) -> bool:
    value = node.get("type")
    return value == kind or (isinstance(value, list) and kind in value)


def infer_pagination(
    conv: SchemaConverter,
    params: list[dict[str, Any]],
    success: Success | None,
    where: str,
    todo: list[str],
) -> dict[str, Any] | None:
    """A pagination block when the shape leaves no doubt; else maybe a TODO line."""
    if success is None or success.schema is None:
        return None
    query = {p["name"]: p for p in params if p["in"] == "query"}
    top = conv.resolved(success.schema)
    props = _props(conv, success.schema)
    arrays = [name for name, sub in props.items() if _is(sub, "array")]
    items_path: str | None = "" if _is(top, "array") else (arrays[0] if len(arrays) == 1 else None)
    size = next((n for n in _PAGE_SIZE_PARAMS if n in query), None)
    page_size: dict[str, Any] | None = None
    if size is not None:
        page_size = {"param": size}
        bounds = conv.resolved(query[size].get("schema", {}))
        if isinstance(bounds.get("default"), int) and bounds["default"] >= 1:
            page_size["default"] = bounds["default"]
        if isinstance(bounds.get("maximum"), int) and bounds["maximum"] >= 1:
            page_size["max"] = bounds["maximum"]

    def done(block: dict[str, Any]) -> dict[str, Any]:
        if page_size is not None:
            block["page_size"] = page_size
        return block

    headers = {k.lower() for k in (success.response.get("headers") or {})}
    if (
        "starting_after" in query
        and _is(props.get("has_more", {}), "boolean")
        and items_path == "data"
    ):
        item = conv.resolved(props["data"].get("items"))
        if "id" in _props(conv, item) or "id" in (item.get("properties") or {}):
            return done(
                {
                    "style": "cursor",
                    "items_path": "data",
                    "cursor_param": "starting_after",
                    "cursor_from_last_item": "id",
                    "has_more_path": "has_more",
                }
            )
    if "link" in headers and items_path is not None and "page" in query:
        return done({"style": "link_header", "items_path": items_path})
    if items_path:
        for name in _NEXT_URL_FIELDS:
            if _is(props.get(name, {}), "string"):
                return done({"style": "next_url", "items_path": items_path, "next_url_path": name})
        for field, cursor_params in _NEXT_TOKEN:
            param = next((c for c in cursor_params if c in query), None)
            if param is not None and _is(props.get(field, {}), "string"):
                return done(
                    {
                        "style": "cursor",
                        "items_path": items_path,
                        "cursor_param": param,
                        "next_cursor_path": field,
                    }
                )
    hints = sorted(set(query) & _PAGING_HINTS)
    if hints and (items_path is not None or arrays):
        todo.append(
            f"{where}/pagination: looks paged (parameters {', '.join(hints)}) but the style is "
            "not certain; add a pagination block by hand"
        )
    return None


# --------------------------------------------------------------------------------- errors


def _has_path(conv: SchemaConverter, schema: Any, path: str) -> bool:
    node: dict[str, Any] = conv.resolved(schema)
    for part in path.split("."):
        props = _props(conv, node)
        if part not in props:
            return False
        node = props[part]
    return not _is(node, "object")


@dataclass
class ErrorFacts:
    """What the chosen operations document about their errors."""

    statuses: dict[str, list[str]]
    message_path: str | None
    vendor_code_path: str | None


def error_facts(doc: Document, conv: SchemaConverter, ops: list[tuple[str, Any]]) -> ErrorFacts:
    """Documented error statuses per action, and the message/code paths all their bodies share."""
    statuses: dict[str, list[str]] = {}
    schemas: list[Any] = []
    for name, op in ops:
        for code, raw in (op.get("responses") or {}).items():
            if code.startswith(("1", "2", "3")):
                continue
            statuses.setdefault(code, []).append(name)
            resp = doc.resolve(raw)
            content = resp.get("content") if isinstance(resp, dict) else None
            media = _pick(content) if isinstance(content, dict) else None
            if media is not None and "json" in media:
                schemas.append((content or {})[media].get("schema", {}))

    def shared(paths: tuple[str, ...]) -> str | None:
        if not schemas:
            return None
        for path in paths:
            if all(_has_path(conv, s, path) for s in schemas):
                return path
        return None

    return ErrorFacts(dict(sorted(statuses.items())), shared(_MESSAGE_PATHS), shared(_CODE_PATHS))


def error_todo(facts: ErrorFacts) -> list[str]:
    """TODO lines for documented statuses the runtime maps to no code by default."""
    out = []
    for code, actions in facts.statuses.items():
        if code == "default" or not code.isdigit():
            continue
        status = int(code)
        if status in DEFAULT_BY_STATUS or status >= 500:
            continue
        out.append(
            f"errors: status {status} is documented ({', '.join(sorted(set(actions)))}) and has "
            "no default code; add an error rule"
        )
    return out
