"""A planted secret must appear in no log line, error message, repr or metric label."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from conftest import FakeSleep, make_spec
from prometheus_client import CollectorRegistry, generate_latest

from patchbay.runtime import (
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
    StaticTokenProvider,
)
from patchbay.runtime.http._redaction import REDACTED, Redactor
from patchbay.runtime.observability import JsonFormatter

SECRET = "sk_live_PLANTED_FAKE_SECRET_4242"
QUERY_SECRET = "trello_FAKE_token_777"
OAUTH_SECRET = "ya29.FAKE_access_token_31337"

ACTIONS: list[dict[str, Any]] = [
    {
        "name": "get_thing",
        "method": "GET",
        "path": "/things/{id}",
        "parameters": [{"name": "id", "in": "path", "required": True}],
    },
    {
        "name": "create_thing",
        "method": "POST",
        "path": "/things",
        "body": {
            "encoding": "json",
            "schema": {"type": "object", "properties": {"note": {"type": "string"}}},
        },
    },
]


def echoing_vendor(request: httpx.Request) -> httpx.Response:
    """A hostile vendor that echoes credentials back in error bodies and headers."""
    request.read()
    auth = request.headers.get("authorization", "")
    token = request.url.params.get("token", "")
    if request.url.path.endswith("/fail"):
        return httpx.Response(
            401, json={"error": {"message": f"bad key {auth} {token}", "code": auth}}
        )
    if request.url.path.endswith("/flaky"):
        return httpx.Response(503, json={"message": f"busy, your token is {token or auth}"})
    if request.method == "POST":
        return httpx.Response(400, json={"message": f"note rejected: {request.content.decode()}"})
    return httpx.Response(200, json={"id": "t1", "echo": auth})


@pytest.fixture
def captured() -> Any:
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(JsonFormatter().format(record))
            records.append(record.getMessage())

    handler = Capture(level=logging.DEBUG)
    log = logging.getLogger("patchbay")
    old = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield records
    log.removeHandler(handler)
    log.setLevel(old)


def exercise(ex: GenericExecutor, secret: str) -> list[str]:
    texts = [repr(ex), repr(ex.core), repr(ex.core.connection)]
    assert ex.call("get_thing", {"id": "ok"})["id"] == "t1"
    for data in ({"id": "fail"}, {"id": "flaky"}):
        with pytest.raises(PatchbayError) as info:
            ex.call("get_thing", data)
        texts += [str(info.value), repr(info.value), info.value.message, str(info.value.to_dict())]
    with pytest.raises(PatchbayError) as info:
        ex.call("create_thing", {"note": f"my key is {secret}"})
    texts += [str(info.value), repr(info.value)]
    with pytest.raises(PatchbayError) as info:
        ex.call("get_thing", {"id": "x", "extra": secret})
    texts += [str(info.value), repr(info.value)]
    return texts


@pytest.mark.parametrize("variant", ["bearer", "query", "oauth"])
def test_planted_secret_appears_nowhere(variant: str, captured: list[str]) -> None:
    auth = {
        "bearer": [
            {"name": "key", "type": "bearer", "token": "{api_key}", "fields": {"api_key": {}}}
        ],
        "query": [
            {
                "name": "kt",
                "type": "api_key",
                "in": "query",
                "fields": {"token": {}},
                "params": [{"name": "token", "value": "{token}"}],
            }
        ],
        "oauth": [
            {
                "name": "o",
                "type": "oauth2",
                "authorize_url": "https://a.test/a",
                "token_url": "https://a.test/t",
            }
        ],
    }[variant]
    secret = {"bearer": SECRET, "query": QUERY_SECRET, "oauth": OAUTH_SECRET}[variant]
    connection = {
        "bearer": Connection("acme", credentials={"api_key": SECRET}),
        "query": Connection("acme", credentials={"token": QUERY_SECRET}),
        "oauth": Connection("acme", token_provider=StaticTokenProvider(OAUTH_SECRET)),
    }[variant]
    registry = CollectorRegistry()
    ex = GenericExecutor(
        make_spec(ACTIONS, auth=auth),
        connection,
        transport=httpx.MockTransport(echoing_vendor),
        options=ExecutorOptions(retry=RetryPolicy(max_attempts=2), metrics_registry=registry),
        sleep=FakeSleep(),
    )
    texts = exercise(ex, secret)
    metrics = generate_latest(registry).decode()
    assert 'patchbay_requests_total{action="get_thing"' in metrics
    assert 'code="upstream_unavailable"' in metrics
    assert captured, "debug logging produced records"
    assert any("http.request" in line for line in captured)
    assert any(REDACTED in t for t in texts + captured)
    for text in [*texts, *captured, metrics]:
        assert secret not in text, text


def test_redactor_handles_urls_headers_and_bodies() -> None:
    r = Redactor(["abc_FAKE_secret"], params=["sig_param"])
    assert r.url("https://x.test/p?token=t0k3n&key=k3y&sig_param=s&q=ok") == (
        f"https://x.test/p?token={REDACTED}&key={REDACTED}&sig_param={REDACTED}&q=ok".replace(
            "[", "%5B"
        ).replace("]", "%5D")
    )
    assert r.headers({"Authorization": "Bearer x", "X-Other": "has abc_FAKE_secret"}) == {
        "Authorization": REDACTED,
        "X-Other": f"has {REDACTED}",
    }
    assert r.data(
        {"refresh_token": "rt", "nested": [{"password": "p", "note": "abc_FAKE_secret!"}]}
    ) == {
        "refresh_token": REDACTED,
        "nested": [{"password": REDACTED, "note": f"{REDACTED}!"}],
    }
