"""The request flow protocol: one generator of instructions, driven by a sync or async driver.

Like httpx's ``Auth.auth_flow``, all decisions (build, sign, send, map errors, retry, refresh,
page) live in plain generators that *yield* what they need done and *receive* the outcome. The
drivers below only perform I/O: :func:`run_sync`/:func:`iterate_sync` with ``httpx.Client`` and
``time.sleep``, :func:`run_async`/:func:`iterate_async` with ``httpx.AsyncClient`` and
``asyncio.sleep``. So sync and async behaviour cannot diverge.

The drivers read every response body themselves, streamed, so a hostile server cannot hold a
call past its deadline (one byte every few seconds) or fill memory (a huge body, or a small
gzip/brotli bomb): :class:`BodyReader` counts *decoded* bytes while it decompresses, asking the
decompressor for no more output than the cap allows.
"""

from __future__ import annotations

import asyncio
import time
import weakref
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import httpx

from patchbay.runtime.http._connection import TokenProvider

try:  # httpx decodes brotli when this is installed (and then advertises it), so must we.
    import brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - optional, as for httpx
    brotli = None

T = TypeVar("T")


@dataclass(slots=True)  # not frozen: one is made per request, and frozen __init__ is slower
class Send:
    """Send this request; the flow receives an ``httpx.Response`` (body read), the
    ``httpx.HTTPError``, or a :class:`Cut` when the body broke a limit.

    ``deadline`` is an instant on ``clock`` (``time.monotonic`` unless a test injects another)
    past which the body read stops; ``max_bytes`` caps the decoded body.
    """

    request: httpx.Request
    deadline: float | None = None
    max_bytes: int | None = None
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class Cut:
    """A response abandoned by the driver: its body passed the deadline or the size cap."""

    reason: Literal["deadline", "size"]
    status: int | None  # None: cut before the response headers arrived


class _Decompressor(Protocol):
    def decompress(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``, returning at most ``limit`` bytes (0: no limit)."""
        ...


class _Zlib:
    """gzip/deflate with bounded output (``max_length``), as ``zlib`` allows natively."""

    __slots__ = ("_raw_fallback", "_z")

    def __init__(self, encoding: str) -> None:
        gzip = encoding == "gzip"
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        # "deflate" is sent both zlib-wrapped and raw in the wild; httpx tries both, so do we.
        self._raw_fallback = not gzip

    def decompress(self, data: bytes, limit: int) -> bytes:
        try:
            out = self._z.decompress(data, limit)
        except zlib.error as exc:
            if not self._raw_fallback:
                raise httpx.DecodingError(f"invalid compressed body: {exc}") from None
            self._raw_fallback = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decompress(data, limit)
        self._raw_fallback = False
        return out


class _Brotli:
    __slots__ = ("_d",)

    def __init__(self) -> None:
        assert brotli is not None
        self._d = brotli.Decompressor()

    def decompress(self, data: bytes, limit: int) -> bytes:
        try:
            out: bytes = (
                self._d.process(data, output_buffer_limit=limit) if limit else self._d.process(data)
            )
        except brotli.error as exc:
            raise httpx.DecodingError(f"invalid compressed body: {exc}") from None
        return out


def _decompressor(encoding: str) -> _Decompressor | None:
    if encoding in ("gzip", "deflate"):
        return _Zlib(encoding)
    if encoding == "br" and brotli is not None:
        return _Brotli()
    return None  # identity, or a coding httpx does not decode either: passed through as is


class BodyReader:
    """Accumulates one response body, decoded, refusing it past ``max_bytes``.

    Each decompression step asks for at most ``max_bytes - read + 1`` bytes of output, so a
    bomb (a megabyte of gzip that inflates to gigabytes) costs at most the cap in memory.
    """

    __slots__ = ("_chunks", "_layers", "_limit", "_read")

    def __init__(self, headers: httpx.Headers, max_bytes: int | None) -> None:
        self._limit = max_bytes
        self._read = 0
        self._chunks: list[bytes] = []
        self._layers: list[_Decompressor] = []
        if "content-encoding" in headers:
            codings = headers.get_list("content-encoding", split_commas=True)
            # Applied in the order listed, so undone in reverse.
            for coding in reversed(codings):
                layer = _decompressor(coding.strip().lower())
                if layer is not None:
                    self._layers.append(layer)

    def too_big_upfront(self, headers: httpx.Headers) -> bool:
        """Whether the declared ``Content-Length`` already passes the cap (no read needed)."""
        if self._limit is None or self._layers:
            return False
        declared = headers.get("content-length")
        return declared is not None and declared.isdigit() and int(declared) > self._limit

    def feed(self, raw: bytes) -> bool:
        """Take one raw chunk; ``False`` once the decoded body passed the cap."""
        data = raw
        limit = self._limit
        layers = self._layers
        if layers:
            if limit is None:
                for layer in layers:
                    data = layer.decompress(data, 0)
            else:
                # The last layer gives the body: no more than what is left of the cap (plus one
                # byte, to tell "full" from "over"). An inner layer (``gzip, br``) is bounded by
                # the whole cap: its output is still compressed, so it says little about the rest.
                last = len(layers) - 1
                for i, layer in enumerate(layers):
                    room = limit - self._read + 1 if i == last else limit + 1
                    data = layer.decompress(data, room)
                    if len(data) >= room:
                        return False
        self._read += len(data)
        if limit is not None and self._read > limit:
            return False
        self._chunks.append(data)
        return True

    def body(self) -> bytes:
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_read(response: httpx.Response, send: Send) -> httpx.Response | Cut:
    if send.max_bytes is not None and len(response.content) > send.max_bytes:
        return Cut("size", response.status_code)
    return response


def _read_sync(response: httpx.Response, send: Send) -> httpx.Response | Cut:
    if response.is_stream_consumed:  # an in-process transport handed over a body it had read
        return _check_read(response, send)
    reader = BodyReader(response.headers, send.max_bytes)
    if reader.too_big_upfront(response.headers):
        return Cut("size", response.status_code)
    deadline, clock = send.deadline, send.clock
    for raw in response.iter_raw():
        if not reader.feed(raw):
            return Cut("size", response.status_code)
        if deadline is not None and clock() > deadline:
            return Cut("deadline", response.status_code)
    # What ``Response.read()`` would have stored, so the response behaves as a read one.
    response._content = reader.body()
    return response


async def _read_async(response: httpx.Response, send: Send) -> httpx.Response | Cut:
    if response.is_stream_consumed:  # an in-process transport handed over a body it had read
        return _check_read(response, send)
    reader = BodyReader(response.headers, send.max_bytes)
    if reader.too_big_upfront(response.headers):
        return Cut("size", response.status_code)
    deadline, clock = send.deadline, send.clock
    async for raw in response.aiter_raw():
        if not reader.feed(raw):
            return Cut("size", response.status_code)
        if deadline is not None and clock() > deadline:
            return Cut("deadline", response.status_code)
    response._content = reader.body()
    return response


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class AcquireToken:
    """Ask the token provider for an access token (``force_refresh`` after an expiry signal)."""

    provider: TokenProvider
    force_refresh: bool = False


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand a value (a page) to the consumer of an iterating flow."""

    value: Any


Instruction = Send | Sleep | AcquireToken | Emit
Flow = Generator[Instruction, Any, T]


def _perform_sync(client: httpx.Client, sleep: Callable[[float], None], instr: Instruction) -> Any:
    if isinstance(instr, Send):
        try:
            response = client.send(instr.request, stream=True, follow_redirects=False)
            try:
                return _read_sync(response, instr)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return exc
    if isinstance(instr, Sleep):
        sleep(instr.seconds)
        return None
    if isinstance(instr, AcquireToken):
        return instr.provider.get_token(force_refresh=instr.force_refresh)
    raise TypeError(f"unexpected instruction {instr!r}")


class _Expiry:
    """Cuts one send at its deadline (by cancelling the sending task)."""

    __slots__ = ("fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.fired = False

    def __call__(self) -> None:
        self.fired = True
        self.task.cancel()


class _Watchdog:
    """One timer per event loop for every send in flight on it, instead of one per send.

    A timer per request (``asyncio.timeout``) costs a heap push and a cancelled handle left in
    the loop's heap on every call; here a send only enters and leaves a dict, and a single
    callback, ticking while anything is in flight, cancels the sends past their deadline. The
    price is up to :data:`TICK` seconds of lateness, nothing next to a deadline.
    """

    TICK = 0.25

    __slots__ = ("_inflight", "_loop", "_ticking")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._inflight: dict[_Expiry, float] = {}
        self._ticking = False

    def watch(self, expiry: _Expiry, seconds: float) -> None:
        self._inflight[expiry] = self._loop.time() + seconds
        if not self._ticking:
            self._ticking = True
            self._loop.call_later(min(self.TICK, max(seconds, 0.0)), self._tick)

    def unwatch(self, expiry: _Expiry) -> None:
        self._inflight.pop(expiry, None)

    def _tick(self) -> None:
        now = self._loop.time()
        due = [expiry for expiry, when in self._inflight.items() if when <= now]
        for expiry in due:
            del self._inflight[expiry]
            expiry()
        self._ticking = bool(self._inflight)
        if self._ticking:
            self._loop.call_later(self.TICK, self._tick)


_WATCHDOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)
_last_watchdog: tuple[asyncio.AbstractEventLoop | None, _Watchdog | None] = (None, None)


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    global _last_watchdog
    last_loop, last = _last_watchdog
    if last_loop is loop and last is not None:
        return last
    found = _WATCHDOGS.get(loop)
    if found is None:
        found = _WATCHDOGS[loop] = _Watchdog(loop)
    _last_watchdog = (loop, found)
    return found


async def _send_async(client: httpx.AsyncClient, send: Send) -> httpx.Response | Cut | Any:
    try:
        response = await client.send(send.request, stream=True, follow_redirects=False)
        try:
            return await _read_async(response, send)
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return exc


async def _perform_async(
    client: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]], instr: Instruction
) -> Any:
    if isinstance(instr, Send):
        task = asyncio.current_task()
        if instr.deadline is None or task is None:
            return await _send_async(client, instr)
        # The event loop can cut anything at the deadline, headers dripping in included.
        watchdog = _watchdog(asyncio.get_running_loop())
        expiry = _Expiry(task)
        watchdog.watch(expiry, instr.deadline - instr.clock())
        try:
            result = await _send_async(client, instr)
        except asyncio.CancelledError:
            if expiry.fired and task.uncancel() == 0:
                return Cut("deadline", None)
            raise
        finally:
            watchdog.unwatch(expiry)
        if expiry.fired:  # fired as the send completed, the cancellation swallowed on the way
            task.uncancel()
        return result
    if isinstance(instr, Sleep):
        await sleep(instr.seconds)
        return None
    if isinstance(instr, AcquireToken):
        return await instr.provider.aget_token(force_refresh=instr.force_refresh)
    raise TypeError(f"unexpected instruction {instr!r}")


def iterate_sync(
    flow: Flow[Any], client: httpx.Client, sleep: Callable[[float], None] = time.sleep
) -> Generator[Any, None, None]:
    """Drive ``flow``, yielding every emitted value; lazily, one page at a time."""
    value: Any = None
    try:
        while True:
            instr = flow.send(value)
            if isinstance(instr, Emit):
                yield instr.value
                value = None
            else:
                value = _perform_sync(client, sleep, instr)
    except StopIteration:
        return
    finally:
        flow.close()


def run_sync[T](
    flow: Flow[T], client: httpx.Client, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Drive ``flow`` to completion and return its result."""
    value: Any = None
    while True:
        try:
            instr = flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value = _perform_sync(client, sleep, instr)


async def iterate_async(
    flow: Flow[Any],
    client: httpx.AsyncClient,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[Any, None]:
    value: Any = None
    try:
        while True:
            instr = flow.send(value)
            if isinstance(instr, Emit):
                yield instr.value
                value = None
            else:
                value = await _perform_async(client, sleep, instr)
    except StopIteration:
        return
    finally:
        flow.close()


async def run_async[T](
    flow: Flow[T],
    client: httpx.AsyncClient,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    value: Any = None
    while True:
        try:
            instr = flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value = await _perform_async(client, sleep, instr)
