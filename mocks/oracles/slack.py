"""A stand-in for the Slack Web API and Events API deliveries, written from Slack's docs.

What it reproduces, because connectors get these wrong:
- every failure is HTTP 200 with ``{"ok": false, "error": "<code>"}`` (missing token ->
  ``not_authed``, unknown token -> ``invalid_auth``, missing scope -> ``missing_scope`` with
  ``needed``/``provided``); a rate limit is HTTP 429 with ``Retry-After`` seconds and
  ``{"ok": false, "error": "ratelimited"}``;
- cursor paging: ``cursor`` + ``limit`` in, ``response_metadata.next_cursor`` out, where ``""``
  (or no metadata at all, on conversations.history) means the end. ``conversations.list`` pages
  over *all* channels and filters each page afterwards (``exclude_archived``, ``types``), so a
  page can hold fewer items than ``limit`` - even none - while ``next_cursor`` is still set;
- JSON bodies need the token in the ``Authorization`` header; a JSON ``Content-Type`` without a
  charset still succeeds, with ``"warning": "missing_charset"``;
- Events API deliveries signed with ``v0:{timestamp}:{body}`` (HMAC-SHA256, hex, ``v0=``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from patchbay.mocks.oracles.base import StandIn

BOT_TOKEN = "xoxb-FAKE-0000"
SIGNING_SECRET = "FAKE_signing_secret_0000"
TEAM_ID = "T0FAKE0001"
TEAM_NAME = "Patchbay Fake Workspace"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"

ALL_SCOPES: frozenset[str] = frozenset(
    {
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
        "channels:manage",
        "groups:write",
        "chat:write",
        "reactions:write",
        "users:read",
    }
)

# The first message of the seeded history, a ts from Slack's own docs example.
FIRST_TS_SECONDS = 1512085950
FIRST_TS_MICROS = 216

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_LIST_MAX = 1000
_HISTORY_MAX = 999


class SlackError(Exception):
    """Raised inside a handler to answer ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class _Channel:
    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_member": True,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "created": self.created,
            "creator": self.creator,
            "context_team_id": TEAM_ID,
            "num_members": 3,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {
                "value": f"About {self.name}",
                "creator": self.creator,
                "last_set": self.created,
            },
            "previous_names": [],
        }


def format_ts(seconds: int, micros: int) -> str:
    """A Slack ``ts``: epoch seconds, a dot, six digits (``1512085950.000216``)."""
    return f"{seconds}.{micros:06d}"


def ts_value(ts: str) -> tuple[int, int]:
    """A ``ts`` (or an ``oldest``/``latest`` bound) as an exactly comparable pair."""
    whole, _, frac = ts.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(ts)
    return int(whole), int((frac + "000000")[:6])


def sign_request(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _encode_cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode_cursor(cursor: str, kind: str) -> str:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise SlackError("invalid_cursor")
    return value


def _truthy(value: Any) -> bool:
    """Slack reads booleans from query/form strings: ``true``/``1`` are true."""
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


class SlackStandIn(StandIn):
    """Behaves like ``https://slack.com/api`` for the methods the Slack connector uses.

    ``tokens`` maps each accepted token to its granted scopes; ``expired_tokens`` answer
    ``token_expired`` (token rotation) and ``revoked_tokens`` answer ``token_revoked``.
    ``items`` sizes every collection (channels, users, messages in #general). Channels from
    40% to 60% of the list are archived, so ``exclude_archived=true`` yields short or empty
    pages mid-way, as Slack's filtering after paging does. Set ``stuck_cursor`` to make paged
    methods hand back the cursor they were given (a vendor bug the executor must not loop on).
    """

    def __init__(
        self,
        items: int = 25,
        *,
        tokens: Mapping[str, Iterable[str]] | None = None,
        expired_tokens: Iterable[str] = (),
        revoked_tokens: Iterable[str] = (),
        signing_secret: str = SIGNING_SECRET,
    ) -> None:
        super().__init__()
        self.tokens: dict[str, frozenset[str]] = {
            token: frozenset(scopes)
            for token, scopes in (tokens if tokens is not None else {BOT_TOKEN: ALL_SCOPES}).items()
        }
        self.expired_tokens = set(expired_tokens)
        self.revoked_tokens = set(revoked_tokens)
        self.signing_secret = signing_secret
        self.stuck_cursor = False
        self._req_ids = itertools.count(1)
        self._clock_seconds = FIRST_TS_SECONDS + 10 * 86_400
        self.users: list[dict[str, Any]] = [self._make_user(i) for i in range(items)]
        self.channels: list[_Channel] = []
        low, high = items * 2 // 5, items * 3 // 5
        for i in range(items):
            self.channels.append(
                _Channel(
                    id=f"C0FAKE{i:04d}",
                    name="general" if i == 0 else f"channel-{i:02d}",
                    created=FIRST_TS_SECONDS - 86_400 + i,
                    creator=self.users[0]["id"] if self.users else BOT_USER_ID,
                    is_general=i == 0,
                    is_archived=low <= i < high and i != 0,
                )
            )
        if self.channels:
            general = self.channels[0]
            for i in range(items):
                author = self.users[i % len(self.users)]["id"]
                general.messages.append(
                    {
                        "type": "message",
                        "user": author,
                        "text": f"message {i}",
                        "ts": format_ts(FIRST_TS_SECONDS + 60 * i, FIRST_TS_MICROS),
                        "team": TEAM_ID,
                    }
                )

    # ------------------------------------------------------------------ test helpers

    @property
    def general(self) -> _Channel:
        return self.channels[0]

    def rate_limit(self, retry_after: int = 3, times: int = 1) -> None:
        """Answer the next ``times`` requests the way Slack rate-limits: 429 + Retry-After."""
        for _ in range(times):
            self.queue(
                self._respond(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            )

    def fail_next(self, error: str, *, status: int = 200, **extra: Any) -> None:
        """Answer the next request with a Slack error body (HTTP 200 unless told)."""
        self.queue(self._respond({"ok": False, "error": error, **extra}, status=status))

    def event_delivery(
        self,
        event: Mapping[str, Any],
        *,
        timestamp: int,
        event_id: str = "Ev0FAKE0001",
        retry_num: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and raw body of an Events API ``event_callback`` delivery, signed."""
        payload = {
            "token": "FAKEverificationtoken",
            "team_id": TEAM_ID,
            "api_app_id": "A0FAKEAPP",
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": timestamp,
            "authed_users": [BOT_USER_ID],
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = self._signed_headers(body, timestamp)
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return headers, body

    def url_verification_delivery(
        self, challenge: str, *, timestamp: int
    ) -> tuple[dict[str, str], bytes]:
        """The signed ``url_verification`` handshake Slack sends when a Request URL is set."""
        body = json.dumps(
            {"token": "FAKEverificationtoken", "challenge": challenge, "type": "url_verification"}
        ).encode()
        return self._signed_headers(body, timestamp), body

    def _signed_headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign_request(self.signing_secret, str(timestamp), body),
        }

    # ------------------------------------------------------------------------ serving

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/api/"):
            return httpx.Response(404, text="not found")
        method = request.url.path[len("/api/") :]
        handler = self._methods().get(method)
        if handler is None:
            return self._respond(
                {"ok": False, "error": "unknown_method", "req_method": method}, status=404
            )
        warnings: list[str] = []
        try:
            args, body_token = self._arguments(request, warnings)
            scopes = self._authenticate(request, body_token)
            result = handler(args, scopes)
        except SlackError as exc:
            return self._respond({"ok": False, "error": exc.code, **exc.extra})
        if warnings:
            result["warning"] = ",".join(warnings)
            meta = result.setdefault("response_metadata", {})
            meta["warnings"] = list(warnings)
        return self._respond({"ok": True, **result})

    def _methods(self) -> dict[str, Any]:
        return {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "conversations.info": self._conversations_info,
            "conversations.create": self._conversations_create,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "reactions.add": self._reactions_add,
            "users.list": self._users_list,
            "users.info": self._users_info,
        }

    def _respond(
        self, body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(
            status,
            content=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Slack-Req-Id": f"fakereq{next(self._req_ids):06d}",
                **(headers or {}),
            },
        )

    def _arguments(
        self, request: httpx.Request, warnings: list[str]
    ) -> tuple[dict[str, Any], str | None]:
        """Query string plus form or JSON body; a token is read only from a form body."""
        args: dict[str, Any] = dict(request.url.params)
        content = request.content
        if not content:
            return args, None
        content_type = request.headers.get("content-type", "")
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        if mime == "application/json":
            if "charset" not in params.lower():
                warnings.append("missing_charset")
            try:
                data = json.loads(content)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(data, dict):
                raise SlackError("json_not_object")
            args.update(data)
            return args, None
        if mime == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(content.decode(), keep_blank_values=True))
            token = form.pop("token", None)
            args.update(form)
            return args, token
        if not mime:
            raise SlackError("missing_post_type")
        raise SlackError("invalid_post_type")

    def _authenticate(self, request: httpx.Request, body_token: str | None) -> frozenset[str]:
        header = request.headers.get("authorization", "")
        token: str | None = None
        if header.lower().startswith("bearer "):
            token = header[len("bearer ") :].strip()
        elif body_token:
            token = body_token
        if not token:
            raise SlackError("not_authed")
        if token in self.revoked_tokens:
            raise SlackError("token_revoked")
        if token in self.expired_tokens:
            raise SlackError("token_expired")
        scopes = self.tokens.get(token)
        if scopes is None:
            raise SlackError("invalid_auth")
        return scopes

    @staticmethod
    def _need(scopes: frozenset[str], *needed: str) -> None:
        """Slack's ``missing_scope``: any one of ``needed`` is enough."""
        if not any(s in scopes for s in needed):
            raise SlackError(
                "missing_scope", needed=",".join(needed), provided=",".join(sorted(scopes))
            )

    @staticmethod
    def _required(args: Mapping[str, Any], *names: str) -> None:
        missing = [n for n in names if args.get(n) in (None, "")]
        if missing:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": [f"[ERROR] missing required field: {n}" for n in missing]
                },
            )

    @staticmethod
    def _limit(args: Mapping[str, Any], *, default: int | None, maximum: int) -> int | None:
        raw = args.get("limit")
        if raw is None:
            return default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        if value < 1 or value > maximum:
            raise SlackError("invalid_limit")
        return value

    def _page(
        self, rows: list[Any], ids: list[str], args: Mapping[str, Any], kind: str, limit: int | None
    ) -> tuple[list[Any], str]:
        """One positional page of ``rows`` and the next cursor (``""`` at the end)."""
        start = 0
        cursor = args.get("cursor")
        if cursor:
            key = _decode_cursor(str(cursor), kind)
            if key not in ids:
                raise SlackError("invalid_cursor")
            start = ids.index(key)
        end = len(rows) if limit is None else start + limit
        page = rows[start:end]
        if self.stuck_cursor and cursor:
            return page, str(cursor)
        next_cursor = _encode_cursor(kind, ids[end]) if end < len(rows) else ""
        return page, next_cursor

    def _channel(self, ref: Any) -> _Channel:
        """A channel by ID, or by name with or without ``#`` (chat.postMessage allows names)."""
        text = str(ref or "")
        name = text.removeprefix("#")
        for channel in self.channels:
            if channel.id == text or channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    @staticmethod
    def _message(channel: _Channel, ts: Any) -> dict[str, Any]:
        for message in channel.messages:
            if message["ts"] == str(ts):
                return message
        raise SlackError("message_not_found")

    def _next_ts(self, channel: _Channel) -> str:
        self._clock_seconds += 1
        latest = ts_value(channel.messages[-1]["ts"]) if channel.messages else (0, 0)
        seconds = max(self._clock_seconds, latest[0] + 1)
        return format_ts(seconds, 100)

    @staticmethod
    def _make_user(i: int) -> dict[str, Any]:
        name = f"user{i:02d}"
        return {
            "id": f"U0FAKE{i:04d}",
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {i:02d}",
            "deleted": False,
            "is_bot": False,
            "is_app_user": False,
            "is_admin": i == 0,
            "is_owner": i == 0,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "tz": "Europe/Berlin",
            "tz_offset": 3600,
            "updated": FIRST_TS_SECONDS,
            "profile": {
                "display_name": name,
                "real_name": f"User {i:02d}",
                "email": f"{name}@example.test",
                "image_72": f"https://avatars.example.test/{name}.png",
            },
        }

    # ------------------------------------------------------------------------ methods

    def _auth_test(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        return {
            "url": "https://patchbay-fake.slack.com/",
            "team": TEAM_NAME,
            "user": "patchbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversations_list(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        types = [t for t in str(args.get("types") or "public_channel").split(",") if t]
        known = {"public_channel", "private_channel", "mpim", "im"}
        if any(t not in known for t in types):
            raise SlackError("invalid_types")
        if "public_channel" in types:
            self._need(scopes, "channels:read")
        if "private_channel" in types:
            self._need(scopes, "groups:read")
        limit = self._limit(args, default=100, maximum=_LIST_MAX)
        exclude_archived = _truthy(args.get("exclude_archived", False))
        page, next_cursor = self._page(
            self.channels, [c.id for c in self.channels], args, "channel", limit
        )

        def wanted(channel: _Channel) -> bool:
            kind = "private_channel" if channel.is_private else "public_channel"
            return kind in types and not (exclude_archived and channel.is_archived)

        return {
            "channels": [c.to_json() for c in page if wanted(c)],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_info(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "channels:read", "groups:read")
        self._required(args, "channel")
        return {"channel": self._channel_by_id(args["channel"]).to_json()}

    def _channel_by_id(self, ref: Any) -> _Channel:
        for channel in self.channels:
            if channel.id == str(ref):
                return channel
        raise SlackError("channel_not_found")

    def _conversations_create(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        private = _truthy(args.get("is_private", False))
        self._need(scopes, "groups:write" if private else "channels:manage")
        name = str(args.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if all(ch in "-_" for ch in name):
            raise SlackError("invalid_name_punctuation")
        if any(ch not in _NAME_CHARS for ch in name):
            raise SlackError("invalid_name_specials")
        if any(c.name == name for c in self.channels):
            raise SlackError("name_taken")
        self._clock_seconds += 1
        channel = _Channel(
            id=f"C0NEW{len(self.channels):05d}",
            name=name,
            created=self._clock_seconds,
            creator=BOT_USER_ID,
            is_private=private,
        )
        self.channels.append(channel)
        return {"channel": channel.to_json()}

    def _conversations_history(
        self, args: dict[str, Any], scopes: frozenset[str]
    ) -> dict[str, Any]:
        self._need(scopes, "channels:history", "groups:history")
        self._required(args, "channel")
        channel = self._channel_by_id(args["channel"])
        inclusive = _truthy(args.get("inclusive", False))
        bounds: dict[str, tuple[int, int]] = {}
        for key in ("oldest", "latest"):
            if args.get(key) not in (None, ""):
                try:
                    bounds[key] = ts_value(str(args[key]))
                except ValueError:
                    raise SlackError(f"invalid_ts_{key}") from None

        def in_range(message: dict[str, Any]) -> bool:
            ts = ts_value(message["ts"])
            if "oldest" in bounds and (
                ts < bounds["oldest"] or (ts == bounds["oldest"] and not inclusive)
            ):
                return False
            return (
                "latest" not in bounds
                or ts < bounds["latest"]
                or (ts == bounds["latest"] and inclusive)
            )

        newest_first = [m for m in reversed(channel.messages) if in_range(m)]
        limit = self._limit(args, default=100, maximum=_HISTORY_MAX)
        page, next_cursor = self._page(
            newest_first, [m["ts"] for m in newest_first], args, "next_ts", limit
        )
        result: dict[str, Any] = {
            "messages": [dict(m) for m in page],
            "has_more": bool(next_cursor),
            "pin_count": 0,
        }
        if next_cursor:
            result["response_metadata"] = {"next_cursor": next_cursor}
        return result

    def _chat_post_message(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "chat:write")
        self._required(args, "channel")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        channel = self._channel(args["channel"])
        if channel.is_archived:
            raise SlackError("is_archived")
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": str(args.get("text") or ""),
            "ts": self._next_ts(channel),
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _own_message(
        self, args: dict[str, Any], ts_key: str, refusal: str
    ) -> tuple[_Channel, dict[str, Any]]:
        channel = self._channel(args["channel"])
        message = self._message(channel, args[ts_key])
        if message.get("user") != BOT_USER_ID:
            raise SlackError(refusal)
        return channel, message

    def _chat_update(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "chat:write")
        self._required(args, "channel", "ts")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        channel, message = self._own_message(args, "ts", "cant_update_message")
        for key in ("text", "blocks", "attachments"):
            if key in args:
                message[key] = args[key]
        self._clock_seconds += 1
        message["edited"] = {"user": BOT_USER_ID, "ts": format_ts(self._clock_seconds, 0)}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": dict(message),
        }

    def _chat_delete(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "chat:write")
        self._required(args, "channel", "ts")
        channel, message = self._own_message(args, "ts", "cant_delete_message")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _reactions_add(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "reactions:write")
        self._required(args, "channel", "name", "timestamp")
        name = str(args["name"])
        if ":" in name or " " in name:
            raise SlackError("invalid_name")
        message = self._message(self._channel(args["channel"]), args["timestamp"])
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if BOT_USER_ID in reaction["users"]:
                    raise SlackError("already_reacted")
                reaction["users"].append(BOT_USER_ID)
                reaction["count"] += 1
                return {}
        reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
        return {}

    def _users_list(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "users:read")
        limit = self._limit(args, default=None, maximum=_LIST_MAX)
        page, next_cursor = self._page(
            self.users, [u["id"] for u in self.users], args, "user", limit
        )
        return {
            "members": [dict(u) for u in page],
            "cache_ts": FIRST_TS_SECONDS,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _users_info(self, args: dict[str, Any], scopes: frozenset[str]) -> dict[str, Any]:
        self._need(scopes, "users:read")
        self._required(args, "user")
        for user in self.users:
            if user["id"] == str(args["user"]):
                return {"user": dict(user)}
        raise SlackError("user_not_found")


DEMO: dict[str, Any] = {
    "action": "list_conversations",
    "input": {"types": ["public_channel", "private_channel"]},
    "credentials": {"bot_token": BOT_TOKEN},
    "variables": {},
}


def make_standin(items: int = 25) -> SlackStandIn:
    """A stand-in that accepts DEMO's bot token with every scope the connector needs."""
    return SlackStandIn(items, tokens={BOT_TOKEN: ALL_SCOPES})
