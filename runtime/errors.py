"""One error hierarchy for everything Patchbay raises at run time.

Callers catch :class:`PatchbayError` (or a subclass) and branch on the stable ``code``; they never
see a raw httpx exception. Messages are redacted by whoever builds the error (and again by
:meth:`PatchbayError.redact` on the way out of the executor); ``message`` and ``args`` are one
value, so redacting one redacts the other, and ``repr`` shows only the normalized fields, so an
error can be logged as is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, get_args

ErrorCode = Literal[
    "auth_invalid",
    "auth_expired",
    "permission_denied",
    "not_found",
    "conflict",
    "validation",
    "rate_limited",
    "upstream_unavailable",
    "timeout",
    "network",
    "bad_response",
    "config",
]

ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)

#: Codes that are worth retrying when the request may be repeated safely.
RETRYABLE_CODES: frozenset[str] = frozenset(
    {"rate_limited", "upstream_unavailable", "timeout", "network"}
)


class PatchbayError(Exception):
    """Base of every Patchbay error; ``code`` is stable, the message is human-readable."""

    code: ClassVar[ErrorCode] = "config"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor_code: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        connector: str | None = None,
        action: str | None = None,
        pointer: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self._message = message
        self.status = status
        self.vendor_code = vendor_code
        self.request_id = request_id
        self.retryable = self.code in RETRYABLE_CODES if retryable is None else retryable
        self.retry_after = retry_after
        self.connector = connector
        self.action = action
        self.pointer = pointer
        self.details = details or {}

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        # ``args`` is what tracebacks, pickling and ``BaseException.__repr__`` show: keep it the
        # same text, so a message redacted after construction leaves no original copy behind.
        self._message = value
        self.args = (value,)

    def redact(self, scrub: Callable[[str], str]) -> None:
        """Scrub secrets from every free-text field (message, vendor code, request id)."""
        self.message = scrub(self._message)
        if self.vendor_code:
            self.vendor_code = scrub(self.vendor_code)
        if self.request_id:
            self.request_id = scrub(self.request_id)

    def __str__(self) -> str:
        where = ".".join(p for p in (self.connector, self.action) if p)
        parts = [f"[{self.code}]"]
        if where:
            parts.append(f"{where}:")
        parts.append(self.message)
        if self.status is not None:
            parts.append(f"(HTTP {self.status})")
        if self.vendor_code:
            parts.append(f"vendor_code={self.vendor_code}")
        if self.pointer is not None:
            parts.append(f"at {self.pointer or '/'}")
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}s")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        fields = {
            "message": self.message,
            "status": self.status,
            "vendor_code": self.vendor_code,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
        }
        shown = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
        return f"{type(self).__name__}({shown})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, e.g. for the CLI's ``--json`` output."""
        return {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "vendor_code": self.vendor_code,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "connector": self.connector,
            "action": self.action,
            "pointer": self.pointer,
        }


class AuthInvalid(PatchbayError):
    code = "auth_invalid"


class AuthExpired(PatchbayError):
    code = "auth_expired"


class PermissionDenied(PatchbayError):
    code = "permission_denied"


class NotFound(PatchbayError):
    code = "not_found"


class Conflict(PatchbayError):
    code = "conflict"


class ValidationFailed(PatchbayError):
    code = "validation"


class RateLimited(PatchbayError):
    code = "rate_limited"


class UpstreamUnavailable(PatchbayError):
    code = "upstream_unavailable"


class Timeout(PatchbayError):
    code = "timeout"


class NetworkError(PatchbayError):
    code = "network"


class BadResponse(PatchbayError):
    code = "bad_response"


class ConfigError(PatchbayError):
    code = "config"


class ConnectorUnavailable(ConfigError):
    """No bespoke client is registered and the generic executor is switched off."""


class StoreError(ConfigError):
    """A local SQLite store (tokens, subscriptions, webhooks) failed: a file problem."""


class StoreLocked(Timeout):
    """Another process kept a local store's write lock past the busy timeout; retryable."""


ERROR_CLASSES: dict[str, type[PatchbayError]] = {
    cls.code: cls
    for cls in (
        AuthInvalid,
        AuthExpired,
        PermissionDenied,
        NotFound,
        Conflict,
        ValidationFailed,
        RateLimited,
        UpstreamUnavailable,
        Timeout,
        NetworkError,
        BadResponse,
        ConfigError,
    )
}


def error_for_code(code: str) -> type[PatchbayError]:
    """The exception class for a normalized code (``config`` for anything unknown)."""
    return ERROR_CLASSES.get(code, ConfigError)


def describe_unexpected(exc: BaseException) -> str:
    """A safe one-line description of an exception Patchbay did not expect.

    Only the exception's *type* is named: the text of a raw exception may quote what it choked
    on (``UnicodeEncodeError`` carries the whole header value, an h11 protocol error the header
    bytes, ``httpx.InvalidURL`` the URL), and that can be a credential in a form no value-based
    redaction recognizes (a ``bytes`` repr with escaped CR/LF).
    """
    if isinstance(exc, RecursionError):
        return "the data nests too deeply to process (RecursionError)"
    if isinstance(exc, UnicodeError):
        return (
            "a header or URL holds characters HTTP cannot carry "
            f"(non-ASCII or control characters; {type(exc).__name__})"
        )
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError)"
    return f"unexpected {type(exc).__name__}"
