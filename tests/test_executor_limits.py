"""The executor's limits without a network: the deadline's arithmetic (on an injected clock),
redacted errors, the JSON depth check and the bounded body decoder.

The attacks themselves, over real sockets, are in ``test_attack_executor.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import pickle
import zlib
from typing import Any

import brotli
import httpx
import pytest
from attack_support import encodings
from conftest import FakeSleep, make_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from patchbay.runtime import (
    AsyncGenericExecutor,
    CallOptions,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
)
from patchbay.runtime.errors import BadResponse, ValidationFailed
from patchbay.runtime.http._flow import BodyReader
from patchbay.runtime.http._limits import DEFAULT_DEADLINE, json_depth_exceeds, loads_json
from patchbay.runtime.observability import metric_method

SECRET = "sk_test_FAKE_limits_0001"
ACTIONS: list[dict[str, Any]] = [
    {"name": "get_thing", "method": "GET", "path": "/things/1"},
]


class Clock:
    """A monotonic clock that moves only when told (or when the fake sleep sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def executor(
    handler: Any, clock: Clock, sleep: FakeSleep, *, opts: dict[str, Any] | None = None, **top: Any
) -> GenericExecutor:
    def sleeping(seconds: float) -> None:
        sleep(seconds)
        clock.now += seconds

    settings: dict[str, Any] = {
        "retry": RetryPolicy(max_attempts=5, base_delay=1.0, max_wait=120.0, random=lambda: 1.0),
        "monotonic": clock,
    }
    options = ExecutorOptions(**{**settings, **(opts or {})})
    return GenericExecutor(
        make_spec(ACTIONS, **top),
        Connection("acme", credentials={"api_key": SECRET}),
        transport=httpx.MockTransport(handler),
        options=options,
        sleep=sleeping,
    )


def test_the_default_deadline_is_documented_and_used() -> None:
    assert ExecutorOptions().deadline == DEFAULT_DEADLINE
    assert "300 s" in (ExecutorOptions.__doc__ or "")


def test_per_request_timeouts_are_lowered_to_what_is_left_of_the_deadline() -> None:
    clock, sleep = Clock(), FakeSleep()
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        clock.now += 7.0  # each attempt takes 7 s
        return httpx.Response(503) if len(seen) < 3 else httpx.Response(200, json={})

    ex = executor(handler, clock, sleep, opts={"deadline": 40.0})
    assert ex.call("get_thing") == {}
    # Configured: connect 10, others 30. Attempt 1 at t=0, 2 at t=8 (7 + 1 s backoff),
    # 3 at t=17 (7 + 2 s): 40 - 17 = 23 s left caps the 30 s ones.
    assert seen[0] == {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert seen[1] == {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert seen[2] == {"connect": 10.0, "read": 23.0, "write": 23.0, "pool": 23.0}
    assert sleep.calls == [1.0, 2.0]


def test_a_retry_wait_past_the_deadline_is_not_waited() -> None:
    clock, sleep = Clock(), FakeSleep()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, headers={"Retry-After": "50"})

    ex = executor(handler, clock, sleep, opts={"deadline": 30.0})
    with pytest.raises(PatchbayError) as caught:
        ex.call("get_thing")
    assert caught.value.code == "upstream_unavailable"
    assert caught.value.retry_after == 50.0
    assert "would pass the 30s deadline" in caught.value.message
    assert sleep.calls == [] and len(calls) == 1


def test_a_per_call_deadline_overrides_the_executor_default() -> None:
    clock, sleep = Clock(), FakeSleep()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "50"})

    ex = executor(handler, clock, sleep, opts={"retry": RetryPolicy(max_attempts=2)})
    with pytest.raises(PatchbayError):
        ex.call("get_thing", options=CallOptions(deadline=10.0))
    assert sleep.calls == []
    with pytest.raises(PatchbayError):
        ex.call("get_thing")  # 300 s: the 50 s wait fits
    assert sleep.calls == [50.0]


def test_no_deadline_when_switched_off() -> None:
    clock, sleep = Clock(), FakeSleep()
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        clock.now += 10_000.0
        return httpx.Response(200, json={})

    ex = executor(handler, clock, sleep, opts={"deadline": None})
    assert ex.call("get_thing") == {} and ex.call("get_thing") == {}
    assert seen[1]["read"] == 30.0


def test_the_rate_budget_wait_counts_against_the_deadline() -> None:
    clock, sleep = Clock(), FakeSleep()
    ex = executor(
        lambda request: httpx.Response(200, json={}),
        clock,
        sleep,
        opts={"deadline": 5.0},
        rate_limits={"budget": {"requests": 1, "per_seconds": 60}},
    )
    assert ex.call("get_thing") == {}
    with pytest.raises(PatchbayError) as caught:
        ex.call("get_thing")  # the budget would make it wait ~60 s
    assert caught.value.code == "timeout" and "deadline" in caught.value.message
    assert sleep.calls == []


def test_a_slow_token_provider_ends_the_call_at_the_deadline() -> None:
    clock = Clock()
    requests: list[httpx.Request] = []

    class Slow:
        def get_token(self, *, force_refresh: bool = False) -> str:
            clock.now += 31.0
            return "at_FAKE_slow"

        async def aget_token(self, *, force_refresh: bool = False) -> str:
            return self.get_token(force_refresh=force_refresh)

    oauth = [
        {
            "name": "oauth",
            "type": "oauth2",
            "authorize_url": "https://acme.test/auth",
            "token_url": "https://acme.test/token",
        }
    ]
    spec = make_spec(ACTIONS, auth=oauth)
    conn = Connection("acme", token_provider=Slow())
    opts = ExecutorOptions(deadline=30.0, monotonic=clock)
    transport = httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(200, json={}))
    with pytest.raises(PatchbayError) as caught:
        GenericExecutor(spec, conn, transport=transport, options=opts).call("get_thing")
    assert caught.value.code == "timeout"

    async def go() -> PatchbayError:
        async with AsyncGenericExecutor(spec, conn, transport=transport, options=opts) as aex:
            with pytest.raises(PatchbayError) as caught:
                await aex.call("get_thing")
            return caught.value

    assert asyncio.run(go()).code == "timeout"
    assert requests == []


# ----------------------------------------------------------------------------- error hygiene


def test_error_message_and_args_are_one_value() -> None:
    error = ValidationFailed(f"bad value {SECRET}", vendor_code=SECRET, request_id=SECRET)
    error.redact(lambda text: text.replace(SECRET, "[REDACTED]"))
    views = [str(error), repr(error), repr(error.args), json.dumps(error.to_dict())]
    views.append(repr(pickle.loads(pickle.dumps(error)).args))
    for view in views:
        for form in encodings(SECRET):
            assert form.decode() not in view
    assert error.args == (error.message,) == ("bad value [REDACTED]",)
    error.message = "replaced"
    assert error.args == ("replaced",) and "replaced" in str(error)


def test_an_input_error_is_redacted_in_args_too() -> None:
    ex = GenericExecutor(
        make_spec(
            [
                {
                    "name": "find",
                    "method": "GET",
                    "path": "/find",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": 3},
                        }
                    ],
                }
            ]
        ),
        Connection("acme", credentials={"api_key": SECRET}),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
    )
    with pytest.raises(ValidationFailed) as caught:
        ex.call("find", {"q": SECRET})
    assert SECRET not in repr(caught.value.args) and SECRET not in str(caught.value)


def test_metric_methods_come_from_a_fixed_vocabulary() -> None:
    assert [metric_method(m) for m in ("GET", "PATCH", "BREW", "get", "X" * 500)] == [
        "GET",
        "PATCH",
        "OTHER",
        "OTHER",
        "OTHER",
    ]


def test_error_bodies_from_a_vendor_are_redacted_with_their_request_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"error": {"message": f"bad key {SECRET}", "code": SECRET}},
            headers={"X-Request-Id": SECRET},
        )

    ex = executor(handler, Clock(), FakeSleep(), errors={"request_id_header": "X-Request-Id"})
    with pytest.raises(PatchbayError) as caught:
        ex.call("get_thing")
    for view in (str(caught.value), repr(caught.value), json.dumps(caught.value.to_dict())):
        assert SECRET not in view


# ------------------------------------------------------------------------------ JSON depth


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


TEXT = st.text(alphabet=st.sampled_from(['"', "\\", "[", "]", "{", "}", "a", "é", "\n"]))
JSON = st.recursive(
    st.none() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(min_value=0, max_value=12), st.booleans())
def test_the_depth_check_agrees_with_the_parsed_depth(
    value: Any, limit: int, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth_exceeds(text, limit) == (depth(value) > limit)
    assert json_depth_exceeds(text.encode(), limit) == (depth(value) > limit)


def test_pathological_depths_are_refused_quickly_and_without_recursion() -> None:
    for doc in (b"[" * 1_000_000, b"[{}" * 100_000, b'[{"a":' * 50_000, b"[]" * 500_000):
        too_deep = doc != b"[]" * 500_000
        assert json_depth_exceeds(doc, 128) is too_deep
    with pytest.raises(ValueError):
        loads_json(b"[" * 200 + b"]" * 200)


# ------------------------------------------------------------------------------ body reader


def read_all(chunks: list[bytes], headers: dict[str, str], cap: int | None) -> bytes | None:
    reader = BodyReader(httpx.Headers(headers), cap)
    for chunk in chunks:
        if not reader.feed(chunk):
            return None
    return reader.body()


def pieces(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    ("encode", "coding"),
    [
        (lambda b: b, None),
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (lambda b: zlib.compress(b)[2:-4], "deflate"),
        (brotli.compress, "br"),
        (lambda b: brotli.compress(gzip.compress(b)), "gzip, br"),
        (lambda b: b, "unknown-coding"),
    ],
)
def test_the_body_reader_decodes_in_pieces_and_stops_at_the_cap(encode: Any, coding: Any) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    headers = {"Content-Encoding": coding} if coding else {}
    wire = encode(data)
    assert read_all(pieces(wire), headers, None) == data
    assert read_all(pieces(wire), headers, len(data)) == data
    assert read_all(pieces(wire), headers, len(data) - 1) is None


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    headers = httpx.Headers({"Content-Length": "2000"})
    assert BodyReader(headers, 1000).too_big_upfront(headers)
    assert not BodyReader(headers, 2000).too_big_upfront(headers)
    gz = httpx.Headers({"Content-Length": "2000", "Content-Encoding": "gzip"})
    assert not BodyReader(gz, 1000).too_big_upfront(gz)  # decoded size decides, while reading


def test_a_broken_compressed_body_is_a_bad_response() -> None:
    ex = executor(
        lambda r: httpx.Response(
            200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"}
        ),
        Clock(),
        FakeSleep(),
    )
    with pytest.raises(PatchbayError) as caught:
        ex.call("get_thing")
    assert isinstance(caught.value, BadResponse | PatchbayError)
    assert caught.value.code == "bad_response"
