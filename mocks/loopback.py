"""Serving ``httpx.MockTransport``-style handlers as real HTTP servers on loopback.

The stand-ins are plain ``request -> response`` functions so tests can use them in-process
through ``MockTransport``; this adapter puts the very same handler behind uvicorn for the CLI,
the demo and end-to-end tests of ``patchbay call``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[httpx.Request], httpx.Response]

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class HandlerApp:
    """An ASGI app that turns each HTTP request into an ``httpx.Request`` for ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        outgoing = httpx.Request(
            request.method,
            str(request.url),
            headers=[(k, v) for k, v in request.headers.items()],
            content=body,
        )
        try:
            reply = self.handler(outgoing)
        except httpx.HTTPError as exc:
            # A queued transport fault cannot cross a real socket as such: answer a gateway error.
            reply = httpx.Response(504, text=f"stand-in fault: {type(exc).__name__}")
        reply.read()
        headers = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP}
        await Response(reply.content, status_code=reply.status_code, headers=headers)(
            scope, receive, send
        )


@contextmanager
def serve(app: object, host: str = "127.0.0.1") -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yield its origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", interface="asgi3")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def local_base_url(vendor_base_url: str, origin: str) -> str:
    """The vendor's base URL moved onto a local origin, keeping its path (``/v1``, ``/api``)."""
    path = httpx.URL(vendor_base_url.replace("{", "").replace("}", "")).path
    return origin.rstrip("/") + path.rstrip("/")
