"""OAuth2 as spec data: authorize URLs (state, PKCE S256), code exchange and refresh requests,
and reading a vendor's token response (Slack's ``ok`` envelope, Salesforce's ``instance_url``).

Request building and response reading are pure; the token provider and ``patchbay connect``
send the requests, so sync, async and tests share one implementation.
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
from urllib.parse import urlencode

import httpx

from .error_mapping import condition_holds
from .errors import AuthExpired, AuthInvalid, BadResponse, ConfigError, PatchbayError
from .paths import get_path
from .spec import ConnectorSpec, OAuth2Auth
from .templating import render


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


def _fill(template: str, variables: Mapping[str, str], connector: str) -> str:
    def missing(name: str) -> ConfigError:
        return ConfigError(
            f"connection variable {name!r} is needed by the OAuth URLs", connector=connector
        )

    return render(template, variables, missing=missing)


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
    base = _fill(variant.authorize_url, variables, spec.name)
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode(params)}"


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
    if variant.client_auth == "basic":
        pair = f"{client.client_id}:{client.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form["client_id"] = client.client_id
        form["client_secret"] = client.client_secret
    target = url or _fill(variant.token_url, variables, spec.name)
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
    url = _fill(variant.refresh_url, variables, spec.name) if variant.refresh_url else None
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
    variables = {
        var: str(value)
        for var, path in variant.variables_from_token.items()
        if (value := get_path(body, path, None)) is not None
    }
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
