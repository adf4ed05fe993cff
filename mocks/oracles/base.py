"""The shared shape of a vendor stand-in: an ``httpx.MockTransport`` handler with a fault queue.

A stand-in answers like the vendor (status codes, error bodies, paging style, headers) so the
executor is tested against vendor behaviour rather than against the spec it was built from.
Every request received is recorded; ``queue`` makes the next responses a fault (a response,
a callable, or an ``httpx`` exception to raise, such as ``httpx.ReadTimeout``).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

Responder = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def form_fields(request: httpx.Request) -> dict[str, list[str]]:
    """Decode an ``application/x-www-form-urlencoded`` body into a multi-dict."""
    from urllib.parse import parse_qs

    return parse_qs(request.content.decode(), keep_blank_values=True)


class StandIn:
    """Base class: subclasses implement :meth:`handle` the way the vendor would."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._faults: deque[Responder] = deque()

    def queue(self, *responders: Responder) -> None:
        self._faults.extend(responders)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self._faults:
            fault = self._faults.popleft()
            if isinstance(fault, Exception):
                raise fault
            if isinstance(fault, httpx.Response):
                return fault
            return fault(request)
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)
