"""Several connectors' mocks on one ASGI app, each under its own path prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from patchbay.mocks.server._server import MockServer


class MountedMocks:
    """Several connectors' mocks on one ASGI app, each under its own path prefix."""

    def __init__(self, servers: list[MockServer]) -> None:
        self.servers = sorted(servers, key=lambda s: -len(s.options.mount))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        for server in self.servers:
            mount = server.options.mount.rstrip("/")
            if path == mount or path.startswith(mount + "/"):
                await server.app(scope, receive, send)
                return
        await Response(b'{"message": "no connector is mounted here"}', status_code=404)(
            scope, receive, send
        )
