"""Every connector: Test Connection against its mock (success and failure), OAuth2 against the
mock provider for every OAuth2 spec, the IntegrationManager over stored connections, bad input."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from patchbay.bespoke import BESPOKE_CLIENTS
from patchbay.mocks.oauth_provider import MockOAuthProvider
from patchbay.mocks.server import (
    MockOptions,
    MockServer,
    default_credentials,
    default_variables,
    well_formed_wrong,
)
from patchbay.runtime import ConnectorUnavailable, PatchbayError
from patchbay.runtime.accounts._connect import check_stored_connection, connect_oauth, hint_for
from patchbay.runtime.accounts._encryption import KEY_VARIABLE, Encryptor, new_key
from patchbay.runtime.accounts._manager import IntegrationManager
from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    TokenSet,
    authorize_url,
    code_request,
    oauth_variant,
    pkce_pair,
    read_token_response,
    refresh_request,
)
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.errors import AuthExpired, AuthInvalid, ConfigError, Timeout
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Auth
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
NAMES = REGISTRY.names()
CLIENT = OAuthClient("client_FAKE_id", "client_FAKE_secret")
KEY = new_key()
OAUTH_SPECS = [n for n in NAMES if any(isinstance(v, OAuth2Auth) for v in REGISTRY.get(n).auth)]


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTokenStore:
    return SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))


def stored_for(spec: ConnectorSpec, store: SQLiteTokenStore, *, valid: bool) -> StoredConnection:
    """A stored connection for the spec's first auth variant, accepted by the mock or not."""
    variant = spec.auth[0]
    variables = default_variables(spec)
    if isinstance(variant, OAuth2Auth):
        token = "mock_access_token" if valid else "at_FAKE_revoked"
        tokens = TokenSet(token, "rt_FAKE", time.time() + 3600, obtained_at=time.time())
        conn = StoredConnection("", spec.name, variant.name, variables=variables, tokens=tokens)
    else:
        creds = default_credentials(spec)
        values = {f: (creds[f] if valid else well_formed_wrong(creds[f])) for f in variant.fields}
        conn = StoredConnection(
            "", spec.name, variant.name, variables=variables, credentials=values
        )
    return store.create(conn)


@pytest.mark.parametrize("name", NAMES)
def test_test_connection_for_every_connector(name: str, store: SQLiteTokenStore) -> None:
    spec = REGISTRY.get(name)
    server = MockServer(spec, MockOptions(golden_root=None, variables=default_variables(spec)))
    good = stored_for(spec, store, valid=True)
    check = check_stored_connection(
        spec, store, good.id, oauth_client=CLIENT, transport=server.transport()
    )
    assert check.ok, check.error
    if spec.test_connection.account_label_path:
        assert check.account_label  # the mock's answer carries a label where the spec reads one
    bad = stored_for(spec, store, valid=False)
    failed = check_stored_connection(
        spec, store, bad.id, oauth_client=CLIENT, transport=server.transport()
    )
    assert not failed.ok and failed.error is not None
    assert failed.error.code in ("auth_invalid", "auth_expired"), failed.error
    assert f"patchbay connect {name}" in hint_for(spec, failed.error)


def test_hints_for_scope_and_variables() -> None:
    zendesk = REGISTRY.get("zendesk")
    assert "{subdomain}" in hint_for(zendesk, _error("network"))
    slack = REGISTRY.get("slack")
    assert "chat:write" in hint_for(slack, _error("permission_denied"))


def _error(code: str) -> PatchbayError:
    from patchbay.runtime.errors import error_for_code

    return error_for_code(code)("mock")


@pytest.mark.parametrize("name", OAUTH_SPECS)
def test_oauth_code_flow_and_refresh_for_every_oauth_spec(name: str) -> None:
    spec = REGISTRY.get(name)
    variant = oauth_variant(spec)
    provider = MockOAuthProvider(spec, variant)
    variables = default_variables(spec)
    verifier, challenge = pkce_pair()
    url = authorize_url(
        spec,
        variant,
        CLIENT,
        redirect_uri="http://127.0.0.1:9/cb",
        state="st",
        code_challenge=challenge,
        variables=variables,
    )
    query = httpx.URL(url).params
    assert query["client_id"] == CLIENT.client_id and query["state"] == "st"
    assert ("code_challenge" in query) == variant.pkce
    for key, value in variant.authorize_params.items():
        assert query[key] == value
    location = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
    request = code_request(
        spec,
        variant,
        CLIENT,
        code=location.params["code"],
        redirect_uri="http://127.0.0.1:9/cb",
        code_verifier=verifier,
        variables=variables,
    )
    tokens = read_token_response(spec, variant, provider.handler(request))
    assert tokens.access_token and tokens.refresh_token
    assert set(tokens.variables) == set(variant.variables_from_token)
    refreshed = read_token_response(
        spec,
        variant,
        provider.handler(
            refresh_request(spec, variant, CLIENT, tokens.refresh_token or "", variables)
        ),
        previous_refresh_token=tokens.refresh_token,
    )
    assert refreshed.access_token != tokens.access_token
    assert (
        refreshed.refresh_token != tokens.refresh_token
    ) == variant.refresh.rotates_refresh_token
    if variant.token_response.expires_in is None:
        assert refreshed.expires_at is not None, (
            "a spec without expires_in needs default_expires_in"
        )


# ------------------------------------------------------------------------ the manager


def test_manager_executes_stored_connections_sync_async_and_typed(store: SQLiteTokenStore) -> None:
    stripe = REGISTRY.get("stripe")
    server = MockServer(stripe, MockOptions(golden_root=None, records=4))
    conn = stored_for(stripe, store, valid=True)
    manager = IntegrationManager(
        REGISTRY,
        store=store,
        generic_enabled=True,
        transport=server.transport(),
        async_transport=server.transport(),
        oauth_client=lambda name: CLIENT,
    )
    assert manager.route("stripe") == "generic"
    created = manager.execute(conn.id, "create_customer", {"email": "m@example.test"})
    assert created["email"] == "m@example.test"
    fetched = asyncio.run(manager.aexecute(conn.id, "get_customer", {"customer": created["id"]}))
    assert fetched["id"] == created["id"]
    from patchbay.connectors.stripe import StripeClient, models

    typed = manager.typed(conn.id, StripeClient)
    customer = typed.get_customer(customer=created["id"])
    assert isinstance(customer, models.Customer) and customer.email == "m@example.test"
    off = IntegrationManager(REGISTRY, store=store, generic_enabled=False)
    with pytest.raises(ConnectorUnavailable, match="GENERIC_EXECUTOR_ENABLED"):
        off.execute(conn.id, "get_balance")


def test_bespoke_salesforce_client_creates_records_the_spec_cannot_describe(
    store: SQLiteTokenStore,
) -> None:
    salesforce = REGISTRY.get("salesforce")
    seen: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        if request.method == "POST" and request.url.path.endswith("/sobjects/Account/"):
            return httpx.Response(
                201, json={"id": "001FAKE000000001AAA", "success": True, "errors": []}
            )
        return httpx.Response(404, json=[{"message": "nope", "errorCode": "NOT_FOUND"}])

    conn = stored_for(salesforce, store, valid=True)
    plain = IntegrationManager(REGISTRY, store=store, generic_enabled=True)
    assert plain.route("salesforce") == "generic"  # never looked up by name
    manager = IntegrationManager(
        REGISTRY,
        store=store,
        generic_enabled=False,
        transport=httpx.MockTransport(vendor),
        oauth_client=lambda name: CLIENT,
        bespoke=BESPOKE_CLIENTS,
    )
    assert manager.route("salesforce") == "bespoke"  # even with the generic path off
    result = manager.execute(
        conn.id,
        "create_record",
        {"sobject": "Account", "fields": {"Name": "Acme", "Tier__c": "Gold"}},
    )
    assert result["id"] == "001FAKE000000001AAA"
    sent = seen[-1]
    assert sent.url.path == "/services/data/v66.0/sobjects/Account/" or sent.url.path.endswith(
        "/sobjects/Account/"
    )
    assert json.loads(sent.content) == {"Name": "Acme", "Tier__c": "Gold"}
    assert sent.headers["authorization"] == "Bearer mock_access_token"
    with pytest.raises(PatchbayError) as info:
        manager.execute(conn.id, "create_record", {"sobject": "Bad Name", "fields": {"a": 1}})
    assert info.value.code == "validation" and len(seen) == 1


# -------------------------------------------------------------------------- bad input


def test_access_denied_and_replayed_state_store_nothing(store: SQLiteTokenStore) -> None:
    slack = REGISTRY.get("slack")
    provider = MockOAuthProvider(slack, oauth_variant(slack), deny=True)

    def approve_or_deny(url: str) -> None:
        httpx.get(provider.handler(httpx.Request("GET", url)).headers["location"])

    with pytest.raises(AuthInvalid, match="access_denied"):
        connect_oauth(
            slack, store, CLIENT, open_url=approve_or_deny, transport=provider.transport()
        )
    provider.deny = False
    earlier: dict[str, str] = {}

    def remember(url: str) -> None:
        location = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
        earlier.update(state=location.params["state"], code=location.params["code"])
        httpx.get(str(location))

    connect_oauth(slack, store, CLIENT, open_url=remember, transport=provider.transport())
    assert len(store.list()) == 1

    def replay(url: str) -> None:
        redirect = httpx.URL(url).params["redirect_uri"]
        assert httpx.get(redirect, params=earlier).status_code == 400  # ignored, not accepted

    with pytest.raises(Timeout, match="no authorization came back"):
        connect_oauth(
            slack, store, CLIENT, open_url=replay, transport=provider.transport(), timeout=0.5
        )
    assert len(store.list()) == 1


def test_token_response_without_the_named_fields_is_refused() -> None:
    slack = REGISTRY.get("slack")
    variant = oauth_variant(slack)
    with pytest.raises(AuthInvalid):
        read_token_response(slack, variant, httpx.Response(200, json={"ok": True, "token": "x"}))
    with pytest.raises(AuthInvalid):
        read_token_response(
            slack, variant, httpx.Response(200, json={"ok": False, "access_token": "x"})
        )


def test_a_corrupted_row_is_a_clear_error_and_destroys_nothing(store: SQLiteTokenStore) -> None:
    good = store.create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_test_FAKE"})
    )
    bad = store.create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_test_FAKE2"})
    )
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE connections SET secret = ? WHERE id = ?", (b"garbage", bad.id))
    with pytest.raises(ConfigError, match="cannot decrypt"):
        store.get(bad.id)
    assert store.get(good.id).credentials == {"api_key": "sk_test_FAKE"}
    assert {c.id for c in store.list()} == {good.id, bad.id}


def test_cli_test_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from patchbay.cli import main
    from patchbay.mocks.loopback import serve

    monkeypatch.setenv(KEY_VARIABLE, KEY)
    github = REGISTRY.get("github")
    db = tmp_path / "c.db"
    store = SQLiteTokenStore(db)
    good = stored_for(github, store, valid=True)
    bad = stored_for(github, store, valid=False)
    server = MockServer(github, MockOptions(golden_root=None))
    runner = CliRunner()
    with serve(server.app) as origin:
        ok = runner.invoke(
            main, ["test-connection", good.id, "--store", str(db), "--base-url", origin]
        )
        failed = runner.invoke(
            main, ["test-connection", bad.id, "--store", str(db), "--base-url", origin]
        )
    assert ok.exit_code == 0 and f"OK  github {good.id}: " in ok.output
    assert failed.exit_code == 1 and "[auth_invalid]" in failed.output
    assert "hint: the credentials were refused" in failed.output


def test_expired_stored_oauth_connection_fails_with_reconnect_hint(store: SQLiteTokenStore) -> None:
    slack = REGISTRY.get("slack")
    conn = store.create(
        StoredConnection(
            "",
            "slack",
            "oauth2",
            status="needs_reauth",
            tokens=TokenSet("at_FAKE", "rt_FAKE", time.time() + 60),
        )
    )
    check = check_stored_connection(slack, store, conn.id, oauth_client=CLIENT)
    assert not check.ok and isinstance(check.error, AuthExpired)
    assert hint_for(slack, check.error).endswith("`patchbay connect slack`")
