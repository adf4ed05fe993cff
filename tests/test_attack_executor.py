"""Attacks on the executor through the real code path: loopback servers, real sockets.

A hostile (or broken) vendor drips its body, stalls, sends gigabytes, a gzip or brotli bomb, or
JSON nested a hundred thousand levels deep; a hostile value carries CR/LF or non-ASCII into a
header or URL; a caller feeds ``request()`` a new path every time; a poll raises what no one
expected. Each test shows the call returns (a redacted ``PatchbayError`` with the right code),
memory stays bounded, secrets stay out of every error form, metric series stay fixed, and a
failing trigger backs off instead of re-polling at once. Small limits keep the tests quick;
nothing here asserts on timing.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import traceback
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from attack_support import assert_never_received, encodings, origin
from conftest import ITEM_SCHEMA, FakeSleep, make_spec
from prometheus_client import CollectorRegistry

from patchbay.runtime import (
    AsyncGenericExecutor,
    CallOptions,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
)
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.triggers._runner import Subscription, SubscriptionStore, TriggerRunner

SECRET = "sk_live_PLANTED_c0ffee"
MB = 1 << 20

ACTIONS: list[dict[str, Any]] = [
    {"name": "get_thing", "method": "GET", "path": "/things/1"},
    {
        "name": "list_things",
        "method": "GET",
        "path": "/things",
        "output": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": ITEM_SCHEMA},
                    "next": {"type": "string"},
                },
            }
        },
        "pagination": {
            "style": "cursor",
            "items_path": "data",
            "cursor_param": "after",
            "next_cursor_path": "next",
        },
    },
]


def spec_for(base: str, **top: Any) -> ConnectorSpec:
    return make_spec(ACTIONS, connection={"base_url": base, **top.pop("connection", {})}, **top)


def options(**overrides: Any) -> ExecutorOptions:
    """No retries (a hostile answer is not worth asking twice here), a fresh metrics registry."""
    base: dict[str, Any] = {
        "retry": RetryPolicy(max_attempts=1),
        "metrics_registry": CollectorRegistry(),
    }
    return ExecutorOptions(**{**base, **overrides})


def sync_executor(base: str, *, secret: str = SECRET, **kw: Any) -> GenericExecutor:
    spec = spec_for(base, **kw.pop("spec", {}))
    conn = Connection("acme", credentials={"api_key": secret}, variables=kw.pop("variables", {}))
    return GenericExecutor(spec, conn, options=kw.pop("options", options()), **kw)


def async_executor(base: str, *, secret: str = SECRET, **kw: Any) -> AsyncGenericExecutor:
    spec = spec_for(base, **kw.pop("spec", {}))
    conn = Connection("acme", credentials={"api_key": secret}, variables=kw.pop("variables", {}))
    return AsyncGenericExecutor(spec, conn, options=kw.pop("options", options()), **kw)


def run_both(
    make_sync: Callable[[], Any], make_async: Callable[[], Any], action: Callable[[Any], Any]
) -> list[Any]:
    """Run ``action`` on a sync executor and (awaited) on an async one; return both outcomes
    (the result or the ``PatchbayError`` raised, by the call or already by the executor's
    construction, which checks connection values before anything is sent)."""
    outcomes: list[Any] = []
    try:
        with make_sync() as ex:
            outcomes.append(action(ex))
    except PatchbayError as exc:
        outcomes.append(exc)

    async def go() -> Any:
        try:
            async with make_async() as aex:
                return await action(aex)
        except PatchbayError as exc:
            return exc

    outcomes.append(asyncio.run(go()))
    return outcomes


def assert_clean(error: BaseException, *secrets: str) -> None:
    """No form of any secret in the error's str, repr, args, dict view or printed traceback,
    and no raw original attached to it."""
    assert isinstance(error, PatchbayError), f"{type(error).__name__} escaped: {error!r}"
    printed = "".join(traceback.format_exception(error))
    views = [str(error), repr(error), repr(error.args), json.dumps(error.to_dict()), printed]
    for secret in secrets:
        for form in encodings(secret):
            for view in views:
                assert form.decode() not in view, f"secret leaked as {form!r} in {view!r}"
    for linked in (error.__cause__, error.__context__):
        assert linked is None or isinstance(linked, PatchbayError)


# ------------------------------------------------------------------------ raw loopback server


@dataclass
class RawServer:
    """A loopback server whose ``script`` writes raw bytes to each connection; it records how
    many body bytes it got out before the client hung up."""

    url: str
    sent: list[int] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


@contextmanager
def raw_server(script: Callable[[socket.socket, RawServer], None]) -> Iterator[RawServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = RawServer(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            try:
                script(conn, server)
            except OSError:  # the client hung up (broken pipe, reset)
                server.hung_up.set()
            finally:
                server.done.set()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


DRIP_BYTES = 60  # one every 0.2 s: 12 s if nobody cuts it


def drip_body(conn: socket.socket, server: RawServer) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {DRIP_BYTES}\r\n\r\n".encode()
    )
    for i in range(DRIP_BYTES):
        conn.sendall(b" ")
        server.sent.append(i)
        if server.hung_up.wait(0.2):
            return


def drip_headers(conn: socket.socket, server: RawServer) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    for i in range(DRIP_BYTES):
        conn.sendall(b"a")
        server.sent.append(i)
        if server.hung_up.wait(0.2):
            return


def stall_after_headers(conn: socket.socket, server: RawServer) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n")
    conn.settimeout(15)
    conn.recv(1)  # returns b"" when the client closes; raises after 15 s otherwise
    server.hung_up.set()


def chunked_zeros(total: int) -> Callable[[socket.socket, RawServer], None]:
    def script(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        piece = b"0" * 65536
        for i in range(total // len(piece)):
            conn.sendall(b"10000\r\n" + piece + b"\r\n")
            server.sent.append(i)
        conn.sendall(b"0\r\n\r\n")

    return script


def cut_by_the_client(server: RawServer) -> None:
    """The server saw the client hang up while it still had bytes to send."""
    assert server.done.wait(20)
    assert server.hung_up.is_set()
    assert len(server.sent) < DRIP_BYTES


# -------------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_dripping_body_is_cut_at_the_deadline(mode: str) -> None:
    with raw_server(drip_body) as server:
        opts = options(deadline=1.0)
        if mode == "sync":
            with (
                sync_executor(server.url, options=opts) as ex,
                pytest.raises(PatchbayError) as caught,
            ):
                ex.call("get_thing")
            error: BaseException = caught.value
        else:

            async def go() -> BaseException:
                async with async_executor(server.url, options=opts) as aex:
                    with pytest.raises(PatchbayError) as caught:
                        await aex.call("get_thing")
                    return caught.value

            error = asyncio.run(go())
        assert isinstance(error, PatchbayError) and error.code == "timeout"
        assert "deadline" in error.message
        cut_by_the_client(server)


def test_a_per_call_deadline_overrides_the_client_default() -> None:
    with raw_server(drip_body) as server:
        ex = sync_executor(server.url, options=options())  # default: 300 s
        with ex, pytest.raises(PatchbayError) as caught:
            ex.call("get_thing", options=CallOptions(deadline=1.0))
        assert caught.value.code == "timeout"
        cut_by_the_client(server)


def test_async_headers_dripping_in_are_cut_at_the_deadline() -> None:
    with raw_server(drip_headers) as server:

        async def go() -> PatchbayError:
            async with async_executor(server.url, options=options(deadline=1.0)) as aex:
                with pytest.raises(PatchbayError) as caught:
                    await aex.call("get_thing")
                return caught.value

        assert asyncio.run(go()).code == "timeout"
        cut_by_the_client(server)


def test_async_deadlines_cut_only_their_own_call_and_keep_outside_cancellation() -> None:
    """Several calls on one loop: the dripping one is cut, the others finish; a caller's own
    cancellation stays a ``CancelledError`` (it is not turned into a timeout)."""
    with (
        raw_server(drip_body) as dripping,
        raw_server(stall_after_headers) as stalled,
        origin() as fine,
    ):

        async def go() -> tuple[list[Any], bool]:
            async with (
                async_executor(dripping.url, options=options(deadline=1.0)) as slow,
                async_executor(fine.url, options=options(deadline=1.0)) as fast,
                async_executor(stalled.url) as stuck,
            ):
                results = await asyncio.gather(
                    slow.call("get_thing"),
                    *(fast.call("get_thing") for _ in range(5)),
                    return_exceptions=True,
                )
                task = asyncio.create_task(
                    stuck.call("get_thing", options=CallOptions(deadline=60))
                )
                await asyncio.sleep(0.3)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    cancelled = True
                else:
                    cancelled = False
                return results, cancelled

        results, cancelled = asyncio.run(go())
    assert getattr(results[0], "code", None) == "timeout"
    assert results[1:] == [{}] * 5
    assert cancelled


def test_a_stalled_body_times_out_at_the_deadline_not_the_read_timeout() -> None:
    """The read timeout is 30 s; what is left of a 1 s deadline wins."""
    with raw_server(stall_after_headers) as server:

        def call(ex: Any) -> Any:
            return ex.call("get_thing")

        outcomes = run_both(
            lambda: sync_executor(server.url, options=options(deadline=1.0)),
            lambda: async_executor(server.url, options=options(deadline=1.0)),
            call,
        )
        assert [getattr(o, "code", o) for o in outcomes] == ["timeout", "timeout"]
        assert server.hung_up.is_set()


def test_a_slow_pager_consumer_is_not_timed_out_by_its_own_pace() -> None:
    """The deadline covers each page request, not the time the caller spends between pages."""
    pages = {"/things": {"data": [1], "next": "p2"}, "/things?after=p2": {"data": [2]}}
    now = [0.0]

    def answer(seen: Any, url: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps(pages[seen.path]).encode()

    with origin(answer) as vendor:
        opts = options(deadline=5.0, monotonic=lambda: now[0])
        with sync_executor(vendor.url, options=opts) as ex:
            items = []
            for page in ex.paginate("list_things").pages():
                items += page.items
                now[0] += 60.0  # the caller dawdles a minute per page
        assert items == [1, 2]


# ------------------------------------------------------------------------------ body size


@cache
def gzip_bomb() -> bytes:
    """200 MB of zeros as about 200 KB of gzip."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MB)
    return b"".join([*(packer.compress(zeros) for _ in range(200)), packer.flush()])


@cache
def brotli_bomb() -> bytes:
    """200 MB of zeros as a few hundred bytes of brotli."""
    packer = brotli.Compressor(quality=5)
    zeros = bytes(MB)
    return b"".join([*(packer.process(zeros) for _ in range(200)), packer.finish()])


def serve_bytes(
    payload: bytes, encoding: str | None = None
) -> Callable[[Any, str], tuple[int, dict[str, str], bytes]]:
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding

    def answer(seen: Any, url: str) -> tuple[int, dict[str, str], bytes]:
        return 200, headers, payload

    return answer


def peak_while(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()``'s outcome and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            outcome = fn()
        except PatchbayError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [(gzip_bomb, "gzip"), (brotli_bomb, "br"), (lambda: gzip.compress(bytes(3 * MB)), "gzip")],
    ids=["gzip-bomb", "brotli-bomb", "small-gzip"],
)
def test_a_compression_bomb_is_refused_with_bounded_memory(
    payload: Callable[[], bytes], encoding: str
) -> None:
    body = payload()
    with origin(serve_bytes(body, encoding)) as vendor:
        ex = sync_executor(vendor.url, options=options(max_response_bytes=MB))
        with ex:
            outcome, peak = peak_while(lambda: ex.call("get_thing"))
    assert isinstance(outcome, PatchbayError) and outcome.code == "bad_response"
    assert "larger than" in outcome.message
    # 200 MB inflated would be 200 MB here; bounded decoding keeps it near the 1 MB cap.
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


def test_an_async_gzip_bomb_is_refused_with_bounded_memory() -> None:
    with origin(serve_bytes(gzip_bomb(), "gzip")) as vendor:

        async def go() -> tuple[Any, int]:
            async with async_executor(vendor.url, options=options(max_response_bytes=MB)) as aex:
                tracemalloc.start()
                try:
                    try:
                        outcome: Any = await aex.call("get_thing")
                    except PatchbayError as exc:
                        outcome = exc
                    return outcome, tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()

        outcome, peak = asyncio.run(go())
    assert isinstance(outcome, PatchbayError) and outcome.code == "bad_response"
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


def test_a_body_over_the_cap_is_refused_by_content_length_or_while_streaming() -> None:
    big = b'"' + b"x" * (2 * MB) + b'"'
    with origin(serve_bytes(big)) as vendor, raw_server(chunked_zeros(8 * MB)) as chunked:
        for url in (vendor.url, chunked.url):
            outcomes = run_both(
                lambda u=url: sync_executor(u, options=options(max_response_bytes=MB)),
                lambda u=url: async_executor(u, options=options(max_response_bytes=MB)),
                lambda ex: ex.call("get_thing"),
            )
            assert [getattr(o, "code", o) for o in outcomes] == ["bad_response"] * 2
        # The chunked server was cut off long before its 8 MB: the client stopped reading.
        assert chunked.done.wait(20) and chunked.hung_up.is_set()


def test_bodies_under_the_cap_still_decode_whatever_their_encoding() -> None:
    doc = {"thing": {"id": "t1", "pad": "z" * 5000}}
    raw = json.dumps(doc).encode()
    cases = [
        (raw, None),
        (gzip.compress(raw), "gzip"),
        (zlib.compress(raw), "deflate"),
        (zlib.compress(raw)[2:-4], "deflate"),  # raw deflate, as some servers send it
        (brotli.compress(raw), "br"),
    ]
    current: list[tuple[bytes, str | None]] = []

    def answer(seen: Any, url: str) -> tuple[int, dict[str, str], bytes]:
        return serve_bytes(*current[-1])(seen, url)

    with origin(answer) as vendor:
        for case in cases:
            current.append(case)
            outcomes = run_both(
                lambda: sync_executor(vendor.url, options=options(max_response_bytes=len(raw))),
                lambda: async_executor(vendor.url, options=options(max_response_bytes=len(raw))),
                lambda ex: ex.call("get_thing"),
            )
            assert outcomes == [doc, doc], case[1]


# ------------------------------------------------------------------------------ JSON depth


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_deeply_nested_json_is_a_bad_response_everywhere() -> None:
    with origin(serve_bytes(DEEP)) as vendor:
        for action in (
            lambda ex: ex.call("get_thing"),
            lambda ex: ex.request("GET", "/anything"),
        ):
            outcomes = run_both(
                lambda: sync_executor(vendor.url), lambda: async_executor(vendor.url), action
            )
            assert [getattr(o, "code", o) for o in outcomes] == ["bad_response"] * 2
        with sync_executor(vendor.url) as ex:
            with pytest.raises(PatchbayError) as caught:
                ex.paginate("list_things").all()
            assert caught.value.code == "bad_response"
            check = ex.test_connection()
            assert not check.ok and check.error is not None
            assert check.error.code == "bad_response"

        async def pages() -> PatchbayError:
            async with async_executor(vendor.url) as aex:
                with pytest.raises(PatchbayError) as caught:
                    await aex.paginate("list_things").all()
                return caught.value

        assert asyncio.run(pages()).code == "bad_response"


# ---------------------------------------------------------------- hostile values, raw errors


@pytest.mark.parametrize(
    "secret",
    [SECRET + "\r\nX-Injected: 1", SECRET + "\nX-Injected: 1", SECRET + "\x00", SECRET + "é"],
    ids=["crlf", "lf", "nul", "non-ascii"],
)
def test_a_credential_that_cannot_be_a_header_is_a_clean_config_error(secret: str) -> None:
    with origin() as vendor:
        sleep = FakeSleep()
        outcomes = run_both(
            lambda: sync_executor(
                vendor.url, secret=secret, options=options(retry=RetryPolicy()), sleep=sleep
            ),
            lambda: async_executor(
                vendor.url, secret=secret, options=options(retry=RetryPolicy()), sleep=sleep.async_
            ),
            lambda ex: ex.call("get_thing"),
        )
        for error in outcomes:
            assert isinstance(error, PatchbayError) and error.code == "config"
            assert_clean(error, secret, SECRET)
        assert sleep.calls == []  # not retried: repeating cannot fix it
        assert_never_received(vendor, SECRET)
        assert all("x-injected" not in seen.headers for seen in vendor.requests)


def test_a_variable_with_crlf_in_a_header_is_a_clean_config_error() -> None:
    with origin() as vendor:
        spec = {
            "connection": {
                "variables": {"account": {"description": "account"}},
                "headers": {"X-Account": "{account}"},
            }
        }
        hostile = {"account": "acme\r\nAuthorization: Bearer stolen"}
        outcomes = run_both(
            lambda: sync_executor(vendor.url, spec=spec, variables=hostile),
            lambda: async_executor(vendor.url, spec=spec, variables=hostile),
            lambda ex: ex.call("get_thing"),
        )
        for error in outcomes:
            assert isinstance(error, PatchbayError) and error.code == "config"
            assert_clean(error, SECRET)
        assert vendor.requests == []


@pytest.mark.parametrize(
    "base_url",
    ["{url}/v1\r\nHost: evil.test", "{url}/v1\x7f", "{url}:99999999/v1"],
    ids=["crlf", "control", "bad-port"],
)
def test_a_bad_base_url_is_a_clean_config_error(base_url: str) -> None:
    with origin() as vendor:
        bad = base_url.format(url=vendor.url)
        outcomes = run_both(
            lambda: sync_executor(vendor.url, base_url=bad),
            lambda: async_executor(vendor.url, base_url=bad),
            lambda ex: ex.call("get_thing"),
        )
        for error in outcomes:
            assert isinstance(error, PatchbayError), f"{error!r} escaped"
            assert error.code in ("config", "network")
            assert_clean(error, SECRET)


def test_an_unexpected_exception_inside_the_transport_leaves_as_a_clean_error() -> None:
    """Whatever a transport raises, the repr of the original (here: the Authorization value)
    does not come along."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"boom: {request.headers['authorization']}")

    outcomes = run_both(
        lambda: sync_executor("https://api.acme.test", transport=httpx.MockTransport(explode)),
        lambda: async_executor("https://api.acme.test", transport=httpx.MockTransport(explode)),
        lambda ex: ex.call("get_thing"),
    )
    for error in outcomes:
        assert isinstance(error, PatchbayError) and "RuntimeError" in error.message
        assert_clean(error, SECRET)


# ---------------------------------------------------------------------------- metric labels


def request_series(registry: CollectorRegistry) -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for metric in registry.collect()
        if metric.name == "patchbay_requests"
        for sample in metric.samples
        if sample.name == "patchbay_requests_total"
    }


def test_request_paths_never_become_metric_series() -> None:
    with origin() as vendor:
        registry = CollectorRegistry()
        with sync_executor(vendor.url, options=options(metrics_registry=registry)) as ex:
            for i in range(500):
                ex.request("GET", f"/users/person{i}@example.test")
        aregistry = CollectorRegistry()

        async def go() -> None:
            async with async_executor(
                vendor.url, options=options(metrics_registry=aregistry)
            ) as aex:
                for i in range(500):
                    await aex.request("GET", f"/users/person{i}@example.test")
                with pytest.raises(PatchbayError):  # the origin answers 501 to BREW
                    await aex.request("BREW", "/pot")

        asyncio.run(go())
    assert len(vendor.requests) == 1000  # BREW is answered 501 before it is recorded
    expected = (("action", "request"), ("connector", "acme"), ("method", "GET"))
    assert request_series(registry) == {(*expected, ("status_class", "2xx"))}
    assert request_series(aregistry) == {
        (*expected, ("status_class", "2xx")),
        (
            ("action", "request"),
            ("connector", "acme"),
            ("method", "OTHER"),
            ("status_class", "5xx"),
        ),
    }
    assert "example.test" not in repr(request_series(registry) | request_series(aregistry))


# ---------------------------------------------------------------------------- TriggerRunner


POLL_SPEC: dict[str, Any] = {
    "triggers": {
        "polling": [
            {
                "name": "new_thing",
                "action": "list_things",
                "dedupe_key": "id",
                "start": "read",
                "cursor": {"kind": "id", "field": "id"},
            }
        ]
    }
}


def test_a_poll_raising_what_no_one_expected_backs_off_with_a_status(tmp_path: Path) -> None:
    """A poll whose code path raises a non-Patchbay error (a ``RecursionError`` here) backs
    off exponentially with the error in its status, instead of re-polling at once."""
    store = SubscriptionStore(tmp_path / "subs.db")
    calls: list[str] = []

    def broken(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        calls.append(connection_id)
        raise RecursionError("maximum recursion depth exceeded")

    now = [1_800_000_000.0]
    registry = CollectorRegistry()
    runner = TriggerRunner(
        store,
        broken,
        lambda events: None,
        clock=lambda: now[0],
        jitter=0.0,
        metrics_registry=registry,
    )
    sub = store.add(Subscription("", "conn-1", "acme", "new_thing", 60))
    waits = []
    for _ in range(3):
        outcome = asyncio.run(runner.run_once(sub.id))
        stored = store.get(sub.id)
        assert stored.status == "backing_off"
        assert "RecursionError" in stored.message
        assert outcome.error is not None
        waits.append(stored.next_run_at - now[0])
        now[0] = stored.next_run_at  # due again
    assert waits == [120.0, 240.0, 480.0]
    assert len(calls) == 3
    polls = registry.get_sample_value(
        "patchbay_trigger_polls_total",
        {"connector": "acme", "trigger": "new_thing", "outcome": "unexpected_error"},
    )
    assert polls == 3


def test_the_scheduler_does_not_hot_loop_on_an_unexpected_poll_error(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "subs.db")
    calls: list[str] = []

    def broken(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        calls.append(connection_id)
        raise RuntimeError("a bug in a handler-independent path")

    runner = TriggerRunner(store, broken, lambda events: None)
    store.add(Subscription("", "conn-1", "acme", "new_thing", 60))

    async def go() -> None:
        stop = asyncio.Event()
        ticks: list[int] = []

        def tick(subs: list[Subscription]) -> None:
            ticks.append(len(subs))
            if len(ticks) >= 5:
                stop.set()

        await runner.run(stop=stop, on_tick=tick, tick_seconds=0.0)

    asyncio.run(go())
    assert len(calls) == 1  # five scheduler rounds, one poll: the next is two minutes away
    assert store.list()[0].status == "backing_off"


def test_a_poll_of_deeply_nested_json_pauses_instead_of_re_polling(tmp_path: Path) -> None:
    """Through the real executor: the nested answer is a bad_response, which pauses."""
    store = SubscriptionStore(tmp_path / "subs.db")
    with origin(serve_bytes(DEEP)) as vendor:
        spec = spec_for(vendor.url, **POLL_SPEC)

        def factory(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
            conn = Connection("acme", credentials={"api_key": SECRET})
            return spec, AsyncGenericExecutor(spec, conn, options=options())

        runner = TriggerRunner(store, factory, lambda events: None)
        sub = store.add(Subscription("", "conn-1", "acme", "new_thing", 60))
        for _ in range(3):
            asyncio.run(runner.run_once(sub.id))
        stored = store.get(sub.id)
    assert stored.status == "paused" and "[bad_response]" in stored.message
    assert len(vendor.requests) == 1


def test_a_status_set_for_an_unexpected_error_is_resumable(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "subs.db")

    def broken(connection_id: str) -> tuple[ConnectorSpec, AsyncGenericExecutor]:
        raise KeyError(SECRET)

    runner = TriggerRunner(store, broken, lambda events: None)
    sub = store.add(Subscription("", "conn-1", "acme", "new_thing", 60))
    asyncio.run(runner.run_once(sub.id))
    stored = store.get(sub.id)
    assert stored.status == "backing_off" and SECRET not in stored.message
    runner.resume(sub.id)
    assert replace(store.get(sub.id), message="") == replace(
        stored, status="active", message="", failures=0, next_run_at=0.0
    )


def test_a_typed_client_refuses_a_hostile_body_without_quoting_it() -> None:
    """A body the generated model rejects is a bad_response naming the place, not the value
    (pydantic's own error quotes the input); bad keyword input is a validation error alike."""
    from pydantic import SecretStr

    from patchbay.connectors.stripe import StripeApiKeyCredentials, StripeClient

    hostile = {"id": {"nested": SECRET}, "object": "customer", "email": SECRET}
    with origin(serve_bytes(json.dumps(hostile).encode())) as vendor:
        creds = StripeApiKeyCredentials(api_key=SecretStr("sk_test_FAKE_typed"))
        with StripeClient(creds, base_url=vendor.url) as client:
            with pytest.raises(PatchbayError) as caught:
                client.get_customer(customer="cus_FAKE1")
            assert caught.value.code == "bad_response" and caught.value.pointer is not None
            assert_clean(caught.value, SECRET)
            with pytest.raises(PatchbayError) as bad_input:
                client.get_customer(customer={"x": SECRET})  # type: ignore[arg-type]
            assert bad_input.value.code == "validation"
            assert_clean(bad_input.value, SECRET)


def test_a_bespoke_client_bug_leaves_the_manager_as_a_clean_error() -> None:
    from patchbay.runtime.accounts._manager import IntegrationManager

    class Broken:
        def call(self, action: str, data: Any = None, options: Any = None) -> Any:
            raise RuntimeError(f"bug holding {SECRET}")

    manager = IntegrationManager(bespoke={"stripe": lambda executor: Broken()})
    conn = Connection("stripe", credentials={"api_key": SECRET})
    with pytest.raises(PatchbayError) as caught:
        manager.execute(conn, "list_customers")
    assert_clean(caught.value, SECRET)

    async def go() -> PatchbayError:
        with pytest.raises(PatchbayError) as caught:
            await manager.aexecute(conn, "list_customers")
        return caught.value

    assert_clean(asyncio.run(go()), SECRET)


def test_the_scheduler_holds_a_subscription_whose_bookkeeping_fails(tmp_path: Path) -> None:
    """Even when the store cannot be read (locked by another process, say), the scheduler does
    not start the same subscription again on every pass."""
    from patchbay.runtime.errors import StoreLocked

    class LockedStore(SubscriptionStore):
        reads = 0

        def get(self, sub_id: str) -> Subscription:
            LockedStore.reads += 1
            raise StoreLocked("the store is locked")

    store = LockedStore(tmp_path / "subs.db")
    store.add(Subscription("", "conn-1", "acme", "new_thing", 60))
    runner = TriggerRunner(store, lambda cid: (_ for _ in ()).throw(AssertionError()), print)

    async def go() -> None:
        stop = asyncio.Event()
        ticks: list[int] = []

        def tick(subs: list[Subscription]) -> None:
            ticks.append(len(subs))
            if len(ticks) >= 5:
                stop.set()

        await runner.run(stop=stop, on_tick=tick, tick_seconds=0.0)

    asyncio.run(go())
    assert LockedStore.reads == 1
