"""OAuth2 as spec data: authorize URLs (state, PKCE S256), code exchange and refresh requests,
reading a vendor's token response (Slack's ``ok`` envelope, Salesforce's ``instance_url``), and
revoking a grant the way the spec's ``revoke`` says (RFC 7009 or a vendor's own call).

Request building and response reading are pure; the token provider and ``patchbay connect``
send the token requests, so sync, async and tests share one implementation. ``revoke_token``
sends its one request itself: it runs once per connection, synchronously.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from patchbay.runtime.errors import (
    AuthExpired,
    AuthInvalid,
    BadResponse,
    ConfigError,
    NetworkError,
    PatchbayError,
    Timeout,
)
from patchbay.runtime.http._connection import (
    Connection,
    origin_variables,
    render_base_url,
    resolve_variables,
)
from patchbay.runtime.http._error_mapping import ErrorMapper, condition_holds
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._redaction import Redactor
from patchbay.runtime.http._urls import https_origin
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Auth
from patchbay.runtime.spec._values import value_problem


@dataclass(frozen=True)
class OAuthClient:
    """The app's client id and secret: from the environment or a config file, never a spec."""

    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_env(cls, connector: str, environ: Mapping[str, str] | None = None) -> OAuthClient:
        env = os.environ if environ is None else environ
        prefix = f"PATCHBAY_{connector.upper()}_"
        client_id = env.get(prefix + "CLIENT_ID")
        secret = env.get(prefix + "CLIENT_SECRET")
        if not client_id or not secret:
            raise ConfigError(
                f"OAuth client for {connector!r} is not configured: set {prefix}CLIENT_ID and "
                f"{prefix}CLIENT_SECRET",
                connector=connector,
            )
        return cls(client_id, secret)


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    token_type: str | None = None
    scope: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    obtained_at: float = 0.0


def oauth_variant(spec: ConnectorSpec, name: str | None = None) -> OAuth2Auth:
    for variant in spec.auth:
        if isinstance(variant, OAuth2Auth) and (name is None or variant.name == name):
            return variant
    raise ConfigError(
        f"{spec.name!r} has no OAuth2 auth variant {name or ''}".strip(), connector=spec.name
    )


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_state() -> str:
    return secrets.token_urlsafe(24)


def _fill(spec: ConnectorSpec, template: str, variables: Mapping[str, str]) -> str:
    """An OAuth URL with the connection's variables checked and resolved as for API calls
    (defaults and value maps: Salesforce's ``environment`` ``production`` is
    ``login.salesforce.com``), and its origin held to the template's: the client secret goes
    to the token URL, so a variable must not be able to move it."""
    values = resolve_variables(spec, Connection(spec.name, variables=dict(variables)))
    return render_base_url(spec, template, values, what="the OAuth URLs")


def _token_variables(
    spec: ConnectorSpec, variant: OAuth2Auth, body: Any, status: int
) -> dict[str, str]:
    """Connection variables a token response carries (Salesforce's ``instance_url``), checked
    like any variable; one that is a whole origin must be ``https://host[:port]``. A vendor (or
    whoever answers for it) cannot point later calls, and their bearer token, elsewhere."""
    found: dict[str, str] = {}
    for name, path in variant.variables_from_token.items():
        value = get_path(body, path, None)
        if value is None:
            continue
        var = spec.connection.variables.get(name)
        problem = value_problem(
            value,
            pattern=var.pattern if var is not None else None,
            format=var.format if var is not None else None,
        )
        if problem is None and name in origin_variables(spec) and https_origin(value) is None:
            problem = "must be an https origin (https://host[:port])"
        if problem is not None:
            raise BadResponse(
                f"the token response's {name!r} {problem}: refusing the tokens",
                connector=spec.name,
                status=status,
                retryable=False,
            )
        assert isinstance(value, str)
        found[name] = value
    return found


def authorize_url(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    *,
    redirect_uri: str,
    state: str,
    code_challenge: str | None,
    variables: Mapping[str, str],
    scopes: list[str] | None = None,
) -> str:
    if variant.authorize_url is None:
        raise ConfigError(f"{spec.name}.{variant.name} has no authorize_url", connector=spec.name)
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    chosen = variant.scopes if scopes is None else scopes
    if chosen:
        params[variant.scope_param] = variant.scope_separator.join(chosen)
    if variant.pkce and code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    params.update(variant.authorize_params)
    base = _fill(spec, variant.authorize_url, variables)
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode(params)}"


def _client_credentials(
    variant: OAuth2Auth, client: OAuthClient, form: dict[str, str], headers: dict[str, str]
) -> None:
    """Client authentication as the variant says: HTTP Basic, or id and secret in the form."""
    if variant.client_auth == "basic":
        pair = f"{client.client_id}:{client.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form["client_id"] = client.client_id
        form["client_secret"] = client.client_secret


def token_request(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    grant: Mapping[str, str],
    variables: Mapping[str, str],
    *,
    url: str | None = None,
) -> httpx.Request:
    """A form POST to the token endpoint, with client authentication as the spec says."""
    form = dict(grant)
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    _client_credentials(variant, client, form, headers)
    target = url or _fill(spec, variant.token_url, variables)
    return httpx.Request("POST", target, headers=headers, content=urlencode(form).encode())


def code_request(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    variables: Mapping[str, str],
) -> httpx.Request:
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if variant.pkce and code_verifier is not None:
        grant["code_verifier"] = code_verifier
    return token_request(spec, variant, client, grant, variables)


def refresh_request(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    refresh_token: str,
    variables: Mapping[str, str],
) -> httpx.Request:
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    url = _fill(spec, variant.refresh_url, variables) if variant.refresh_url else None
    return token_request(spec, variant, client, grant, variables, url=url)


def read_token_response(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    response: httpx.Response,
    *,
    previous_refresh_token: str | None = None,
    now: float | None = None,
) -> TokenSet:
    """Tokens from the vendor's reply; ``auth_expired`` on invalid_grant, else ``auth_invalid``."""
    now = time.time() if now is None else now
    shape = variant.token_response
    try:
        body: Any = response.json()
    except ValueError:
        raise BadResponse(
            "the token endpoint did not answer JSON",
            connector=spec.name,
            status=response.status_code,
        ) from None
    error_code = get_path(body, shape.error_path, None)
    succeeded = response.is_success and all(
        condition_holds(c, get_path(body, c.path)) for c in shape.success
    )
    access = get_path(body, shape.access_token, None)
    if not succeeded or not isinstance(access, str) or not access:
        code = str(error_code) if error_code is not None else f"HTTP {response.status_code}"
        cls: type[PatchbayError] = (
            AuthExpired
            if code in ("invalid_grant", "token_revoked", "invalid_refresh_token")
            else AuthInvalid
        )
        raise cls(
            f"the token endpoint refused: {code}",
            connector=spec.name,
            status=response.status_code,
            vendor_code=code,
            retryable=False,
        )
    refresh = get_path(body, shape.refresh_token, None) if shape.refresh_token else None
    if not isinstance(refresh, str) or not refresh:
        # Vendors that do not rotate leave the refresh token out of a refresh reply.
        refresh = previous_refresh_token
    lifetime = get_path(body, shape.expires_in, None) if shape.expires_in else None
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
        lifetime = variant.refresh.default_expires_in
    variables = _token_variables(spec, variant, body, response.status_code)
    token_type = get_path(body, shape.token_type, None) if shape.token_type else None
    scope = get_path(body, shape.scope, None) if shape.scope else None
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=None if lifetime is None else now + float(lifetime),
        token_type=token_type if isinstance(token_type, str) else None,
        scope=scope if isinstance(scope, str) else None,
        variables=variables,
        obtained_at=now,
    )


def revoke_request(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    token: str,
    variables: Mapping[str, str],
) -> httpx.Request:
    """The revocation call for ``token``, shaped by the variant's ``revoke`` data."""
    if variant.revoke_url is None:
        raise ConfigError(f"{spec.name}.{variant.name} has no revoke_url", connector=spec.name)
    how = variant.revoke
    url = _fill(spec, variant.revoke_url, variables)
    headers = {"Accept": "application/json"}
    if how.token_in == "path":
        return httpx.Request(how.method, f"{url.rstrip('/')}/{quote(token, safe='')}")
    if how.token_in == "bearer":
        headers[variant.header] = f"{variant.prefix}{token}"
        return httpx.Request(how.method, url, headers=headers)
    form = {"token": token}
    if how.token_type_hint:
        form["token_type_hint"] = how.token
    if how.client_auth:
        _client_credentials(variant, client, form, headers)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.Request(how.method, url, headers=headers, content=urlencode(form).encode())


def revoke_token(
    spec: ConnectorSpec,
    variant: OAuth2Auth,
    client: OAuthClient,
    token: str,
    variables: Mapping[str, str],
    *,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Revoke ``token`` at the vendor; any failure raises a redacted :class:`PatchbayError`.

    The answer is classified by the connector's own error rules (Slack's ``ok: false`` in a
    200), then the ``revoke.success`` tests must hold: a revocation is only trusted if confirmed.
    """
    request = revoke_request(spec, variant, client, token, variables)
    redact = Redactor([token, client.client_secret]).text
    try:
        with httpx.Client(transport=transport) as http:
            response = http.send(request)
    except httpx.TimeoutException:
        raise Timeout("token revocation timed out", connector=spec.name) from None
    except httpx.HTTPError as exc:
        raise NetworkError(
            f"token revocation failed: {type(exc).__name__}", connector=spec.name
        ) from None
    try:
        body: Any = response.json() if response.content else None
    except ValueError:
        body = None
    error = ErrorMapper(spec, redact=redact).classify(
        response, body, connector=spec.name, action="revoke"
    )
    if error is not None:
        raise error
    if not all(condition_holds(c, get_path(body, c.path)) for c in variant.revoke.success):
        code = get_path(body, variant.token_response.error_path, None)
        raise BadResponse(
            "the revoke endpoint did not confirm the revocation",
            connector=spec.name,
            action="revoke",
            status=response.status_code,
            vendor_code=redact(str(code)) if code is not None else None,
        )
