"""Mapping vendor responses to normalized errors by the spec's rules.

Rules are tried in order and may match any status, so a vendor that reports errors inside a
200 (Slack's ``"ok": false``) is handled as data. When no rule matches, a non-2xx status falls back
to the default table below. Rate-limit waits are read from ``Retry-After`` (seconds or HTTP
date), a body path, or a reset header, as the spec's ``rate_limits`` say.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import httpx

from patchbay.runtime.errors import PatchbayError, error_for_code
from patchbay.runtime.http._paths import MISSING, get_path
from patchbay.runtime.spec._model import Condition, ConnectorSpec, ErrorRule, Match

DEFAULT_BY_STATUS: dict[int, str] = {
    400: "validation",
    401: "auth_invalid",
    403: "permission_denied",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    410: "not_found",
    412: "conflict",
    422: "validation",
    429: "rate_limited",
}

_FALLBACK_MESSAGE_PATHS = (
    "error.message",
    "message",
    "error_description",
    "error_summary",
    "error",
    "detail",
)
_FALLBACK_CODE_PATHS = ("error.code", "code", "error.type", "error")


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def condition_holds(cond: Condition, value: Any) -> bool:
    """Evaluate one condition on an already looked-up value (``MISSING`` when absent)."""
    fields = cond.model_fields_set
    if "exists" in fields:
        return (value is not MISSING) == bool(cond.exists)
    if value is MISSING:
        return "not_equals" in fields
    if "equals" in fields:
        return bool(value == cond.equals)
    if "not_equals" in fields:
        return bool(value != cond.not_equals)
    if "in_" in fields:
        return value in (cond.in_ or [])
    if "matches" in fields:
        return isinstance(value, str) and _regex(cond.matches or "").search(value) is not None
    return False


def status_matches(status: int, allowed: list[int | str] | None) -> bool:
    if allowed is None:
        return True
    for entry in allowed:
        if isinstance(entry, int):
            if entry == status:
                return True
        elif status // 100 == int(entry[0]):
            return True
    return False


def match_holds(match: Match, status: int, headers: httpx.Headers, body: Any) -> bool:
    if not status_matches(status, match.status):
        return False
    for cond in match.headers:
        if not condition_holds(cond, headers.get(cond.path, MISSING)):
            return False
    return all(condition_holds(cond, get_path(body, cond.path)) for cond in match.body)


def parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def _first_text(body: Any, paths: tuple[str | None, ...]) -> str | None:
    for path in paths:
        if path is None:
            continue
        value = get_path(body, path, None)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


class ErrorMapper:
    """Classifies one response; compiled once per connector."""

    __slots__ = ("_clock", "_errors", "_has_2xx_rules", "_limits", "_redact")

    def __init__(
        self,
        spec: ConnectorSpec,
        *,
        redact: Callable[[str], str] = lambda s: s,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._errors = spec.errors
        self._limits = spec.rate_limits
        self._redact = redact
        self._clock = clock
        self._has_2xx_rules = any(
            status_matches(200, r.when.status) or status_matches(201, r.when.status)
            for r in spec.errors.rules
        )

    def classify(
        self,
        response: httpx.Response,
        body: Any,
        *,
        connector: str,
        action: str,
    ) -> PatchbayError | None:
        status = response.status_code
        if status < 300 and not self._has_2xx_rules:
            return None
        headers = response.headers
        rule: ErrorRule | None = None
        for candidate in self._errors.rules:
            if match_holds(candidate.when, status, headers, body):
                rule = candidate
                break
        if rule is None:
            if status < 300:
                return None
            code = DEFAULT_BY_STATUS.get(status)
            if code is None:
                code = "upstream_unavailable" if status >= 500 else "validation"
                if status < 400:
                    code = "bad_response"
        else:
            code = rule.code
        message = _first_text(
            body,
            (
                rule.message_path if rule else None,
                self._errors.message_path,
                *_FALLBACK_MESSAGE_PATHS,
            ),
        )
        if message is None:
            message = f"HTTP {status} {response.reason_phrase}".strip()
        vendor_code = _first_text(
            body,
            (
                rule.vendor_code_path if rule else None,
                self._errors.vendor_code_path,
                *_FALLBACK_CODE_PATHS,
            ),
        )
        request_id = None
        if self._errors.request_id_header is not None:
            request_id = headers.get(self._errors.request_id_header)
        retryable = rule.retryable if rule is not None else None
        if self._errors.should_retry_header is not None:
            flag = headers.get(self._errors.should_retry_header)
            if flag in ("true", "false"):
                retryable = flag == "true"
        retry_after = None
        if code in ("rate_limited", "upstream_unavailable"):
            retry_after = self.retry_after(headers, body)
            if retry_after is None and rule is not None:
                retry_after = rule.retry_after_seconds
        cls = error_for_code(code)
        return cls(
            self._redact(message),
            status=status,
            vendor_code=self._redact(vendor_code) if vendor_code else None,
            request_id=request_id,
            retryable=retryable,
            retry_after=retry_after,
            connector=connector,
            action=action,
        )

    def retry_after(self, headers: httpx.Headers, body: Any) -> float | None:
        """Seconds the vendor asks us to wait, from whichever signal the spec declares."""
        limits = self._limits
        now = self._clock()
        if limits.retry_after_header is not None:
            raw = headers.get(limits.retry_after_header)
            if raw is not None:
                parsed = parse_retry_after(raw, now)
                if parsed is not None:
                    return parsed
        if limits.retry_after_path is not None:
            value = get_path(body, limits.retry_after_path, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0.0, float(value))
        remaining = headers.get(limits.remaining_header) if limits.remaining_header else None
        # A reset time only says when the quota refills; it is the wait only if none is left
        # (GitHub sends it on every response, also with secondary limits).
        if limits.reset_header is not None and remaining in (None, "0"):
            raw = headers.get(limits.reset_header)
            if raw is not None:
                try:
                    reset = float(raw)
                except ValueError:
                    return None
                if limits.reset_format == "delta_seconds":
                    return max(0.0, reset)
                if limits.reset_format == "epoch_milliseconds":
                    reset /= 1000.0
                return max(0.0, reset - now)
        return None
