"""Encrypted token store, OAuth2 code flow against the mock provider, single-flight refresh."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from patchbay.mocks.oauth_provider import MockOAuthProvider
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, load_spec
from patchbay.runtime.accounts._encryption import KEY_VARIABLE, Encryptor, new_key
from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    TokenSet,
    authorize_url,
    code_request,
    new_state,
    oauth_variant,
    pkce_pair,
    read_token_response,
)
from patchbay.runtime.accounts._token_provider import StoredTokenProvider
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.errors import AuthExpired, ConfigError, Timeout

ROOT = Path(__file__).resolve().parent.parent
SLACK = load_spec(ROOT / "specs/slack.json")
SINK = load_spec(ROOT / "tests/data/kitchen_sink.json")
KEY = new_key()
CLIENT = OAuthClient("client_FAKE_id", "client_FAKE_secret")


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTokenStore:
    return SQLiteTokenStore(tmp_path / "tokens.db", Encryptor([KEY]))


def test_missing_or_wrong_key_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=KEY_VARIABLE):
        Encryptor.from_env({})
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        Encryptor.from_env({KEY_VARIABLE: "not-a-key"})
    path = tmp_path / "t.db"
    first = SQLiteTokenStore(path, Encryptor([KEY]))
    saved = first.create(
        StoredConnection("", "slack", "bot_token", credentials={"bot_token": "xoxb-FAKE-1"})
    )
    before = path.read_bytes()
    wrong = SQLiteTokenStore(path, Encryptor([new_key()]))
    with pytest.raises(ConfigError, match="wrong key"):
        wrong.get(saved.id)
    assert [c.id for c in wrong.list()] == [saved.id]  # listing needs no key
    assert path.read_bytes() == before
    assert first.get(saved.id).credentials == {"bot_token": "xoxb-FAKE-1"}


def test_key_rotation_keeps_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    old = SQLiteTokenStore(path, Encryptor([KEY]))
    saved = old.create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_test_FAKE"})
    )
    newer = new_key()
    both = SQLiteTokenStore(path, Encryptor([newer, KEY]))
    assert both.rotate_key() == 1
    only_new = SQLiteTokenStore(path, Encryptor([newer]))
    assert only_new.get(saved.id).credentials == {"api_key": "sk_test_FAKE"}


def test_secrets_are_encrypted_at_rest_and_never_in_reprs(store: SQLiteTokenStore) -> None:
    tokens = TokenSet("xoxe.xoxb-FAKE-access", "xoxe-1-FAKE-refresh", time.time() + 60)
    saved = store.create(
        StoredConnection("", "slack", "oauth2", tokens=tokens, account_label="Acme")
    )
    raw = store.path.read_bytes() + Path(str(store.path) + "-wal").read_bytes()
    assert b"FAKE-access" not in raw and b"FAKE-refresh" not in raw
    text = repr(saved) + repr(store.get(saved.id)) + repr(tokens)
    assert "FAKE-access" not in text and "FAKE-refresh" not in text
    assert store.get(saved.id).tokens == tokens


def _authorize_and_exchange(
    spec: object, provider: MockOAuthProvider, variables: dict[str, str]
) -> TokenSet:
    variant = provider.variant
    verifier, challenge = pkce_pair()
    state = new_state()
    redirect = "http://127.0.0.1:50123/callback"
    url = authorize_url(
        provider.spec,
        variant,
        CLIENT,
        redirect_uri=redirect,
        state=state,
        code_challenge=challenge,
        variables=variables,
    )
    reply = provider.handler(httpx.Request("GET", url))
    assert reply.status_code == 302
    back = httpx.URL(reply.headers["location"])
    assert back.params["state"] == state and str(back.copy_with(query=None)) == redirect
    request = code_request(
        provider.spec,
        variant,
        CLIENT,
        code=back.params["code"],
        redirect_uri=redirect,
        code_verifier=verifier,
        variables=variables,
    )
    return read_token_response(provider.spec, variant, provider.handler(request))


def test_code_flow_with_pkce_basic_client_auth_and_token_variables() -> None:
    provider = MockOAuthProvider(
        SINK, oauth_variant(SINK), token_variables={"instance_url": "https://na1.mock.test"}
    )
    tokens = _authorize_and_exchange(SINK, provider, {"subdomain": "acme"})
    assert tokens.access_token.startswith("at_FAKE_") and tokens.refresh_token
    assert tokens.variables == {"instance_url": "https://na1.mock.test"}
    token_call = provider.requests[-1]
    assert token_call.headers["authorization"].startswith("Basic ")
    assert b"code_verifier=" in token_call.content and b"client_secret" not in token_call.content
    # A code is single-use, and a wrong verifier is refused.
    again = provider.handler(provider.requests[-1])
    with pytest.raises(AuthExpired):
        read_token_response(SINK, provider.variant, again)


def test_slack_envelope_and_denied_authorization() -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    tokens = _authorize_and_exchange(SLACK, provider, {})
    assert tokens.expires_at is not None and tokens.refresh_token
    provider.deny = True
    url = authorize_url(
        SLACK,
        provider.variant,
        CLIENT,
        redirect_uri="http://127.0.0.1:1/cb",
        state="s1",
        code_challenge=None,
        variables={},
    )
    assert "scope=channels%3Aread%2Cgroups%3Aread" in url
    denied = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
    assert denied.params["error"] == "access_denied" and denied.params["state"] == "s1"


def _expired_connection(store: SQLiteTokenStore, provider: MockOAuthProvider) -> StoredConnection:
    tokens = _authorize_and_exchange(SLACK, provider, {})
    stale = TokenSet(
        tokens.access_token, tokens.refresh_token, time.time() - 5, obtained_at=time.time() - 3600
    )
    return store.create(StoredConnection("", "slack", "oauth2", tokens=stale))


def test_one_refresh_for_100_threads(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    tokens: list[str] = []
    barrier = threading.Barrier(100)

    def work() -> None:
        p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=provider.transport())
        barrier.wait()
        tokens.append(p.get_token())

    threads = [threading.Thread(target=work) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.refresh_count == 1
    assert len(tokens) == 100 and len(set(tokens)) == 1
    stored = store.get(conn.id)
    assert stored.tokens is not None and stored.tokens.access_token == tokens[0]
    # The rotated refresh token was stored, and the old one no longer works at the provider.
    assert stored.tokens.refresh_token != conn.tokens.refresh_token  # type: ignore[union-attr]


def test_one_refresh_for_100_tasks(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, async_transport=provider.transport())

    async def run() -> list[str]:
        return await asyncio.gather(*(p.aget_token() for _ in range(100)))

    tokens = asyncio.run(run())
    assert provider.refresh_count == 1 and len(set(tokens)) == 1


def test_invalid_grant_marks_needs_reauth_and_keeps_the_data(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    provider.revoke_all()
    p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=provider.transport())
    with pytest.raises(AuthExpired) as info:
        p.get_token()
    assert "patchbay connect slack" in str(info.value)
    stored = store.get(conn.id)
    assert stored.status == "needs_reauth" and stored.tokens == conn.tokens
    with pytest.raises(AuthExpired, match="needs_reauth"):
        p.get_token()


def test_network_failure_during_refresh_changes_nothing(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("token endpoint unreachable")

    p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=httpx.MockTransport(broken))
    with pytest.raises(PatchbayError) as info:
        p.get_token()
    assert info.value.code == "network"
    assert store.get(conn.id) == conn


def test_executor_refreshes_once_on_the_vendors_expiry_signal(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    tokens = _authorize_and_exchange(SLACK, provider, {})
    fresh = TokenSet(
        tokens.access_token, tokens.refresh_token, time.time() + 3600, obtained_at=time.time() - 60
    )
    conn = store.create(StoredConnection("", "slack", "oauth2", tokens=fresh))
    provider.expire_access_tokens()  # the vendor killed the access token before its expiry

    def slack_api(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        if not provider.is_valid_access_token(token):
            return httpx.Response(200, json={"ok": False, "error": "token_expired"})
        return httpx.Response(
            200, json={"ok": True, "members": [], "response_metadata": {"next_cursor": ""}}
        )

    p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=provider.transport())
    ex = GenericExecutor(
        SLACK,
        Connection("slack", auth="oauth2", token_provider=p),
        transport=httpx.MockTransport(slack_api),
    )
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(ex.call("list_users", {"limit": 1})))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and provider.refresh_count == 1


def test_connect_flow_end_to_end_with_the_browser_step(store: SQLiteTokenStore) -> None:
    from patchbay.mocks.server import MockOptions, MockServer
    from patchbay.runtime.accounts._connect import connect_oauth

    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    api = MockServer(SLACK, MockOptions(golden_root=None, access_tokens=()))

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/oauth/v2/authorize", "/api/oauth.v2.access"):
            return provider.handler(request)
        api.options.access_tokens = tuple(provider._access)
        return api.handler(request)

    transport = httpx.MockTransport(route)

    def browser(url: str) -> None:
        # The "user" approves: the provider redirects to the loopback listener, for real.
        location = provider.handler(httpx.Request("GET", url)).headers["location"]
        assert location.startswith("http://127.0.0.1:")
        assert httpx.get(location).status_code == 200

    result = connect_oauth(SLACK, store, CLIENT, open_url=browser, transport=transport)
    stored = store.get(result.connection.id)
    assert result.check.ok and stored.account_label == result.check.account_label
    assert stored.tokens is not None and stored.tokens.refresh_token and stored.status == "active"


def test_connect_ignores_a_forged_state_and_keeps_waiting(store: SQLiteTokenStore) -> None:
    """A redirect with a wrong or missing state gets 400 and is ignored: it can neither abort
    ``connect`` (it used to) nor slip its code in; the genuine redirect still completes."""
    from patchbay.runtime.accounts._connect import connect_oauth

    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    answers: list[int] = []

    def forger_then_user(url: str) -> None:
        location = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
        forged = location.copy_merge_params({"state": "forged", "code": "evil"})
        answers.append(httpx.get(str(forged)).status_code)
        stateless = location.copy_with(params={"code": "evil"})
        answers.append(httpx.get(str(stateless)).status_code)
        answers.append(httpx.get(str(location)).status_code)

    result = connect_oauth(
        SLACK, store, CLIENT, open_url=forger_then_user, transport=provider.transport()
    )
    assert answers == [400, 400, 200]
    assert [c.id for c in store.list()] == [result.connection.id]
    codes = [dict(httpx.QueryParams(r.content.decode())).get("code") for r in provider.requests]
    assert "evil" not in codes


def test_connect_with_only_a_forged_state_times_out_and_stores_nothing(
    store: SQLiteTokenStore,
) -> None:
    from patchbay.runtime.accounts._connect import connect_oauth

    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))

    def forger(url: str) -> None:
        location = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
        forged = location.copy_merge_params({"state": "forged"})
        assert httpx.get(str(forged)).status_code == 400

    with pytest.raises(Timeout, match="no authorization came back"):
        connect_oauth(
            SLACK, store, CLIENT, open_url=forger, transport=provider.transport(), timeout=0.5
        )
    assert store.list() == []


def test_the_oauth_listener_binds_loopback_only() -> None:
    from patchbay.runtime.accounts._connect import LoopbackListener

    listener = LoopbackListener("s" * 32)
    try:
        assert listener.address[0] == "127.0.0.1"
        assert listener.redirect_uri.startswith("http://127.0.0.1:")
        assert httpx.get(listener.redirect_uri, params={"state": "x"}).status_code == 400
        ok = httpx.get(listener.redirect_uri, params={"state": "s" * 32, "code": "c"})
        assert ok.status_code == 200
        # Once answered, a second redirect (a replay) is refused too.
        again = httpx.get(listener.redirect_uri, params={"state": "s" * 32, "code": "c2"})
        assert again.status_code == 400
        assert listener.wait(1) == {"state": "s" * 32, "code": "c"}
    finally:
        listener.close()


def test_cli_connect_with_api_keys_then_list_show_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from patchbay.cli import main
    from patchbay.mocks.loopback import serve
    from patchbay.mocks.server import MockOptions, MockServer

    monkeypatch.setenv(KEY_VARIABLE, KEY)
    stripe = load_spec(ROOT / "specs/stripe.json")
    server = MockServer(stripe, MockOptions(golden_root=None))
    db = str(tmp_path / "c.db")
    runner = CliRunner()
    with serve(server.app) as origin:
        bad = runner.invoke(
            main,
            [
                "connect",
                "stripe",
                "--field",
                "api_key=sk_test_WRONG",
                "--base-url",
                f"{origin}/v1",
                "--store",
                db,
            ],
        )
        assert bad.exit_code == 1 and "[auth_invalid]" in bad.output
        ok = runner.invoke(
            main,
            ["connect", "stripe", "--base-url", f"{origin}/v1", "--store", db],
            input=f"{server.credentials['api_key']}\n",  # the mock's fake, well-formed key
        )
    assert ok.exit_code == 0, ok.output
    connection_id = ok.output.strip().split()[-1]
    listed = runner.invoke(main, ["connections", "list", "--store", db])
    assert connection_id in listed.output and "stripe" in listed.output
    shown = runner.invoke(main, ["connections", "show", connection_id, "--store", db])
    assert (
        '"credentials": [\n    "api_key"\n  ]' in shown.output
        and server.credentials["api_key"] not in shown.output
    )
    assert (
        runner.invoke(main, ["connections", "delete", connection_id, "--store", db]).exit_code == 0
    )
    assert connection_id not in runner.invoke(main, ["connections", "list", "--store", db]).output


def test_refresh_outcomes_are_counted_per_connector_with_no_secret_in_any_label(
    store: SQLiteTokenStore,
) -> None:
    registry = CollectorRegistry()
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    p = StoredTokenProvider(
        store, conn.id, SLACK, CLIENT, transport=provider.transport(), metrics_registry=registry
    )
    token = p.get_token()
    assert p.get_token() == token  # fresh now: no second refresh

    def count(outcome: str) -> float | None:
        labels = {"connector": "slack", "outcome": outcome}
        return registry.get_sample_value("patchbay_token_refreshes_total", labels)

    assert count("ok") == 1 and count("needs_reauth") is None
    other = _expired_connection(store, provider)
    provider.revoke_all()
    q = StoredTokenProvider(
        store, other.id, SLACK, CLIENT, transport=provider.transport(), metrics_registry=registry
    )
    with pytest.raises(AuthExpired):
        q.get_token()
    assert count("ok") == 1 and count("needs_reauth") == 1
    exposed = generate_latest(registry).decode()
    assert conn.tokens is not None and other.tokens is not None
    for secret in (token, conn.tokens.refresh_token, other.tokens.refresh_token, conn.id):
        assert secret and secret not in exposed


def test_the_refresh_lease_protocol(store: SQLiteTokenStore) -> None:
    """Claim only when free or expired; commit only while held (keeping what others saved
    meanwhile); a commit after a takeover writes nothing; deleting a connection drops its lease."""
    from patchbay.runtime.accounts._token_store import LeaseLost

    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    assert store.refresh_lease(conn.id) is None
    assert store.claim_refresh(conn.id, "first", 60.0)
    assert not store.claim_refresh(conn.id, "second", 60.0)  # held: others wait
    lease = store.refresh_lease(conn.id)
    assert lease is not None and lease.owner == "first" and lease.expires_at > time.time()
    store.release_refresh(conn.id, "second")  # not the holder: nothing happens
    assert store.refresh_lease(conn.id) == lease

    labelled = store.save(replace(store.get(conn.id), account_label="Acme"))  # meanwhile
    new = TokenSet("at_FAKE_new", "rt_FAKE_new", time.time() + 3600, variables={"team": "T1"})
    saved = store.commit_refresh(conn.id, "first", tokens=new)
    assert saved.tokens == new and saved.account_label == "Acme"
    assert saved.variables == {"team": "T1"} and saved.version == labelled.version + 1
    assert store.get(conn.id) == saved and store.refresh_lease(conn.id) is None

    # A holder whose lease ran out and was taken over stores nothing.
    assert store.claim_refresh(conn.id, "slow", -1.0)
    assert store.claim_refresh(conn.id, "taker", 60.0)
    with pytest.raises(LeaseLost) as lost:
        store.commit_refresh(conn.id, "slow", tokens=TokenSet("at_FAKE_late", "rt_FAKE_late"))
    assert lost.value.code == "conflict" and lost.value.retryable
    with pytest.raises(LeaseLost):
        store.commit_refresh(conn.id, "slow", status="needs_reauth")
    assert store.get(conn.id) == saved
    store.release_refresh(conn.id, "taker")
    assert store.claim_refresh(conn.id, "again", 60.0)
    store.delete(conn.id)
    assert store.refresh_lease(conn.id) is None


def test_a_refresh_that_outlived_its_lease_reports_it_and_stores_nothing(
    store: SQLiteTokenStore,
) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)

    def slow_vendor(request: httpx.Request) -> httpx.Response:
        # While the vendor answers, the lease expires and another caller takes it over.
        assert store.claim_refresh(conn.id, "taker", 60.0)
        return provider.handler(request)

    p = StoredTokenProvider(
        store, conn.id, SLACK, CLIENT, transport=httpx.MockTransport(slow_vendor), lease_seconds=0
    )
    with pytest.raises(PatchbayError, match="outlived its lease") as info:
        p.get_token()
    assert info.value.code == "conflict" and info.value.retryable
    assert store.get(conn.id) == conn
    assert store.refresh_lease(conn.id).owner == "taker"  # type: ignore[union-attr]


def test_an_oversized_or_too_deep_token_answer_is_a_bad_response(store: SQLiteTokenStore) -> None:
    provider = MockOAuthProvider(SLACK, oauth_variant(SLACK))
    conn = _expired_connection(store, provider)
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"pad": "' + b"x" * 300_000 + b'"}'):
        answer = httpx.MockTransport(lambda request, body=body: httpx.Response(200, content=body))
        p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=answer)
        with pytest.raises(PatchbayError) as info:
            p.get_token()
        assert info.value.code == "bad_response"
        assert store.get(conn.id) == conn and store.refresh_lease(conn.id) is None
