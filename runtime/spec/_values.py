"""What a connection variable's value may be (control characters, header text, enum, pattern,
named formats) and which URL templates a spec sends requests to: rules of the spec format, shared
by its semantic checks and by the connection checks that run before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from patchbay.runtime.http._urls import DNS_LABEL, HOSTNAME, https_origin
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Auth

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
_EMAIL = re.compile(r"[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_FORMATS: dict[str, Callable[[str], bool]] = {
    "dns_label": lambda v: DNS_LABEL.fullmatch(v) is not None,
    "hostname": lambda v: HOSTNAME.fullmatch(v) is not None,
    "https_origin": lambda v: https_origin(v) is not None,
    "email": lambda v: _EMAIL.fullmatch(v) is not None,
}
_FORMAT_WORDS = {
    "dns_label": "one DNS label",
    "hostname": "a host name",
    "https_origin": "an https origin (https://host[:port], nothing after it)",
    "email": "an e-mail address",
}


@lru_cache(maxsize=512)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A spec pattern compiled once (the semantic checks report one that does not compile)."""
    return re.compile(pattern)


def value_problem(
    value: object,
    *,
    pattern: str | None = None,
    enum: list[str] | None = None,
    format: str | None = None,
    header: bool = False,
) -> str | None:
    """Why ``value`` is not acceptable, in words that never quote it; ``None`` if it is."""
    if not isinstance(value, str):
        return "must be text"
    if _CONTROL.search(value):
        return "must not contain control characters (CR, LF, tab, ...)"
    if header and not _HEADER_TEXT.fullmatch(value):
        return "is sent in a header, so it must be printable ASCII"
    if enum is not None and value not in enum:
        return f"must be one of {enum}"
    if pattern is not None:
        try:
            matched = compiled_pattern(pattern).search(value) is not None
        except re.error:
            return f"cannot be checked: the spec's pattern {pattern!r} is not a valid regex"
        if not matched:
            return f"must match {pattern}"
    if format is not None and not _FORMATS[format](value):
        return f"must be {_FORMAT_WORDS[format]}"
    return None


def url_templates(spec: ConnectorSpec) -> list[tuple[str, str]]:
    """Every URL template a request may be sent to, with a JSON pointer to it: the base URLs
    and the OAuth endpoints."""
    found = [("/connection/base_url", spec.connection.base_url)]
    for i, action in enumerate(spec.actions):
        if action.base_url is not None:
            found.append((f"/actions/{i}/base_url", action.base_url))
    for i, variant in enumerate(spec.auth):
        if isinstance(variant, OAuth2Auth):
            for key in ("authorize_url", "token_url", "refresh_url", "revoke_url"):
                url = getattr(variant, key)
                if url is not None:
                    found.append((f"/auth/{i}/{key}", url))
    return found
