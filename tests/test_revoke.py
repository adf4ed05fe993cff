"""Revoking a grant at the vendor: every revoke style of the specs against the mock provider,
end to end through `patchbay connections delete` over loopback, and the failure paths."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from click.testing import CliRunner, Result

from patchbay.cli import main
from patchbay.mocks.loopback import HandlerApp, serve
from patchbay.mocks.oauth_provider import MockOAuthProvider
from patchbay.runtime import PatchbayError, load_spec, parse_spec
from patchbay.runtime.accounts._connect import Deletion, delete_connection, revoke_connection
from patchbay.runtime.accounts._encryption import KEY_VARIABLE, Encryptor, new_key
from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    oauth_variant,
    read_token_response,
    revoke_request,
    revoke_token,
)
from patchbay.runtime.accounts._token_provider import StoredTokenProvider
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.errors import AuthExpired, BadResponse, NetworkError, NotFound
from patchbay.runtime.spec._model import ConnectorSpec, OAuth2Revoke

ROOT = Path(__file__).resolve().parent.parent
CLIENT = OAuthClient("client_FAKE_id", "client_FAKE_secret")
KEY = new_key()


def _hubspot_v1(doc: dict[str, Any]) -> None:
    """HubSpot's legacy call: DELETE /oauth/v1/refresh-tokens/{token}, no body, no auth."""
    variant = next(v for v in doc["auth"] if v["type"] == "oauth2")
    variant["revoke_url"] = "https://api.hubapi.com/oauth/v1/refresh-tokens"
    variant["revoke"] = {"method": "DELETE", "token": "refresh_token", "token_in": "path"}


# case -> (spec, change to its document, the style it stands for: token_in, method, token)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], None] | None, tuple[str, str, str]]] = {
    "google_drive": ("google_drive", None, ("form", "POST", "refresh_token")),
    "google_calendar": ("google_calendar", None, ("form", "POST", "refresh_token")),
    "salesforce": ("salesforce", None, ("form", "POST", "refresh_token")),
    "hubspot": ("hubspot", None, ("form", "POST", "refresh_token")),
    "hubspot_v1": ("hubspot", _hubspot_v1, ("path", "DELETE", "refresh_token")),
    "dropbox": ("dropbox", None, ("bearer", "POST", "access_token")),
    "zendesk": ("zendesk", None, ("bearer", "DELETE", "access_token")),
    "slack": ("slack", None, ("bearer", "POST", "access_token")),
}


@dataclass
class Setup:
    spec: ConnectorSpec
    provider: MockOAuthProvider
    store: SQLiteTokenStore
    conn: StoredConnection
    specs_dir: Path

    def delete(self, origin: str, *flags: str) -> Result:
        args = ["--specs-dir", str(self.specs_dir), "connections", "delete", self.conn.id]
        args += ["--store", str(self.store.path), "--oauth-base-url", origin, *flags]
        return CliRunner().invoke(main, args)

    @property
    def secrets(self) -> list[str]:
        tokens = self.conn.tokens
        assert tokens is not None and tokens.refresh_token
        return [tokens.access_token, tokens.refresh_token, CLIENT.client_secret]


def _variables(spec: ConnectorSpec) -> dict[str, str]:
    return {
        name: var.default or var.example or (var.enum[0] if var.enum else f"mock_{name}")
        for name, var in spec.connection.variables.items()
    }


def _setup(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, expired: bool) -> Setup:
    """A stored connection holding a fresh grant of the mock provider (expired if asked)."""
    name, change, _style = CASES[case]
    doc = json.loads((ROOT / "specs" / f"{name}.json").read_text())
    if change is not None:
        change(doc)
    specs_dir = tmp_path / "specs"
    specs_dir.mkdir()
    (specs_dir / f"{name}.json").write_text(json.dumps(doc))
    spec = parse_spec(doc)
    variant = oauth_variant(spec)
    provider = MockOAuthProvider(spec, variant)
    tokens = read_token_response(spec, variant, provider.issue_tokens())
    if expired:
        tokens = replace(tokens, expires_at=time.time() - 60, obtained_at=time.time() - 3600)
    store = SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))
    variables = {**_variables(spec), **tokens.variables}
    conn = store.create(
        StoredConnection("", spec.name, variant.name, variables=variables, tokens=tokens)
    )
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    monkeypatch.setenv(f"PATCHBAY_{name.upper()}_CLIENT_ID", CLIENT.client_id)
    monkeypatch.setenv(f"PATCHBAY_{name.upper()}_CLIENT_SECRET", CLIENT.client_secret)
    return Setup(spec, provider, store, conn, specs_dir)


@pytest.mark.parametrize("case", sorted(CASES))
def test_delete_revokes_at_the_vendor_in_its_style(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup(case, tmp_path, monkeypatch, expired=True)
    how = oauth_variant(s.spec).revoke
    assert (how.token_in, how.method, how.token) == CASES[case][2]
    with serve(HandlerApp(s.provider.handler)) as origin:
        result = s.delete(origin)
    assert result.exit_code == 0, result.output
    assert f"deleted {s.conn.id}: revoked at the vendor" in result.output
    assert s.store.list() == []
    old = s.conn.tokens
    assert old is not None
    if how.token == "access_token":
        # The stored token had expired: it was refreshed, and the live one revoked.
        assert s.provider.refresh_count == 1
        assert len(s.provider.revoked) == 1 and s.provider.revoked[0] != old.access_token
    else:
        assert s.provider.refresh_count == 0 and s.provider.revoked == [old.refresh_token]
    assert s.provider.live_tokens() == set()  # the whole grant is dead at the vendor
    assert not any(secret in result.output for secret in s.secrets)


def _other_styles(how: OAuth2Revoke) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"method": "DELETE" if how.method == "POST" else "POST"},
        {"token": "access_token" if how.token == "refresh_token" else "refresh_token"},
    ]
    out += [{"token_in": t} for t in ("form", "bearer", "path") if t != how.token_in]
    if how.token_in == "form":
        out += [{"token_type_hint": not how.token_type_hint}, {"client_auth": not how.client_auth}]
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_mock_refuses_every_other_style(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup(case, tmp_path, monkeypatch, expired=False)
    variant = oauth_variant(s.spec)
    tokens = s.conn.tokens
    assert tokens is not None and tokens.refresh_token
    pick = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
    for change in _other_styles(variant.revoke):
        wrong = variant.model_copy(update={"revoke": variant.revoke.model_copy(update=change)})
        with pytest.raises(PatchbayError) as info:
            revoke_token(
                s.spec,
                wrong,
                CLIENT,
                pick[wrong.revoke.token],
                s.conn.variables,
                transport=s.provider.transport(),
            )
        assert not any(secret in str(info.value) for secret in s.secrets), change
    assert s.provider.revoked == [] and len(s.provider.live_tokens()) == 2
    right = pick[variant.revoke.token]
    revoke_token(s.spec, variant, CLIENT, right, s.conn.variables, transport=s.provider.transport())
    assert s.provider.revoked == [right]


@pytest.mark.parametrize("case", ["google_drive", "dropbox", "slack"])
def test_a_vendor_outage_keeps_the_connection_unless_forced(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup(case, tmp_path, monkeypatch, expired=False)
    s.provider.revoke_status = 503
    with serve(HandlerApp(s.provider.handler)) as origin:
        kept = s.delete(origin)
        assert kept.exit_code == 1
        assert f"revoking {s.conn.id} at the vendor failed" in kept.output
        assert "[upstream_unavailable]" in kept.output and "(HTTP 503)" in kept.output
        assert f"kept {s.conn.id} (nothing lost)" in kept.output and "--force" in kept.output
        stored = s.store.get(s.conn.id)
        assert stored.status == "active" and stored.tokens == s.conn.tokens
        forced = s.delete(origin, "--force")
    assert forced.exit_code == 0, forced.output
    assert f"deleted {s.conn.id}: NOT revoked at the vendor" in forced.output
    with pytest.raises(NotFound):
        s.store.get(s.conn.id)
    assert s.provider.revoked == [] and len(s.provider.live_tokens()) == 2
    assert not any(secret in kept.output + forced.output for secret in s.secrets)


def test_keep_remote_deletes_without_calling_the_vendor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup("dropbox", tmp_path, monkeypatch, expired=True)
    with serve(HandlerApp(s.provider.handler)) as origin:
        result = s.delete(origin, "--keep-remote")
    assert result.exit_code == 0, result.output
    assert "not revoked at the vendor (--keep-remote)" in result.output
    assert s.provider.requests == [] and s.store.list() == []


def test_revoked_connections_are_marked_and_never_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup("salesforce", tmp_path, monkeypatch, expired=False)
    transport = s.provider.transport()
    assert revoke_connection(s.spec, s.store, s.conn.id, oauth_client=CLIENT, transport=transport)
    stored = s.store.get(s.conn.id)
    assert stored.status == "revoked" and stored.tokens == s.conn.tokens
    provider = StoredTokenProvider(s.store, s.conn.id, s.spec, CLIENT, transport=transport)
    with pytest.raises(AuthExpired, match="is revoked"):
        provider.get_token()
    calls = len(s.provider.requests)
    outcome = delete_connection(
        lambda name: s.spec, s.store, s.conn.id, oauth_client=CLIENT, transport=transport
    )
    assert outcome == Deletion("already_revoked", deleted=True)
    assert len(s.provider.requests) == calls and s.store.list() == []


def test_a_missing_oauth_client_keeps_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup("google_drive", tmp_path, monkeypatch, expired=False)
    monkeypatch.delenv("PATCHBAY_GOOGLE_DRIVE_CLIENT_SECRET")
    outcome = delete_connection(
        lambda name: s.spec, s.store, s.conn.id, transport=s.provider.transport()
    )
    assert outcome.remote == "failed" and not outcome.deleted and outcome.error is not None
    assert outcome.error.code == "config" and "CLIENT_SECRET" in str(outcome.error)
    assert s.store.get(s.conn.id).status == "active" and s.provider.requests == []


def test_api_key_connections_have_nothing_to_revoke(tmp_path: Path) -> None:
    stripe = load_spec(ROOT / "specs/stripe.json")
    store = SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))
    conn = store.create(
        StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_test_FAKE"})
    )
    outcome = delete_connection({"stripe": stripe}.__getitem__, store, conn.id)
    assert outcome == Deletion("nothing_to_revoke", deleted=True) and store.list() == []


def test_revoke_requests_carry_exactly_what_the_style_asks_for() -> None:
    sink = load_spec(ROOT / "tests/data/kitchen_sink.json")
    variant = oauth_variant(sink)  # RFC 7009 defaults: hint and HTTP Basic client auth
    request = revoke_request(sink, variant, CLIENT, "rt_FAKE_1", {"subdomain": "acme"})
    assert (request.method, str(request.url)) == ("POST", "https://acme.example.test/oauth/revoke")
    assert parse_qs(request.content.decode()) == {
        "token": ["rt_FAKE_1"],
        "token_type_hint": ["refresh_token"],
    }
    pair = base64.b64encode(b"client_FAKE_id:client_FAKE_secret").decode()
    assert request.headers["authorization"] == f"Basic {pair}"
    doc = json.loads((ROOT / "specs/hubspot.json").read_text())
    _hubspot_v1(doc)
    hubspot = parse_spec(doc)
    legacy = revoke_request(hubspot, oauth_variant(hubspot), CLIENT, "rt/FAKE+1", {})
    assert legacy.method == "DELETE" and legacy.content == b""
    assert str(legacy.url) == "https://api.hubapi.com/oauth/v1/refresh-tokens/rt%2FFAKE%2B1"
    salesforce = load_spec(ROOT / "specs/salesforce.json")
    mapped = revoke_request(salesforce, oauth_variant(salesforce), CLIENT, "rt_FAKE_2", {})
    # The environment variable's default and value map apply, as for API calls.
    assert str(mapped.url) == "https://login.salesforce.com/services/oauth2/revoke"
    assert "authorization" not in mapped.headers and b"client" not in mapped.content


def test_a_revocation_is_trusted_only_when_confirmed() -> None:
    slack = load_spec(ROOT / "specs/slack.json")
    variant = oauth_variant(slack)
    unconfirmed = httpx.MockTransport(lambda request: httpx.Response(200, json={"revoked": True}))
    with pytest.raises(BadResponse, match="did not confirm"):
        revoke_token(slack, variant, CLIENT, "xoxb-FAKE-1", {}, transport=unconfirmed)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(NetworkError, match="ConnectError"):
        revoke_token(
            slack, variant, CLIENT, "xoxb-FAKE-1", {}, transport=httpx.MockTransport(unreachable)
        )
