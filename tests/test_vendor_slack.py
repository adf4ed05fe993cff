"""The Slack connector spec, run by the GenericExecutor against a Slack stand-in.

Slack's quirks are the point: errors arrive as HTTP 200 with ``ok: false``, ``ok: true`` may
carry a ``warning``, paging ends on an empty ``next_cursor`` (not on a short or empty page),
rate limits are 429 + ``Retry-After`` seconds, and JSON bodies want a charset.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchbay.mocks.oracles.slack import (
    ALL_SCOPES,
    BOT_TOKEN,
    DEMO,
    SIGNING_SECRET,
    TEAM_ID,
    TEAM_NAME,
    SlackStandIn,
    make_standin,
)
from patchbay.runtime import (
    AsyncGenericExecutor,
    CallOptions,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    load_spec,
)
from patchbay.runtime.http._error_mapping import match_holds
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.spec._model import (
    BearerAuth,
    CursorPagination,
    OAuth2Auth,
    WebhookVerification,
)

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "specs" / "slack.json")
API = "https://slack.com/api"
AUTH_HEADER = f"Bearer {BOT_TOKEN}"
JSON_UTF8 = "application/json; charset=utf-8"


def cursor_for(kind: str, value: str) -> str:
    """The stand-in's opaque cursor for an item (Slack cursors are base64 like this too)."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def executor(
    standin: SlackStandIn,
    sleeps: list[float],
    *,
    credentials: dict[str, str] | None = None,
) -> GenericExecutor:
    """A sync executor on the stand-in that validates responses and records sleeps."""
    return GenericExecutor(
        SPEC,
        Connection("slack", credentials=credentials or {"bot_token": BOT_TOKEN}),
        transport=standin.transport(),
        options=ExecutorOptions(validate_responses=True),
        sleep=sleeps.append,
    )


def setup(items: int = 25, **kwargs: Any) -> tuple[SlackStandIn, GenericExecutor, list[float]]:
    standin = SlackStandIn(items, **kwargs)
    sleeps: list[float] = []
    return standin, executor(standin, sleeps), sleeps


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    """Neither the text nor the repr of an error may show a credential."""
    for secret in (BOT_TOKEN, *secrets):
        assert secret not in str(exc)
        assert secret not in repr(exc)
        if isinstance(exc, PatchbayError):
            assert secret not in (exc.vendor_code or "")
            assert secret not in exc.message


def raised(fn: Callable[[], Any], *secrets: str) -> PatchbayError:
    """Run ``fn``, expect a PatchbayError, and check it leaks no secret."""
    with pytest.raises(PatchbayError) as info:
        fn()
    assert_no_secret(info.value, *secrets)
    return info.value


def only(request: httpx.Request) -> list[tuple[str, str]]:
    return list(request.url.params.multi_items())


# ------------------------------------------------------------------------- spec data


def test_spec_declares_bot_token_first_and_slack_oauth_v2() -> None:
    bot, oauth = SPEC.auth
    assert isinstance(bot, BearerAuth)
    assert (bot.name, bot.token, bot.header, bot.prefix) == (
        "bot_token",
        "{bot_token}",
        "Authorization",
        "Bearer ",
    )
    assert list(bot.fields) == ["bot_token"]
    assert isinstance(oauth, OAuth2Auth)
    assert oauth.authorize_url == "https://slack.com/oauth/v2/authorize"
    assert oauth.token_url == "https://slack.com/api/oauth.v2.access"
    assert (oauth.client_auth, oauth.scope_separator) == ("basic", ",")
    tr = oauth.token_response
    assert (tr.access_token, tr.refresh_token, tr.expires_in) == (
        "access_token",
        "refresh_token",
        "expires_in",
    )
    assert [(c.path, c.equals) for c in tr.success] == [("ok", True)]
    assert oauth.refresh.rotates_refresh_token is True
    assert SPEC.connection.base_url == API


def test_every_list_action_pages_slack_style() -> None:
    paged = [a for a in SPEC.actions if a.pagination is not None]
    assert {a.name for a in paged} == {"list_conversations", "list_messages", "list_users"}
    for action in paged:
        pag = action.pagination
        assert isinstance(pag, CursorPagination)
        assert (pag.cursor_param, pag.next_cursor_path) == (
            "cursor",
            "response_metadata.next_cursor",
        )
        assert pag.page_size is not None and pag.page_size.param == "limit"
        assert pag.stop_on_empty_page is False
        assert action.method == "GET"
        assert action.path.startswith("/") and "." in action.path


# --------------------------------------------------------------------------- paging


def test_list_conversations_pages_across_three_pages() -> None:
    standin, ex, _ = setup()
    pages = list(ex.paginate("list_conversations", {}, page_size=10).pages())

    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [c["id"] for c in pages[0].items][:2] == ["C0FAKE0000", "C0FAKE0001"]
    assert pages[2].items[-1]["id"] == "C0FAKE0024"
    assert pages[2].body["response_metadata"]["next_cursor"] == ""
    assert len(standin.requests) == 3  # the empty next_cursor ended paging
    first, second, third = standin.requests
    assert str(first.url) == f"{API}/conversations.list?limit=10"
    assert only(second) == [("limit", "10"), ("cursor", cursor_for("channel", "C0FAKE0010"))]
    assert only(third) == [("limit", "10"), ("cursor", cursor_for("channel", "C0FAKE0020"))]
    for request in standin.requests:
        assert request.method == "GET"
        assert request.url.path == "/api/conversations.list"
        assert request.headers["authorization"] == AUTH_HEADER


def test_empty_page_with_cursor_is_followed_and_paging_still_ends() -> None:
    """exclude_archived filters after paging: page 3 is empty but next_cursor is set."""
    standin, ex, _ = setup()
    data = {"types": ["public_channel", "private_channel"], "exclude_archived": True}
    pages = list(ex.paginate("list_conversations", data, page_size=5).pages())

    assert [len(p.items) for p in pages] == [5, 5, 0, 5, 5]
    assert pages[2].body["response_metadata"]["next_cursor"] == cursor_for("channel", "C0FAKE0015")
    assert not any(c["is_archived"] for p in pages for c in p.items)
    assert len(standin.requests) == 5
    assert only(standin.requests[0]) == [
        ("types", "public_channel,private_channel"),
        ("exclude_archived", "true"),
        ("limit", "5"),
    ]
    assert only(standin.requests[3])[-1] == ("cursor", cursor_for("channel", "C0FAKE0015"))


def test_empty_string_next_cursor_means_the_end() -> None:
    standin, ex, _ = setup(items=7)
    users = ex.paginate("list_users", {}, page_size=7).all()
    assert [u["id"] for u in users] == [f"U0FAKE{i:04d}" for i in range(7)]
    assert len(standin.requests) == 1

    # A queued final page: items present, next_cursor "" -> exactly one more request, no loop.
    standin.queue(
        httpx.Response(
            200,
            json={"ok": True, "members": [{"id": "U9"}], "response_metadata": {"next_cursor": ""}},
        )
    )
    assert [u["id"] for u in ex.paginate("list_users", {}).all()] == ["U9"]
    assert len(standin.requests) == 2


def test_repeated_cursor_raises_bad_response_instead_of_looping() -> None:
    standin, ex, _ = setup()
    standin.stuck_cursor = True
    seen: list[int] = []

    def walk() -> None:
        for page in ex.paginate("list_users", {}, page_size=10).pages():
            seen.append(len(page.items))

    exc = raised(walk)
    assert exc.code == "bad_response"
    assert seen == [10, 10]
    assert len(standin.requests) == 2
    assert only(standin.requests[1])[-1] == ("cursor", cursor_for("user", "U0FAKE0010"))


def test_max_items_and_max_pages_stop_early() -> None:
    standin, ex, _ = setup()
    items = ex.paginate("list_users", {}, page_size=10, max_items=12).all()
    assert [u["id"] for u in items] == [f"U0FAKE{i:04d}" for i in range(12)]
    assert len(standin.requests) == 2

    pages = list(ex.paginate("list_conversations", {}, page_size=4, max_pages=2).pages())
    assert [len(p.items) for p in pages] == [4, 4]
    assert len(standin.requests) == 4


def test_history_pages_newest_first_with_oldest_latest_inclusive() -> None:
    standin, ex, _ = setup()
    msgs = standin.general.messages
    oldest, latest = msgs[5]["ts"], msgs[15]["ts"]
    data = {"channel": "C0FAKE0000", "oldest": oldest, "latest": latest, "inclusive": True}
    pages = list(ex.paginate("list_messages", data, page_size=4).pages())

    assert [len(p.items) for p in pages] == [4, 4, 3]
    assert [m["text"] for p in pages for m in p.items] == [f"message {i}" for i in range(15, 4, -1)]
    assert "response_metadata" not in pages[-1].body  # no metadata at all also ends paging
    assert len(standin.requests) == 3
    assert only(standin.requests[0]) == [
        ("channel", "C0FAKE0000"),
        ("oldest", oldest),
        ("latest", latest),
        ("inclusive", "true"),
        ("limit", "4"),
    ]
    assert only(standin.requests[1])[-1] == ("cursor", cursor_for("next_ts", msgs[11]["ts"]))

    exclusive = ex.paginate("list_messages", {**data, "inclusive": False}).all()
    assert [m["text"] for m in exclusive] == [f"message {i}" for i in range(14, 5, -1)]


def test_polling_trigger_reads_only_messages_after_the_ts_cursor() -> None:
    standin, ex, _ = setup()
    (trigger,) = SPEC.triggers.polling
    assert (trigger.action, trigger.cursor.kind, trigger.cursor.field) == (
        "list_messages",
        "timestamp",
        "ts",
    )
    assert (trigger.cursor.param, trigger.dedupe_key) == ("oldest", "ts")

    newest_seen = standin.general.messages[-1]["ts"]
    first = ex.call("post_message", {"channel": "C0FAKE0000", "text": "new one"})
    second = ex.call("post_message", {"channel": "C0FAKE0000", "text": "new two"})
    assert trigger.cursor.param is not None
    poll: dict[str, Any] = {**trigger.input, "channel": "C0FAKE0000"}
    poll[trigger.cursor.param] = newest_seen
    fresh = ex.paginate(trigger.action, poll).all()

    assert [get_path(m, trigger.dedupe_key) for m in fresh] == [second["ts"], first["ts"]]
    assert ("oldest", newest_seen) in only(standin.requests[-1])  # the ts string, unaltered
    assert ("inclusive", "false") in only(standin.requests[-1])


# -------------------------------------------------------------------- test connection


def test_test_connection_ok_with_team_label() -> None:
    standin, ex, _ = setup()
    check = ex.test_connection()
    assert check.ok is True
    assert (check.account_label, check.account_id) == (TEAM_NAME, TEAM_ID)
    (request,) = standin.requests
    assert (request.method, str(request.url)) == ("POST", f"{API}/auth.test")
    assert request.headers["authorization"] == AUTH_HEADER


def test_test_connection_fails_with_a_bad_token() -> None:
    bad = "xoxb-FAKE-9999"
    standin, ex, _ = setup()
    ex = executor(standin, [], credentials={"bot_token": bad})
    check = ex.test_connection()
    assert check.ok is False
    assert check.error is not None
    assert (check.error.code, check.error.status, check.error.vendor_code) == (
        "auth_invalid",
        200,
        "invalid_auth",
    )
    assert_no_secret(check.error, bad)
    assert standin.requests[0].headers["authorization"] == f"Bearer {bad}"


# --------------------------------------------------------------------------- writes


def test_post_message_sends_exact_json_with_charset() -> None:
    standin, ex, _ = setup()
    thread = standin.general.messages[3]["ts"]
    result = ex.call(
        "post_message",
        {
            "channel": "C0FAKE0000",
            "text": "Hello ✓ from Patchbay",
            "thread_ts": thread,
            "unfurl_links": False,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
        },
    )
    (request,) = standin.requests
    assert (request.method, str(request.url)) == ("POST", f"{API}/chat.postMessage")
    assert request.headers["content-type"] == JSON_UTF8
    assert request.headers["authorization"] == AUTH_HEADER
    assert (
        request.content
        == (
            '{"channel":"C0FAKE0000","text":"Hello ✓ from Patchbay",'
            '"thread_ts":"1512086130.000216","unfurl_links":false,'
            '"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]}'
        ).encode()
    )
    assert result["ok"] is True and "warning" not in result  # the charset avoided missing_charset
    assert result["channel"] == "C0FAKE0000"
    assert result["message"]["thread_ts"] == thread
    assert standin.general.messages[-1]["ts"] == result["ts"]


def test_plain_application_json_is_accepted_with_a_warning_and_is_success() -> None:
    """The executor's default Content-Type works; Slack only warns (ok: true + warning)."""
    standin, ex, _ = setup()
    result = ex.call(
        "post_message",
        {"channel": "C0FAKE0000", "text": "hi"},
        CallOptions(extra_headers={"Content-Type": "application/json"}),
    )
    assert standin.requests[0].headers["content-type"] == "application/json"
    assert result["ok"] is True
    assert result["warning"] == "missing_charset"
    assert result["response_metadata"]["warnings"] == ["missing_charset"]


def test_update_then_delete_a_message() -> None:
    standin, ex, _ = setup()
    posted = ex.call("post_message", {"channel": "C0FAKE0000", "text": "draft"})
    updated = ex.call(
        "update_message", {"channel": "C0FAKE0000", "ts": posted["ts"], "text": "final"}
    )
    update_request = standin.requests[-1]
    assert str(update_request.url) == f"{API}/chat.update"
    assert update_request.headers["content-type"] == JSON_UTF8
    assert (
        update_request.content
        == f'{{"channel":"C0FAKE0000","ts":"{posted["ts"]}","text":"final"}}'.encode()
    )
    assert (updated["ts"], updated["text"], updated["message"]["text"]) == (
        posted["ts"],
        "final",
        "final",
    )
    assert "edited" in updated["message"]

    deleted = ex.call("delete_message", {"channel": "C0FAKE0000", "ts": posted["ts"]})
    assert (
        standin.requests[-1].content == f'{{"channel":"C0FAKE0000","ts":"{posted["ts"]}"}}'.encode()
    )
    assert (deleted["channel"], deleted["ts"]) == ("C0FAKE0000", posted["ts"])
    assert posted["ts"] not in [m["ts"] for m in standin.general.messages]
    exc = raised(lambda: ex.call("delete_message", {"channel": "C0FAKE0000", "ts": posted["ts"]}))
    assert (exc.code, exc.vendor_code) == ("not_found", "message_not_found")


def test_create_conversation_then_read_it_back() -> None:
    standin, ex, _ = setup()
    channel = ex.call("create_conversation", {"name": "patchbay-test", "is_private": True})
    assert standin.requests[-1].content == b'{"name":"patchbay-test","is_private":true}'
    assert standin.requests[-1].headers["content-type"] == JSON_UTF8
    assert (channel["name"], channel["is_private"]) == ("patchbay-test", True)
    assert ex.call("get_conversation", {"channel": channel["id"]})["name"] == "patchbay-test"
    assert str(standin.requests[-1].url) == f"{API}/conversations.info?channel={channel['id']}"
    hidden = ex.paginate("list_conversations", {}, page_size=100).all()
    assert channel["id"] not in [c["id"] for c in hidden]  # default types=public_channel


def test_add_reaction_and_read_user() -> None:
    standin, ex, _ = setup()
    ts = standin.general.messages[0]["ts"]
    assert ex.call(
        "add_reaction", {"channel": "C0FAKE0000", "name": "thumbsup", "timestamp": ts}
    ) == {"ok": True}
    assert (
        standin.requests[-1].content
        == f'{{"channel":"C0FAKE0000","name":"thumbsup","timestamp":"{ts}"}}'.encode()
    )
    assert standin.general.messages[0]["reactions"] == [
        {"name": "thumbsup", "users": ["U0FAKEBOT"], "count": 1}
    ]
    user = ex.call("get_user", {"user": "U0FAKE0003"})
    assert (user["id"], user["name"]) == ("U0FAKE0003", "user03")
    assert str(standin.requests[-1].url) == f"{API}/users.info?user=U0FAKE0003"


def test_post_message_without_text_blocks_or_attachments_is_rejected_before_sending() -> None:
    """The spec's body anyOf (text | blocks | attachments) should be enforced client-side."""
    standin, ex, _ = setup()
    exc = raised(lambda: ex.call("post_message", {"channel": "C0FAKE0000"}))
    assert exc.code == "validation"
    assert standin.requests == []


# --------------------------------------------------------------------------- errors


Arrange = Callable[[SlackStandIn], tuple[str, dict[str, Any]]]


def queued(error: str, action: str = "list_users", data: dict[str, Any] | None = None) -> Arrange:
    """Slack answers the next call with ``{"ok": false, "error": error}`` (HTTP 200)."""

    def arrange(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
        standin.fail_next(error)
        return action, data or {}

    return arrange


def rate_limited_429(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    standin.rate_limit(retry_after=3)
    return "list_users", {}


def revoked(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    standin.revoked_tokens.add(BOT_TOKEN)
    return "list_users", {}


def expired(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    standin.expired_tokens.add(BOT_TOKEN)
    return "list_users", {}


def without_chat_write(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    standin.tokens[BOT_TOKEN] = ALL_SCOPES - {"chat:write"}
    return "post_message", {"channel": "C0FAKE0000", "text": "x"}


def someone_elses_message(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    ts = standin.general.messages[0]["ts"]
    return "update_message", {"channel": "C0FAKE0000", "ts": ts, "text": "mine now"}


def update_without_text(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    ts = standin.general.messages[0]["ts"]
    return "update_message", {"channel": "C0FAKE0000", "ts": ts, "blocks": []}


def post_to_archived(standin: SlackStandIn) -> tuple[str, dict[str, Any]]:
    archived = next(c.id for c in standin.channels if c.is_archived)
    return "post_message", {"channel": archived, "text": "x"}


def fixed(action: str, data: dict[str, Any]) -> Arrange:
    """A call that fails on the stand-in's own state (unknown IDs, duplicates)."""
    return lambda _standin: (action, data)


# (case id, arrange, normalized code, vendor code): every error rule of the spec, in order.
ERROR_CASES: list[tuple[str, Arrange, str, str]] = [
    ("status_429", rate_limited_429, "rate_limited", "ratelimited"),
    ("rate_limited_200", queued("rate_limited"), "rate_limited", "rate_limited"),
    ("not_authed", queued("not_authed"), "auth_invalid", "not_authed"),
    ("account_inactive", queued("account_inactive"), "auth_invalid", "account_inactive"),
    ("token_revoked", revoked, "auth_invalid", "token_revoked"),
    ("token_expired", expired, "auth_expired", "token_expired"),
    ("missing_scope", without_chat_write, "permission_denied", "missing_scope"),
    (
        "not_allowed_token_type",
        queued("not_allowed_token_type"),
        "permission_denied",
        "not_allowed_token_type",
    ),
    (
        "restricted_action",
        queued("restricted_action", "create_conversation", {"name": "x"}),
        "permission_denied",
        "restricted_action",
    ),
    ("cant_update_message", someone_elses_message, "permission_denied", "cant_update_message"),
    (
        "channel_not_found",
        fixed("get_conversation", {"channel": "C0NOPE"}),
        "not_found",
        "channel_not_found",
    ),
    ("user_not_found", fixed("get_user", {"user": "U0NOPE"}), "not_found", "user_not_found"),
    (
        "message_not_found",
        fixed("add_reaction", {"channel": "C0FAKE0000", "name": "eyes", "timestamp": "1.000001"}),
        "not_found",
        "message_not_found",
    ),
    ("name_taken", fixed("create_conversation", {"name": "general"}), "conflict", "name_taken"),
    ("is_archived", post_to_archived, "conflict", "is_archived"),
    (
        "invalid_cursor",
        fixed("list_users", {"cursor": "bm9wZTpub3Bl"}),
        "validation",
        "invalid_cursor",
    ),
    ("invalid_arguments", queued("invalid_arguments"), "validation", "invalid_arguments"),
    ("no_text", update_without_text, "validation", "no_text"),
    ("internal_error", queued("internal_error"), "upstream_unavailable", "internal_error"),
    ("unknown_error", queued("some_future_error"), "validation", "some_future_error"),
]


@pytest.mark.parametrize(
    ("case", "arrange", "code", "vendor_code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_error_rules_map_slack_errors(
    case: str, arrange: Arrange, code: str, vendor_code: str
) -> None:
    standin, ex, sleeps = setup()
    action, data = arrange(standin)
    exc = raised(lambda: ex.call(action, data, CallOptions(retries=0)))
    assert exc.code == code
    assert exc.vendor_code == vendor_code
    assert exc.message == vendor_code  # Slack's error code doubles as the message
    assert exc.status == (429 if case == "status_429" else 200)
    assert exc.request_id is not None and exc.request_id.startswith("fakereq")
    assert len(standin.requests) == 1 and sleeps == []


def test_every_error_rule_has_a_case() -> None:
    """Each spec rule is hit by at least one case above (keeps the table honest)."""
    hit: set[int] = set()
    for name, _, _, vendor_code in ERROR_CASES:
        status = 429 if name == "status_429" else 200
        body = {"ok": False, "error": vendor_code}
        for index, rule in enumerate(SPEC.errors.rules):
            if match_holds(rule.when, status, httpx.Headers(), body):
                hit.add(index)
                break
    assert hit == set(range(len(SPEC.errors.rules)))


def test_missing_scope_keeps_the_vendor_details() -> None:
    standin, ex, _ = setup(tokens={BOT_TOKEN: {"users:read"}})
    exc = raised(lambda: ex.call("list_messages", {"channel": "C0FAKE0000"}))
    assert (exc.code, exc.vendor_code, exc.retryable) == (
        "permission_denied",
        "missing_scope",
        False,
    )
    assert standin.requests[0].headers["authorization"] == AUTH_HEADER


def test_5xx_without_slack_body_is_upstream_unavailable() -> None:
    standin, ex, _ = setup()
    standin.queue(httpx.Response(503, text="upstream connect error"))
    exc = raised(lambda: ex.call("list_users", {}, CallOptions(retries=0)))
    assert (exc.code, exc.status, exc.retryable) == ("upstream_unavailable", 503, True)


def test_ok_true_with_warning_is_success() -> None:
    standin, ex, _ = setup()
    standin.queue(
        httpx.Response(
            200,
            json={
                "ok": True,
                "warning": "superfluous_charset",
                "channel": {"id": "C0FAKE0001", "name": "channel-01"},
                "response_metadata": {"warnings": ["superfluous_charset"]},
            },
        )
    )
    assert ex.call("get_conversation", {"channel": "C0FAKE0001"}) == {
        "id": "C0FAKE0001",
        "name": "channel-01",
    }


def test_bot_token_is_redacted_even_when_echoed_in_an_error() -> None:
    standin, ex, _ = setup()
    standin.fail_next(f"invalid_auth {BOT_TOKEN}", detail=f"token {BOT_TOKEN} rejected")
    exc = raised(lambda: ex.call("list_users", {}))
    assert exc.code == "validation"  # not one of the known codes: the catch-all rule
    assert "invalid_auth" in exc.message


# ----------------------------------------------------------------------- rate limits


def test_429_retry_after_is_honoured_then_success() -> None:
    standin, ex, sleeps = setup()
    standin.rate_limit(retry_after=3)
    users = ex.call("list_users", {"limit": 5})
    assert [u["id"] for u in users["members"]] == [f"U0FAKE{i:04d}" for i in range(5)]
    assert sleeps == [3.0]
    assert len(standin.requests) == 2
    assert (
        str(standin.requests[0].url) == str(standin.requests[1].url) == f"{API}/users.list?limit=5"
    )


def test_429_on_a_post_is_not_retried_but_reports_the_wait() -> None:
    standin, ex, sleeps = setup()
    standin.rate_limit(retry_after=3)
    exc = raised(lambda: ex.call("post_message", {"channel": "C0FAKE0000", "text": "once"}))
    assert (exc.code, exc.status, exc.retry_after) == ("rate_limited", 429, 3.0)
    assert sleeps == []
    assert len(standin.requests) == 1
    assert standin.general.messages[-1]["text"] != "once"


# ------------------------------------------------------------------- oauth2 variant


class RotatingProvider:
    """Hands out an expired access token until asked to refresh (Slack token rotation)."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.token = "xoxb-FAKE-expired"

    def get_token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        if force_refresh:
            self.token = BOT_TOKEN
        return self.token

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        return self.get_token(force_refresh=force_refresh)


def test_oauth2_token_expired_forces_one_refresh_then_succeeds() -> None:
    standin = SlackStandIn(expired_tokens={"xoxb-FAKE-expired"})
    provider = RotatingProvider()
    sleeps: list[float] = []
    ex = GenericExecutor(
        SPEC,
        Connection("slack", auth="oauth2", token_provider=provider),
        transport=standin.transport(),
        sleep=sleeps.append,
    )
    user = ex.call("get_user", {"user": "U0FAKE0001"})
    assert user["id"] == "U0FAKE0001"
    assert provider.calls == [False, True]
    assert [r.headers["authorization"] for r in standin.requests] == [
        "Bearer xoxb-FAKE-expired",
        AUTH_HEADER,
    ]
    assert sleeps == []


# ---------------------------------------------------------------------------- async


def test_async_paging_rate_limit_and_test_connection() -> None:
    standin = SlackStandIn()
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> tuple[list[int], Any, Any]:
        async with AsyncGenericExecutor(
            SPEC,
            Connection("slack", credentials={"bot_token": BOT_TOKEN}),
            transport=standin.transport(),
            sleep=fake_sleep,
        ) as ex:
            sizes = [
                len(p.items)
                async for p in ex.paginate("list_conversations", {}, page_size=10).pages()
            ]
            standin.rate_limit(retry_after=3)
            check = await ex.test_connection()
            channel = await ex.call("get_conversation", {"channel": "C0FAKE0002"})
            return sizes, check, channel

    sizes, check, channel = asyncio.run(run())
    assert sizes == [10, 10, 5]
    assert only(standin.requests[1]) == [
        ("limit", "10"),
        ("cursor", cursor_for("channel", "C0FAKE0010")),
    ]
    assert (check.ok, check.account_label) == (True, TEAM_NAME)
    assert sleeps == [3.0]
    assert [r.url.path for r in standin.requests[3:]] == [
        "/api/auth.test",
        "/api/auth.test",
        "/api/conversations.info",
    ]
    assert channel["name"] == "channel-02"


# ---------------------------------------------------------------------------- webhook


def _sign_per_spec(ver: WebhookVerification, secret: str, timestamp: str, body: bytes) -> str:
    """What a verifier following the spec's data computes."""
    payload = ver.signed_payload.replace("{timestamp}", timestamp).encode()
    payload = payload.replace(b"{body}", body)
    digest = hmac.new(secret.encode(), payload, getattr(hashlib, ver.algorithm)).digest()
    text = digest.hex() if ver.encoding == "hex" else base64.b64encode(digest).decode()
    return ver.signature_prefix + text


def test_webhook_scheme_reproduces_slacks_published_signature() -> None:
    (hook,) = SPEC.triggers.webhooks
    ver = hook.verification
    assert (ver.scheme, ver.signature_header, ver.timestamp_header) == (
        "hmac",
        "X-Slack-Signature",
        "X-Slack-Request-Timestamp",
    )
    assert ver.tolerance_seconds == 300
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = _sign_per_spec(ver, "8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body)
    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_webhook_paths_fit_a_signed_events_api_delivery() -> None:
    (hook,) = SPEC.triggers.webhooks
    standin = make_standin()
    event = {
        "type": "message",
        "channel": "C0FAKE0000",
        "user": "U0FAKE0001",
        "text": "hi",
        "ts": "1700000000.000100",
    }
    headers, body = standin.event_delivery(
        event, timestamp=1700000000, event_id="Ev0FAKE0042", retry_num=1
    )
    ver = hook.verification
    assert ver.timestamp_header is not None
    signed = _sign_per_spec(ver, SIGNING_SECRET, headers[ver.timestamp_header], body)
    assert hmac.compare_digest(signed, headers[ver.signature_header])
    payload = json.loads(body)
    assert hook.event_type_path is not None and hook.delivery_id_path is not None
    assert get_path(payload, hook.event_type_path) == "message"
    assert get_path(payload, hook.delivery_id_path) == "Ev0FAKE0042"
    assert hook.retry_header in headers
    assert hook.secret_field in SPEC.connection.variables
    assert hook.registration_action is None  # Request URLs are set in app settings, not the Web API

    handshake = hook.handshake
    assert handshake is not None
    headers, body = standin.url_verification_delivery("FAKEchallenge123", timestamp=1700000000)
    hello = json.loads(body)
    assert get_path(hello, handshake.type_path) == handshake.type_value == "url_verification"
    assert get_path(hello, handshake.challenge_path) == "FAKEchallenge123"
    assert _sign_per_spec(ver, SIGNING_SECRET, "1700000000", body) == headers["X-Slack-Signature"]


# ------------------------------------------------------------------------------ demo


def test_demo_runs_against_make_standin() -> None:
    standin = make_standin(items=25)
    ex = GenericExecutor(
        SPEC,
        Connection("slack", credentials=DEMO["credentials"], variables=DEMO["variables"]),
        transport=standin.transport(),
        sleep=lambda _s: None,
    )
    pages = list(ex.paginate(DEMO["action"], DEMO["input"], page_size=10).pages())
    assert len(pages) == 3
    assert sum(len(p.items) for p in pages) == 25
