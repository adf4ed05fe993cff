"""The HTTP face of ``WebhookManager``: ``POST /webhooks/{connector}/{subscription}``.

Only adaptation lives here: the body is read as raw bytes, never more than the webhook's
``max_body_bytes`` (a lying or missing Content-Length cannot make it buffer more), and the
blocking manager (SQLite, user handlers) runs in the thread pool.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .webhooks import WebhookManager, WebhookResponse


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _response(result: WebhookResponse) -> Response:
    return Response(result.body, status_code=result.status, media_type=result.content_type)


def create_app(manager: WebhookManager) -> Starlette:
    """A Starlette app receiving every subscription of ``manager``."""

    async def receive(request: Request) -> Response:
        connector = request.path_params["connector"]
        subscription = request.path_params["subscription"]
        limit = await run_in_threadpool(manager.body_limit, connector, subscription)
        oversized = False
        try:
            body = await _read_capped(request, limit)
        except _TooLarge:
            # The manager still logs and answers it (404 for an unknown path, else 413).
            body, oversized = b"", True
        headers = dict(request.headers)
        result = await run_in_threadpool(
            lambda: manager.handle(connector, subscription, headers, body, oversized=oversized)
        )
        return _response(result)

    async def health(_request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/webhooks/{connector}/{subscription}", receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
