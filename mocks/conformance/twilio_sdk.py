"""Twilio's official Python SDK (``twilio``) against the mock.

The SDK has no base-URL setting (only Twilio edges and regions), so the mock is reached through
its documented custom HTTP client hook: ``Client(..., http_client=...)`` with a
``TwilioHttpClient`` that sends ``https://api.twilio.com`` requests to the mock instead.
Credentials are the Account SID and Auth Token; the mock is served with ``--var account_sid=``.
"""

from __future__ import annotations

from typing import Any

from patchbay.mocks.conformance.steps import Steps, bounded, equal

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TO, FROM = "+15005550010", "+15005550006"


def run(base: str, credentials: dict[str, str]) -> Steps:
    """``base``: where the mock serves Twilio's API origin."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class ToMock(TwilioHttpClient):
        """The SDK's own HTTP client, sending to the mock's origin."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return super().request(
                method, url.replace("https://api.twilio.com", base, 1), *args, **kwargs
            )

    steps = Steps("twilio")
    token = credentials.get("auth_token", "mock_auth_token")
    client = Client(ACCOUNT_SID, token, account_sid=ACCOUNT_SID, http_client=ToMock())
    sent = steps.check(
        "messages.create",
        lambda: client.messages.create(to=TO, from_=FROM, body="Hello from the SDK"),
        lambda m: (
            None
            if (m.to, m.from_, m.body, m.status, m.sid[:2])
            == (TO, FROM, "Hello from the SDK", "queued", "SM")
            and m.date_created is not None
            else f"to={m.to} from={m.from_} body={m.body!r} status={m.status}"
        ),
    )
    sid = sent.sid if sent is not None else "SM" + "0" * 32
    steps.check(
        "messages(sid).fetch",
        lambda: client.messages(sid).fetch().body,
        equal("Hello from the SDK"),
    )
    steps.check(
        "messages(sid).update (redact)",
        lambda: client.messages(sid).update(body="").body,
        equal(""),
    )
    steps.check(
        "messages.list page_size 2 (SDK paging)",
        lambda: [m.sid for m in bounded(client.messages.list(page_size=2))],
        lambda sids: None if len(sids) >= 5 and sid in sids else f"{len(sids)} messages",
    )
    steps.check(
        "messages.page envelope",
        lambda: _envelope(client.messages.page(page_size=2)),
        lambda r: (
            None if r[0] == 0 and r[1] is not None and r[1].startswith("/2010-04-01/") else repr(r)
        ),
    )
    steps.check("messages(sid).delete", lambda: client.messages(sid).delete(), equal(True))
    steps.check(
        "fetch (deleted) -> 20404",
        lambda: _code(lambda: client.messages(sid).fetch(), TwilioRestException),
        equal(20404),
    )
    steps.check(
        "fetch (unknown sid) -> 20404",
        lambda: _code(lambda: client.messages("SM" + "f" * 32).fetch(), TwilioRestException),
        equal(20404),
    )
    bad = Client(ACCOUNT_SID, "wrong-token", account_sid=ACCOUNT_SID, http_client=ToMock())
    steps.check(
        "bad auth token -> 20003",
        lambda: _code(lambda: bad.messages(sid).fetch(), TwilioRestException),
        equal(20003),
    )
    return steps


def _envelope(page: Any) -> tuple[Any, Any]:
    return page._payload.get("page"), page._payload.get("next_page_uri")


def _code(call: Any, wanted: type[Exception]) -> Any:
    try:
        call()
    except wanted as exc:
        return exc.code  # type: ignore[attr-defined]
    return "no error"
