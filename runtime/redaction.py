"""Redaction of secrets in anything that leaves the executor: logs, errors, reprs, fixtures.

Two layers: by *name* (auth headers, key query parameters, token fields in bodies) and by
*value* (every secret a connection holds is scrubbed from free text, wherever it appears).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

REDACTED = "[REDACTED]"

SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-api-token",
        "api-key",
        "x-auth-token",
        "stripe-signature",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-slack-signature",
        "typeform-signature",
        "x-zendesk-webhook-signature",
        "webhook-signature",
    }
)

SENSITIVE_FIELDS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "api_token",
        "secret",
        "client_secret",
        "password",
        "auth_token",
        "signing_secret",
        "code_verifier",
    }
)

#: Query parameters are named more tersely than body fields (Trello ``key``/``token``).
SENSITIVE_PARAMS: frozenset[str] = SENSITIVE_FIELDS | {"token", "key", "sig", "signature"}


class Redactor:
    """Scrubs known secret values and sensitive names. Cheap when there is nothing to scrub."""

    __slots__ = ("_fields", "_headers", "_params", "_secrets")

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        headers: Iterable[str] = (),
        fields: Iterable[str] = (),
        params: Iterable[str] = (),
    ) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = tuple(
            sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        )
        self._headers = SENSITIVE_HEADERS | {h.lower() for h in headers}
        self._fields = SENSITIVE_FIELDS | {f.lower() for f in fields}
        self._params = SENSITIVE_PARAMS | {p.lower() for p in params}

    def add(self, secret: str) -> None:
        """Also scrub ``secret`` from now on (an access token fetched mid-flight)."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
        return {
            k: (REDACTED if k.lower() in self._headers else self.text(v))
            for k, v in headers.items()
        }

    def url(self, url: httpx.URL | str) -> str:
        url = httpx.URL(url) if isinstance(url, str) else url
        if url.query:
            params = [
                (k, REDACTED if k.lower() in self._params else v)
                for k, v in url.params.multi_items()
            ]
            url = url.copy_with(params=params)
        return self.text(str(url))

    def data(self, value: Any) -> Any:
        """A deep copy of JSON-like data with sensitive fields and secret values redacted."""
        if isinstance(value, dict):
            return {
                k: (REDACTED if str(k).lower() in self._fields else self.data(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value
