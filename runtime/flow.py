"""The request flow protocol: one generator of instructions, driven by a sync or async driver.

Like httpx's ``Auth.auth_flow``, all decisions (build, sign, send, map errors, retry, refresh,
page) live in plain generators that *yield* what they need done and *receive* the outcome. The
drivers below only perform I/O: :func:`run_sync`/:func:`iterate_sync` with ``httpx.Client`` and
``time.sleep``, :func:`run_async`/:func:`iterate_async` with ``httpx.AsyncClient`` and
``asyncio.sleep``. So sync and async behaviour cannot diverge.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .connection import TokenProvider

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request; the flow receives an ``httpx.Response`` or the ``httpx.HTTPError``."""

    request: httpx.Request


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
            return client.send(instr.request)
        except httpx.HTTPError as exc:
            return exc
    if isinstance(instr, Sleep):
        sleep(instr.seconds)
        return None
    if isinstance(instr, AcquireToken):
        return instr.provider.get_token(force_refresh=instr.force_refresh)
    raise TypeError(f"unexpected instruction {instr!r}")


async def _perform_async(
    client: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]], instr: Instruction
) -> Any:
    if isinstance(instr, Send):
        try:
            return await client.send(instr.request)
        except httpx.HTTPError as exc:
            return exc
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
