"""Retries, rate limits, timeouts, malformed bodies, token refresh and the client-side budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from conftest import FakeSleep, make_spec
from patchbay.runtime import (
    AsyncGenericExecutor,
    CallOptions,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
)

NOW = 1_800_000_000.0
ACTIONS: list[dict[str, Any]] = [
    {
        "name": "get_thing",
        "method": "GET",
        "path": "/things/1",
        "output": {
            "schema": {"type": "object", "properties": {"thing": {"type": "object"}}},
            "result_path": "thing",
        },
    },
    {
        "name": "create_thing",
        "method": "POST",
        "path": "/things",
        "body": {
            "encoding": "json",
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    },
]
IDEMPOTENT = {"header": "Idempotency-Key", "auto": False, "methods": ["POST"]}


class Script:
    """Answers with the queued responses (or raises queued exceptions), then 200."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.steps:
            step = self.steps.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return httpx.Response(200, json={"thing": {"id": "t1"}})


def make(
    script: Script, sleep: FakeSleep, *, policy: RetryPolicy | None = None, **top: Any
) -> GenericExecutor:
    spec = make_spec(ACTIONS, **top)
    options = ExecutorOptions(
        retry=policy
        or RetryPolicy(
            max_attempts=4, base_delay=1.0, max_delay=8.0, max_wait=60.0, random=lambda: 0.5
        ),
        clock=lambda: NOW,
    )
    return GenericExecutor(
        spec,
        Connection("acme", credentials={"api_key": "sk_test_FAKE_0002"}),
        transport=httpx.MockTransport(script),
        options=options,
        sleep=sleep,
    )


def test_429_with_retry_after_seconds_then_success(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"}))
    assert make(script, fake_sleep).call("get_thing") == {"id": "t1"}
    assert fake_sleep.calls == [7.0]
    assert len(script.requests) == 2


def test_retry_after_as_http_date(fake_sleep: FakeSleep) -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 42, tz=UTC), usegmt=True)
    script = Script(httpx.Response(503, headers={"Retry-After": when}))
    make(script, fake_sleep).call("get_thing")
    assert fake_sleep.calls == [42.0]


def test_reset_header_epoch_is_honoured(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"X-RateLimit-Reset": str(int(NOW + 5))}))
    ex = make(
        script,
        fake_sleep,
        rate_limits={"retry_after_header": None, "reset_header": "X-RateLimit-Reset"},
    )
    ex.call("get_thing")
    assert fake_sleep.calls == [5.0]


def test_wait_over_the_ceiling_fails_fast_with_retry_after(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}, json={"message": "later"}))
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("get_thing")
    err = info.value
    assert err.code == "rate_limited" and err.retry_after == 3600.0 and err.status == 429
    assert "over the 60s ceiling" in err.message
    assert fake_sleep.calls == [] and len(script.requests) == 1


def test_5xx_backoff_is_capped_full_jitter_and_gives_up(fake_sleep: FakeSleep) -> None:
    script = Script(*[httpx.Response(503) for _ in range(10)])
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("get_thing")
    assert info.value.code == "upstream_unavailable" and info.value.status == 503
    # base 1s, doubling, random()=0.5 of the ceiling: 0.5, 1.0, 2.0; four attempts in all.
    assert fake_sleep.calls == [0.5, 1.0, 2.0]
    assert len(script.requests) == 4
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, random=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_post_without_idempotency_key_is_not_retried(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.Response(503), httpx.Response(503))
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("create_thing", {"n": 1})
    assert info.value.code == "upstream_unavailable"
    assert len(script.requests) == 1 and fake_sleep.calls == []


def test_post_with_idempotency_key_is_retried_with_the_same_key(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.Response(503), httpx.Response(429, headers={"Retry-After": "1"}))
    ex = make(script, fake_sleep, idempotency=IDEMPOTENT)
    ex.call("create_thing", {"n": 1}, CallOptions(idempotency_key="idem-FAKE-1"))
    assert [r.headers.get("idempotency-key") for r in script.requests] == ["idem-FAKE-1"] * 3
    assert fake_sleep.calls == [0.5, 1.0]


def test_timeouts_map_to_timeout_and_are_not_retried_for_unsafe_posts(
    fake_sleep: FakeSleep,
) -> None:
    script = Script(*[httpx.ReadTimeout("read timed out") for _ in range(5)])
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("get_thing")
    assert info.value.code == "timeout" and info.value.retryable
    assert len(script.requests) == 4
    post = Script(httpx.ReadTimeout("read timed out"))
    with pytest.raises(PatchbayError) as info:
        make(post, FakeSleep()).call("create_thing", {"n": 1})
    assert info.value.code == "timeout" and len(post.requests) == 1


def test_connect_errors_are_retried_even_for_posts(fake_sleep: FakeSleep) -> None:
    script = Script(httpx.ConnectError("connection refused"))
    make(script, fake_sleep).call("create_thing", {"n": 1})
    assert len(script.requests) == 2


def test_network_errors_never_leak_raw_httpx_exceptions(fake_sleep: FakeSleep) -> None:
    script = Script(*[httpx.RemoteProtocolError("peer closed") for _ in range(5)])
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("get_thing")
    assert info.value.code == "network" and not isinstance(info.value, httpx.HTTPError)


def test_malformed_json_is_bad_response(fake_sleep: FakeSleep) -> None:
    script = Script(
        httpx.Response(
            200, content=b'{"thing": {"id": ', headers={"Content-Type": "application/json"}
        )
    )
    with pytest.raises(PatchbayError) as info:
        make(script, fake_sleep).call("get_thing")
    assert info.value.code == "bad_response" and info.value.status == 200
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "validation"),
        (401, "auth_invalid"),
        (403, "permission_denied"),
        (404, "not_found"),
        (409, "conflict"),
        (422, "validation"),
        (500, "upstream_unavailable"),
        (418, "validation"),
    ],
)
def test_default_status_mapping(status: int, code: str) -> None:
    script = Script(
        *[httpx.Response(status, json={"message": f"m{status}", "code": "E1"}) for _ in range(5)]
    )
    with pytest.raises(PatchbayError) as info:
        make(script, FakeSleep(), policy=RetryPolicy(max_attempts=1)).call("get_thing")
    assert (info.value.code, info.value.status, info.value.message, info.value.vendor_code) == (
        code,
        status,
        f"m{status}",
        "E1",
    )


def test_rules_by_header_and_body_override_status_defaults() -> None:
    errors = {
        "request_id_header": "x-request-id",
        "rules": [
            {
                "when": {"status": [403], "headers": [{"path": "x-remaining", "equals": "0"}]},
                "code": "rate_limited",
                "retry_after_seconds": 30,
            },
            {
                "when": {"status": ["2xx"], "body": [{"path": "ok", "equals": False}]},
                "code": "not_found",
                "message_path": "error",
                "vendor_code_path": "error",
            },
        ],
    }
    s1 = Script(httpx.Response(403, headers={"x-remaining": "0", "x-request-id": "req_1"}))
    sleep = FakeSleep()
    make(s1, sleep, errors=errors).call("get_thing")
    assert sleep.calls == [30.0]
    s2 = Script(httpx.Response(200, json={"ok": False, "error": "thing_not_found"}))
    with pytest.raises(PatchbayError) as info:
        make(s2, FakeSleep(), errors=errors).call("get_thing")
    assert (info.value.code, info.value.vendor_code) == ("not_found", "thing_not_found")
    s3 = Script(httpx.Response(403, headers={"x-request-id": "req_2"}, json={"message": "no"}))
    with pytest.raises(PatchbayError) as info:
        make(s3, FakeSleep(), errors=errors).call("get_thing")
    assert (info.value.code, info.value.request_id, len(s3.requests)) == (
        "permission_denied",
        "req_2",
        1,
    )


class RefreshingProvider:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def get_token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return "at_FAKE_new" if force_refresh else "at_FAKE_old"

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        return self.get_token(force_refresh=force_refresh)


OAUTH = [
    {
        "name": "oauth",
        "type": "oauth2",
        "authorize_url": "https://acme.test/auth",
        "token_url": "https://acme.test/token",
    }
]
EXPIRED_RULE = {
    "rules": [
        {
            "when": {"status": [401], "body": [{"path": "error", "equals": "token_expired"}]},
            "code": "auth_expired",
        }
    ]
}


def test_expired_token_refreshes_once_then_succeeds() -> None:
    script = Script(httpx.Response(401, json={"error": "token_expired"}))
    provider = RefreshingProvider()
    spec = make_spec(ACTIONS, auth=OAUTH, errors=EXPIRED_RULE)
    ex = GenericExecutor(
        spec, Connection("acme", token_provider=provider), transport=httpx.MockTransport(script)
    )
    assert ex.call("create_thing", {"n": 1}) == {"thing": {"id": "t1"}}
    assert provider.calls == [False, True]
    assert [r.headers["authorization"] for r in script.requests] == [
        "Bearer at_FAKE_old",
        "Bearer at_FAKE_new",
    ]


def test_expired_twice_raises_auth_expired() -> None:
    script = Script(*[httpx.Response(401, json={"error": "token_expired"}) for _ in range(3)])
    spec = make_spec(ACTIONS, auth=OAUTH, errors=EXPIRED_RULE)
    ex = GenericExecutor(
        spec,
        Connection("acme", token_provider=RefreshingProvider()),
        transport=httpx.MockTransport(script),
    )
    with pytest.raises(PatchbayError) as info:
        ex.call("get_thing")
    assert info.value.code == "auth_expired" and len(script.requests) == 2


def test_client_side_budget_spaces_requests(fake_sleep: FakeSleep) -> None:
    ex = make(Script(), fake_sleep, rate_limits={"budget": {"requests": 2, "per_seconds": 100}})
    for _ in range(3):
        ex.call("get_thing")
    assert len(fake_sleep.calls) == 1 and 49 < fake_sleep.calls[0] <= 50


def test_response_validation_option_reports_pointer() -> None:
    actions = [
        {
            "name": "get_thing",
            "method": "GET",
            "path": "/t",
            "output": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "thing": {"type": "object", "properties": {"id": {"type": "integer"}}}
                    },
                }
            },
        }
    ]
    spec = make_spec(actions)
    ex = GenericExecutor(
        spec,
        Connection("acme", credentials={"api_key": "sk_test_FAKE_0002"}),
        transport=httpx.MockTransport(Script()),
        options=ExecutorOptions(validate_responses=True),
    )
    with pytest.raises(PatchbayError) as info:
        ex.call("get_thing")
    assert info.value.code == "bad_response" and info.value.pointer == "/thing/id"


def test_async_executor_takes_the_same_decisions() -> None:
    steps = lambda: (  # noqa: E731
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "2"}),
    )
    sync_script, async_script = Script(*steps()), Script(*steps())
    sync_sleep, async_sleep = FakeSleep(), FakeSleep()
    sync_result = make(sync_script, sync_sleep).call("get_thing")
    spec = make_spec(ACTIONS)

    async def run() -> Any:
        async with AsyncGenericExecutor(
            spec,
            Connection("acme", credentials={"api_key": "sk_test_FAKE_0002"}),
            transport=httpx.MockTransport(async_script),
            options=ExecutorOptions(
                retry=RetryPolicy(base_delay=1.0, random=lambda: 0.5), clock=lambda: NOW
            ),
            sleep=async_sleep.async_,
        ) as ex:
            return await ex.call("get_thing")

    assert asyncio.run(run()) == sync_result == {"id": "t1"}
    assert async_sleep.calls == sync_sleep.calls == [0.5, 2.0]
    assert [str(r.url) for r in async_script.requests] == [str(r.url) for r in sync_script.requests]


def test_reset_header_is_ignored_while_quota_remains(fake_sleep: FakeSleep) -> None:
    limits = {"retry_after_header": None, "reset_header": "X-Reset", "remaining_header": "X-Left"}
    rule = {"when": {"status": [403]}, "code": "rate_limited", "retry_after_seconds": 60}
    rules = {"rules": [rule]}
    left = Script(httpx.Response(403, headers={"X-Reset": str(int(NOW + 3600)), "X-Left": "10"}))
    make(left, fake_sleep, rate_limits=limits, errors=rules).call("get_thing")
    none_left = Script(httpx.Response(403, headers={"X-Reset": str(int(NOW + 9)), "X-Left": "0"}))
    make(none_left, fake_sleep, rate_limits=limits, errors=rules).call("get_thing")
    assert fake_sleep.calls == [60.0, 9.0]
