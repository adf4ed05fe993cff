"""A mock OAuth2 provider for any spec's oauth2 variant: authorize, token, revoke.

It answers in the vendor's shape, derived from the variant's ``token_response`` paths (Slack's
``ok`` envelope and nested user token, Salesforce's ``instance_url`` and missing ``expires_in``,
Google's ``expires_in``), checks the client, the redirect URI, ``state`` round trip and PKCE, and
rotates refresh tokens when the spec says the vendor does. ``deny`` makes the authorize step
refuse; ``revoke_all`` and ``expire_access_tokens`` let tests kill tokens. It counts refreshes so
a test can prove a refresh was single-flight.

The revoke endpoint accepts exactly the style the variant's ``revoke`` data describes (RFC 7009
form with or without hint and client authentication, a bearer call without a body, the token as
the last path segment; method included) and refuses any other, so a test proves the request
Patchbay builds is the one the vendor wants. A revocation kills the whole grant (every access
and refresh token issued from one authorization), as Google, Salesforce and Dropbox do;
``revoke_status`` makes the endpoint fail as in an outage.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import httpx

from patchbay.mocks.vendor_errors import remove_path, set_path
from patchbay.runtime.http import MISSING, get_path
from patchbay.runtime.spec import Condition, ConnectorSpec, OAuth2Auth


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    used: bool = False


@dataclass
class MockOAuthProvider:
    spec: ConnectorSpec
    variant: OAuth2Auth
    client_id: str = "client_FAKE_id"
    client_secret: str = "client_FAKE_secret"
    expires_in: int = 3600
    deny: bool = False
    token_variables: dict[str, str] = field(default_factory=dict)
    refresh_count: int = 0
    requests: list[httpx.Request] = field(default_factory=list)
    revoke_status: int | None = None
    revoked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._codes: dict[str, _Grant] = {}
        self._access: set[str] = set()
        self._refresh: set[str] = set()
        self._grant_of: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        for var in self.variant.variables_from_token:
            declared = self.spec.connection.variables.get(var)
            example = declared.example if declared is not None else None
            self.token_variables.setdefault(
                var, example or f"https://{var.replace('_', '-')}.mock.test"
            )

    # -------------------------------------------------------------------------- helpers

    def _reply(self, status: int, body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"Cache-Control": "no-store"})

    def _error(
        self, code: str, status: int = 400, envelope: list[Condition] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        set_path(body, self.variant.token_response.error_path, code)
        conditions = self.variant.token_response.success if envelope is None else envelope
        for cond in conditions:
            # Envelope vendors (Slack) report failures as ok: false with HTTP 200.
            if "equals" in cond.model_fields_set and cond.equals is True:
                set_path(body, cond.path, False)
                status = 200
        return self._reply(status, body)

    def _tokens(self, scope: str, grant: str) -> dict[str, Any]:
        shape = self.variant.token_response
        n = next(self._ids)
        access, refresh = f"at_FAKE_{n}", f"rt_FAKE_{n}"
        self._access.add(access)
        self._refresh.add(refresh)
        self._grant_of[access] = self._grant_of[refresh] = grant
        body: dict[str, Any] = {}
        for cond in shape.success:
            if "equals" in cond.model_fields_set:
                set_path(body, cond.path, cond.equals)
        set_path(body, shape.access_token, access)
        if shape.refresh_token:
            set_path(body, shape.refresh_token, refresh)
        if shape.expires_in:
            set_path(body, shape.expires_in, self.expires_in)
        if shape.token_type:
            set_path(body, shape.token_type, "Bearer")
        if shape.scope:
            set_path(body, shape.scope, scope)
        for var, path in self.variant.variables_from_token.items():
            set_path(body, path, self.token_variables[var])
        return body

    def _client_ok(self, request: httpx.Request, form: dict[str, str]) -> bool:
        if self.variant.client_auth == "basic":
            auth = request.headers.get("authorization", "")
            pair = f"{self.client_id}:{self.client_secret}".encode()
            return bool(auth == "Basic " + base64.b64encode(pair).decode())
        return bool(
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        )

    # --------------------------------------------------------------------------- routes

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An ``httpx.MockTransport`` handler; routes by path, whatever the host."""
        request.read()
        with self._lock:
            self.requests.append(request)
            path = request.url.path
            if (
                self.variant.authorize_url
                and path == httpx.URL(_plain(self.variant.authorize_url)).path
            ):
                return self._authorize(request)
            if path == httpx.URL(_plain(self.variant.token_url)).path:
                return self._token(request)
            if self.variant.revoke_url:
                base = httpx.URL(_plain(self.variant.revoke_url)).path
                if path == base or path.startswith(base.rstrip("/") + "/"):
                    return self._revoke(request, unquote(path[len(base) :].lstrip("/")))
            return self._reply(404, {"error": "not_found"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def _authorize(self, request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        redirect, state = q.get("redirect_uri", ""), q.get("state", "")
        if q.get("client_id") != self.client_id or not redirect:
            return self._reply(400, {"error": "invalid_client"})
        if self.deny:
            target = f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
            return httpx.Response(302, headers={"Location": target})
        if self.variant.pkce and q.get("code_challenge_method") != "S256":
            return self._reply(
                400, {"error": "invalid_request", "error_description": "PKCE S256 required"}
            )
        code = f"code_FAKE_{next(self._ids)}"
        scope = q.get(self.variant.scope_param, "")
        self._codes[code] = _Grant(self.client_id, redirect, scope, q.get("code_challenge"))
        target = f"{redirect}?{urlencode({'code': code, 'state': state})}"
        return httpx.Response(302, headers={"Location": target})

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        if not self._client_ok(request, form):
            return self._error("invalid_client", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self._codes.get(form.get("code", ""))
            if found is None or found.used or found.redirect_uri != form.get("redirect_uri"):
                return self._error("invalid_grant")
            if found.challenge is not None:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != found.challenge:
                    return self._error("invalid_grant")
            found.used = True
            return self._reply(200, self._tokens(found.scope, form.get("code", "")))
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in self._refresh:
                return self._error("invalid_grant")
            self.refresh_count += 1
            grant = self._grant_of[token]
            if self.variant.refresh.rotates_refresh_token:
                self._refresh.discard(token)
                return self._reply(200, self._tokens("", grant))
            body = self._tokens("", grant)
            self._refresh.discard(_get(body, self.variant.token_response.refresh_token))
            self._refresh.add(token)
            if self.variant.token_response.refresh_token:
                remove_path(body, self.variant.token_response.refresh_token)
            return self._reply(200, body)
        return self._error("unsupported_grant_type")

    def _revoke(self, request: httpx.Request, segment: str) -> httpx.Response:
        how = self.variant.revoke
        if self.revoke_status is not None:
            return self._reply(self.revoke_status, {"error": "temporarily_unavailable"})
        if request.method != how.method:
            return self._refuse("invalid_request", 405)
        if (how.token_in == "path") != bool(segment):
            return self._refuse("invalid_request", 404)
        if how.token_in == "path":
            token, status = segment, 400
        elif how.token_in == "bearer":
            if request.content:
                return self._refuse("invalid_request")  # Dropbox: a no-argument call has no body
            auth, prefix = request.headers.get(self.variant.header, ""), self.variant.prefix
            token = auth[len(prefix) :] if auth.startswith(prefix) else ""
            status = 401
        else:
            refusal = self._form_refusal(request)
            if refusal is not None:
                return refusal
            form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
            token, status = form.get("token", ""), 400
        wanted = self._access if how.token == "access_token" else self._refresh
        if token not in wanted:
            return self._refuse("invalid_token", status)
        self.revoked.append(token)
        grant = self._grant_of[token]
        dead = {t for t, g in self._grant_of.items() if g == grant}
        self._access -= dead
        self._refresh -= dead
        if how.success:
            body: dict[str, Any] = {}
            for cond in how.success:
                if "equals" in cond.model_fields_set:
                    set_path(body, cond.path, cond.equals)
            return self._reply(200, body)
        return httpx.Response(204 if how.method == "DELETE" else 200)

    def _form_refusal(self, request: httpx.Request) -> httpx.Response | None:
        """An RFC 7009 request must carry exactly the hint and client credentials asked for."""
        how = self.variant.revoke
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            return self._refuse("invalid_request")
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        if form.get("token_type_hint") != (how.token if how.token_type_hint else None):
            return self._refuse("unsupported_token_type")
        if how.client_auth and not self._client_ok(request, form):
            return self._refuse("invalid_client", 401)
        sent_client = "client_secret" in form or "authorization" in request.headers
        if not how.client_auth and sent_client:
            return self._refuse("invalid_request")  # a secret sent where none is wanted
        return None

    def _refuse(self, code: str, status: int = 400) -> httpx.Response:
        """A revoke failure in the vendor's shape (Slack: ok: false in an HTTP 200)."""
        return self._error(code, status, self.variant.revoke.success)

    # ----------------------------------------------------------------------- test hooks

    def issue_tokens(self, scope: str = "") -> httpx.Response:
        """The token endpoint's answer for a fresh grant, without the browser step."""
        with self._lock:
            return self._reply(200, self._tokens(scope, f"grant_{next(self._ids)}"))

    def revoke_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def expire_access_tokens(self) -> None:
        """Access tokens die early (as vendors may do); refresh tokens stay valid."""
        with self._lock:
            self._access.clear()

    def is_valid_access_token(self, token: str) -> bool:
        return token in self._access

    def live_tokens(self) -> set[str]:
        """Every access and refresh token the provider would still accept."""
        with self._lock:
            return self._access | self._refresh


def _plain(template: str) -> str:
    return template.replace("{", "").replace("}", "")


def _get(body: dict[str, Any], path: str | None) -> str:
    value = get_path(body, path or "", MISSING)
    return value if isinstance(value, str) else ""
