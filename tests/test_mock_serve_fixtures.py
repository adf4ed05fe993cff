"""``mock serve`` answers every golden fixture exactly as the in-process mock does.

The served mock mounts each connector under ``/<connector>`` on one port; fixtures keep the
vendor's own path (``/v1/customers/...``). Every contract case runs twice, in-process and
through the mounted app under uvicorn over real HTTP, and both runs must agree, except where a
URL points: reached at its own address, the served mock hands out its own origin where the
fixture has the vendor's (see ``test_mock_serve_urls.py``), so origins are compared as one token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from patchbay.mocks.contract import contract_cases, run_case
from patchbay.mocks.loopback import serve
from patchbay.mocks.server import MockServer, MountedMocks
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
CASES = contract_cases(REGISTRY)
_ORIGIN = re.compile(r"https://[A-Za-z0-9.-]+")


def _origins_as_one(record: Any, served: str | None = None) -> Any:
    """``record`` with the served origin (mount included) and every https origin as one token."""
    text = json.dumps(record)
    if served is not None:
        text = text.replace(served, "ORIGIN")
    # A bare origin read into a URL type gains a "/" (pydantic); the mock's has a mount path.
    return json.loads(_ORIGIN.sub("ORIGIN", text).replace('ORIGIN/"', 'ORIGIN"'))


class _Swappable:
    """One served app whose mounted mocks each case replaces (one uvicorn for all cases)."""

    def __init__(self) -> None:
        self.app: MountedMocks = MountedMocks([])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _ToServed(httpx.BaseTransport):
    """Sends each vendor URL to the served origin under the connector's mount, over HTTP."""

    def __init__(self, origin: str, mount: str) -> None:
        self._origin = httpx.URL(origin)
        self._mount = mount
        self._http = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._origin.scheme,
            host=self._origin.host,
            port=self._origin.port,
            raw_path=self._mount.encode() + request.url.raw_path,
        )
        request.headers["Host"] = f"{self._origin.host}:{self._origin.port}"
        response = self._http.handle_request(request)
        response.read()
        return response

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[_Swappable, str]]:
    app = _Swappable()
    with serve(app) as origin:
        yield app, origin


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mock_serve_answers_the_fixture_like_the_in_process_mock(
    case: Any, served: tuple[_Swappable, str]
) -> None:
    app, origin = served
    spec = REGISTRY.get(case.connector)
    mount = f"/{spec.name}"

    def over_http(server: MockServer) -> httpx.BaseTransport:
        app.app = MountedMocks([server])
        return _ToServed(origin, mount)

    local = run_case(spec, case)
    remote = run_case(spec, case, mount=mount, transport_for=over_http)
    assert remote.problems == []
    assert _origins_as_one(remote.record, origin + mount) == _origins_as_one(local.record)
