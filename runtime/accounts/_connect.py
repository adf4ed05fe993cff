"""Connecting an account: OAuth2 authorization code with a loopback redirect, or API keys;
and disconnecting it: revoking the grant at the vendor before the stored connection goes.

Connecting ends with a *Test Connection* and a stored connection carrying the account label. The
browser step is a callable (``open_url``), so ``patchbay connect`` opens a browser or prints the
URL, and tests follow the redirect themselves.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx

from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    authorize_url,
    code_request,
    new_state,
    oauth_variant,
    pkce_pair,
    read_token_response,
    revoke_token,
)
from patchbay.runtime.accounts._token_provider import StoredTokenProvider
from patchbay.runtime.accounts._token_store import StoredConnection, TokenStore
from patchbay.runtime.errors import AuthExpired, AuthInvalid, ConfigError, PatchbayError, Timeout
from patchbay.runtime.http._connection import Connection, resolve_variables
from patchbay.runtime.http._executors import GenericExecutor
from patchbay.runtime.http._options import ConnectionCheck, ExecutorOptions
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Auth

#: The only address the OAuth redirect listener binds: never reachable from another machine.
LOOPBACK = "127.0.0.1"

_PAGE = (
    b"<!doctype html><title>Patchbay</title><p>Patchbay received the authorization. "
    b"You can close this window.</p>"
)


class LoopbackListener:
    """A one-shot HTTP server on 127.0.0.1 only (free port) that catches the OAuth redirect.

    Only a redirect carrying the expected ``state`` ends the wait: anything else on the port
    (a stray request, a forged or replayed redirect from a page in the browser) is answered
    400 and ignored, so it can neither abort ``connect`` nor slip a code in.
    """

    def __init__(self, state: str, path: str = "/callback") -> None:
        self.path = path
        self.params: dict[str, str] | None = None
        self._state = state
        self._done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != listener.path:
                    self.send_error(404)
                    return
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if listener._done.is_set() or not listener._expected(params.get("state")):
                    self.send_error(400, "unexpected or missing state")
                    return
                listener.params = params
                listener._done.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(_PAGE)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the query carries the code: never log it

        self._server = HTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _expected(self, state: str | None) -> bool:
        return state is not None and hmac.compare_digest(state.encode(), self._state.encode())

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def redirect_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.address[1]}{self.path}"

    def wait(self, timeout: float) -> dict[str, str]:
        try:
            if not self._done.wait(timeout) or self.params is None:
                raise Timeout(f"no authorization came back within {timeout:g}s")
            return self.params
        finally:
            self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class ConnectResult:
    connection: StoredConnection
    check: ConnectionCheck


def _check_and_label(
    spec: ConnectorSpec,
    connection: Connection,
    *,
    transport: httpx.BaseTransport | None,
    base_url: str | None,
) -> ConnectionCheck:
    options = ExecutorOptions()
    with GenericExecutor(
        spec, connection, transport=transport, base_url=base_url, options=options
    ) as ex:
        return ex.test_connection()


def connect_api_key(
    spec: ConnectorSpec,
    store: TokenStore,
    *,
    auth: str | None,
    credentials: dict[str, str],
    variables: dict[str, str],
    transport: httpx.BaseTransport | None = None,
    base_url: str | None = None,
) -> ConnectResult:
    """Check the values, then test the keys; only a connection that works is stored."""
    variant = spec.auth[0] if auth is None else spec.auth_variant(auth)
    connection = Connection(
        spec.name, auth=variant.name, variables=variables, credentials=credentials
    )
    resolve_variables(spec, connection)  # refuses bad values before anything is sent
    check = _check_and_label(spec, connection, transport=transport, base_url=base_url)
    if not check.ok:
        assert check.error is not None
        raise check.error
    stored = store.create(
        StoredConnection(
            "",
            spec.name,
            variant.name,
            account_label=check.account_label,
            account_id=check.account_id,
            variables=dict(variables),
            credentials=dict(credentials),
        )
    )
    return ConnectResult(stored, check)


def connect_oauth(
    spec: ConnectorSpec,
    store: TokenStore,
    client: OAuthClient,
    *,
    open_url: Callable[[str], None],
    auth: str | None = None,
    variables: dict[str, str] | None = None,
    scopes: list[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    base_url: str | None = None,
    timeout: float = 300.0,
) -> ConnectResult:
    """Check the variables, authorize in the browser, wait for the redirect with our ``state``
    (others are ignored), exchange the code, store, test, label."""
    variant = oauth_variant(spec, auth)
    values = dict(variables or {})
    resolve_variables(spec, Connection(spec.name, auth=variant.name, variables=values))
    verifier, challenge = pkce_pair()
    state = new_state()
    listener = LoopbackListener(state)
    try:
        url = authorize_url(
            spec,
            variant,
            client,
            redirect_uri=listener.redirect_uri,
            state=state,
            code_challenge=challenge if variant.pkce else None,
            variables=values,
            scopes=scopes,
        )
        open_url(url)
    except BaseException:
        listener.close()
        raise
    params = listener.wait(timeout)
    if not hmac.compare_digest(params.get("state", "").encode(), state.encode()):
        raise AuthInvalid(
            "the redirect's state does not match: refusing it (possible CSRF)", connector=spec.name
        )
    if "error" in params:
        raise AuthInvalid(
            f"authorization was refused: {params['error']}",
            connector=spec.name,
            vendor_code=params["error"],
        )
    request = code_request(
        spec,
        variant,
        client,
        code=params.get("code", ""),
        redirect_uri=listener.redirect_uri,
        code_verifier=verifier if variant.pkce else None,
        variables=values,
    )
    with httpx.Client(transport=transport) as http:
        try:
            response = http.send(request)
        except httpx.HTTPError as exc:
            raise PatchbayError(
                f"the token endpoint could not be reached: {type(exc).__name__}"
            ) from None
    tokens = read_token_response(spec, variant, response)
    values.update(tokens.variables)
    stored = store.create(
        StoredConnection("", spec.name, variant.name, variables=values, tokens=tokens)
    )
    provider = StoredTokenProvider(store, stored.id, spec, client, transport=transport)
    connection = Connection(spec.name, auth=variant.name, variables=values, token_provider=provider)
    check = _check_and_label(spec, connection, transport=transport, base_url=base_url)
    current = store.get(stored.id)
    labelled = store.save(
        replace(current, account_label=check.account_label, account_id=check.account_id)
    )
    return ConnectResult(labelled, check)


def runtime_connection(
    spec: ConnectorSpec,
    stored: StoredConnection,
    store: TokenStore,
    *,
    oauth_client: OAuthClient | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Connection:
    """What an executor needs for a stored connection (a token provider for OAuth2)."""
    variant = spec.auth_variant(stored.auth)
    provider = None
    if variant.type == "oauth2":
        client = oauth_client or OAuthClient.from_env(spec.name)
        provider = StoredTokenProvider(store, stored.id, spec, client, transport=transport)
    return Connection(
        spec.name,
        auth=stored.auth,
        variables=dict(stored.variables),
        credentials=dict(stored.credentials),
        token_provider=provider,
    )


def hint_for(spec: ConnectorSpec, error: PatchbayError) -> str:
    """What a person should do about a failed Test Connection."""
    variables = ", ".join(f"{{{v}}}" for v in spec.connection.variables)
    if error.code == "auth_expired":
        return f"the authorization expired or was revoked: run `patchbay connect {spec.name}`"
    if error.code == "auth_invalid":
        return f"the credentials were refused: check them, or run `patchbay connect {spec.name}`"
    if error.code == "permission_denied":
        scopes = sorted({s for v in spec.auth if v.type == "oauth2" for s in v.scopes})
        wanted = f" (the spec asks for: {', '.join(scopes)})" if scopes else ""
        return f"a scope or permission is missing: reconnect granting it{wanted}"
    if error.code in ("not_found", "network", "config") and variables:
        return f"check the connection variables {variables} (a wrong subdomain, region or host?)"
    if error.code == "rate_limited":
        return "the vendor is rate limiting: try again later"
    return "see the error above"


def check_stored_connection(
    spec: ConnectorSpec,
    store: TokenStore,
    connection_id: str,
    *,
    oauth_client: OAuthClient | None = None,
    transport: httpx.BaseTransport | None = None,
    base_url: str | None = None,
) -> ConnectionCheck:
    """Run *Test Connection* for a stored connection; a token problem becomes a failed check."""
    stored = store.get(connection_id)
    try:
        connection = runtime_connection(
            spec, stored, store, oauth_client=oauth_client, transport=transport
        )
        return _check_and_label(spec, connection, transport=transport, base_url=base_url)
    except PatchbayError as exc:
        return ConnectionCheck(ok=False, error=exc)


# ------------------------------------------------------------------------------- disconnecting


class OriginTransport(httpx.BaseTransport):
    """Sends every request to one origin, keeping path and query: a local mock standing in for
    the vendor's OAuth host (``patchbay connections delete --oauth-base-url``)."""

    def __init__(self, origin: str) -> None:
        self._origin = httpx.URL(origin)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._origin.scheme, host=self._origin.host, port=self._origin.port
        )
        request.headers["Host"] = request.url.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def revoke_connection(
    spec: ConnectorSpec,
    store: TokenStore,
    connection_id: str,
    *,
    oauth_client: OAuthClient | None = None,
    transport: httpx.BaseTransport | None = None,
) -> bool:
    """Revoke a stored OAuth2 grant at the vendor, then mark the connection ``revoked``.

    ``False`` when the spec gives nothing to revoke (API keys, no ``revoke_url``). A token that
    authenticates its own revocation is refreshed first if it expired, or the vendor would
    refuse it (that refresh is stored as any other). A failed revocation raises and leaves the
    connection usable.
    """
    stored = store.get(connection_id)
    try:
        variant = spec.auth_variant(stored.auth)
    except KeyError:
        raise ConfigError(
            f"{spec.name} has no auth variant {stored.auth!r} (connection {stored.id})",
            connector=spec.name,
        ) from None
    if not isinstance(variant, OAuth2Auth) or variant.revoke_url is None:
        return False
    client = oauth_client or OAuthClient.from_env(spec.name)
    if variant.revoke.token == "access_token":
        provider = StoredTokenProvider(store, stored.id, spec, client, transport=transport)
        token: str | None = provider.get_token()
        stored = store.get(connection_id)
    else:
        token = stored.tokens.refresh_token if stored.tokens else None
    if not token:
        raise AuthExpired(
            f"connection {stored.id} holds no {variant.revoke.token} to revoke",
            connector=spec.name,
            retryable=False,
        )
    revoke_token(spec, variant, client, token, stored.variables, transport=transport)
    store.save(replace(store.get(connection_id), status="revoked"))
    return True


Remote = Literal["revoked", "already_revoked", "nothing_to_revoke", "kept", "failed"]


@dataclass(frozen=True)
class Deletion:
    """What happened at the vendor (``remote``) and in the store (``deleted``)."""

    remote: Remote
    deleted: bool
    error: PatchbayError | None = None


def delete_connection(
    spec_for: Callable[[str], ConnectorSpec],
    store: TokenStore,
    connection_id: str,
    *,
    keep_remote: bool = False,
    force: bool = False,
    oauth_client: OAuthClient | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Deletion:
    """Revoke at the vendor first, then delete locally; a failed revocation keeps the connection
    (nothing lost, try again) unless ``force`` says to delete it anyway."""
    stored = store.get(connection_id)
    remote: Remote = "kept"
    error: PatchbayError | None = None
    if stored.status == "revoked":
        remote = "already_revoked"
    elif not keep_remote:
        try:
            spec = spec_for(stored.connector)
            done = revoke_connection(
                spec, store, connection_id, oauth_client=oauth_client, transport=transport
            )
            remote = "revoked" if done else "nothing_to_revoke"
        except PatchbayError as exc:
            remote, error = "failed", exc
            if not force:
                return Deletion(remote, deleted=False, error=error)
    store.delete(connection_id)
    return Deletion(remote, deleted=True, error=error)
