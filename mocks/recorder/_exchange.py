"""Traffic as the recorder sees it: one request and its response, from any source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mitmproxy import http


@dataclass(frozen=True)
class Exchange:
    """One request/response pair, whatever captured it (proxy flow, HAR entry, transport)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes

    def summary(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


def exchange_from_flow(flow: http.HTTPFlow) -> Exchange | None:
    """A finished mitmproxy flow as an exchange (bodies decoded from gzip/br/zstd)."""
    if flow.response is None:
        return None
    req, res = flow.request, flow.response
    return Exchange(
        req.method,
        req.pretty_url,
        list(req.headers.items(multi=True)),
        req.get_content(strict=False) or b"",
        res.status_code,
        list(res.headers.items(multi=True)),
        res.get_content(strict=False) or b"",
    )
