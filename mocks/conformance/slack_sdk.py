"""Slack's official Python SDK (``slack_sdk``), the sync ``WebClient`` and the
``AsyncWebClient``, against the mock.

Configured only as its docs allow: ``WebClient(token=..., base_url=...)``. The sync client
sends every method as a form POST, the async one as the method's own request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from patchbay.mocks.conformance.steps import Steps, bounded, equal

CHANNEL = "C0CONFORM1"
TOKEN = "xoxb-conformance-FAKE"  # any bot token of Slack's shape


def run(base: str, credentials: dict[str, str]) -> Steps:
    """``base``: where the mock serves Slack (the SDK adds ``/api/`` methods to base_url)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    steps = Steps("slack (sync WebClient)")
    client = WebClient(token=TOKEN, base_url=f"{base}/api/")
    posted = steps.check(
        "chat_postMessage",
        lambda: client.chat_postMessage(channel=CHANNEL, text="hello"),
        lambda r: None if r["ok"] and r["message"]["text"] == "hello" else str(r.data),
    )
    ts = posted["ts"] if posted is not None else "1.000001"
    steps.check(
        "conversations_info",
        lambda: client.conversations_info(channel=CHANNEL)["ok"],
        equal(True),
    )
    steps.check(
        "chat_update",
        lambda: client.chat_update(channel=CHANNEL, ts=ts, text="edited")["message"]["text"],
        equal("edited"),
    )
    steps.check(
        "conversations_history pages (limit 2)",
        # The SDK's response iterates by turning itself into the next page: read each as it comes.
        lambda: _pages(
            bounded(_ts(p) for p in client.conversations_history(channel=CHANNEL, limit=2))
        ),
        lambda r: (
            None if r[0] >= 3 and ts in r[1] else f"{r[0]} pages, posted listed: {ts in r[1]}"
        ),
    )
    steps.check(
        "chat_delete", lambda: client.chat_delete(channel=CHANNEL, ts=ts)["ok"], equal(True)
    )
    _error(
        steps,
        "chat_update (deleted)",
        lambda: client.chat_update(channel=CHANNEL, ts=ts, text="x"),
        SlackApiError,
        "message_not_found",
    )
    _error(
        steps,
        "chat_update (unknown ts)",
        lambda: client.chat_update(channel=CHANNEL, ts="1.999999", text="x"),
        SlackApiError,
        "message_not_found",
    )
    bad = WebClient(token="not-a-token", base_url=f"{base}/api/")
    _error(
        steps,
        "bad token",
        lambda: bad.conversations_history(channel=CHANNEL),
        SlackApiError,
        "invalid_auth",
    )
    return steps


def run_async(base: str, credentials: dict[str, str]) -> Steps:
    """The same scenario through ``AsyncWebClient`` (aiohttp), paging with ``async for``."""
    return asyncio.run(_async_scenario(base))


async def _async_scenario(base: str) -> Steps:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    steps = Steps("slack (AsyncWebClient)")
    client = AsyncWebClient(token=TOKEN, base_url=f"{base}/api/")
    results: dict[str, Any] = {}

    async def call(name: str, coro: Any) -> None:
        try:
            results[name] = await coro
        except Exception as exc:  # recorded as the step's failure
            results[name] = exc

    await call("post", client.chat_postMessage(channel=CHANNEL, text="hello"))
    posted = results["post"]
    steps.check("chat_postMessage", lambda: _raise(posted)["message"]["text"], equal("hello"))
    ts = posted["ts"] if not isinstance(posted, Exception) else "1.000001"
    await call("update", client.chat_update(channel=CHANNEL, ts=ts, text="edited"))
    steps.check(
        "chat_update", lambda: _raise(results["update"])["message"]["text"], equal("edited")
    )
    pages: list[Any] = []
    try:
        async for page in await client.conversations_history(channel=CHANNEL, limit=2):
            pages.append(_ts(page))
            bounded(pages)
        results["pages"] = pages
    except Exception as exc:
        results["pages"] = exc
    steps.check(
        "conversations_history pages (limit 2)",
        lambda: _pages(_raise(results["pages"])),
        lambda r: None if r[0] >= 3 and ts in r[1] else f"{r[0]} pages",
    )
    await call("info", client.conversations_info(channel=CHANNEL))
    steps.check("conversations_info", lambda: _raise(results["info"])["ok"], equal(True))
    await call("unknown", client.chat_update(channel=CHANNEL, ts="1.999999", text="x"))
    _error(
        steps,
        "chat_update (unknown ts)",
        lambda: _raise(results["unknown"]),
        SlackApiError,
        "message_not_found",
    )
    await call("delete", client.chat_delete(channel=CHANNEL, ts=ts))
    steps.check("chat_delete", lambda: _raise(results["delete"])["ok"], equal(True))
    await call("deleted", client.chat_update(channel=CHANNEL, ts=ts, text="x"))
    _error(
        steps,
        "chat_update (deleted)",
        lambda: _raise(results["deleted"]),
        SlackApiError,
        "message_not_found",
    )
    bad = AsyncWebClient(token="not-a-token", base_url=f"{base}/api/")
    await call("bad", bad.conversations_history(channel=CHANNEL))
    _error(steps, "bad token", lambda: _raise(results["bad"]), SlackApiError, "invalid_auth")
    return steps


def _raise(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


def _ts(page: Any) -> list[str]:
    return [m["ts"] for m in page["messages"]]


def _pages(pages: list[list[str]]) -> tuple[int, list[str]]:
    return len(pages), [ts for page in pages for ts in page]


def _error(steps: Steps, name: str, call: Any, wanted: type[Exception], code: str) -> None:
    """The SDK's typed exception carrying the vendor's error code."""

    def check() -> str:
        try:
            call()
        except wanted as exc:
            return str(exc.response["error"])  # type: ignore[attr-defined]
        return "no error"

    steps.check(name, check, equal(code))
