"""The recorder end to end: a self-signed HTTPS stand-in for Stripe on loopback, a real
mitmproxy in between, an httpx client trusting mitmproxy's CA. Traffic carries planted (fake)
secrets; no written byte may contain one. Then replay, mock serving, contract, drift, HAR."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

import httpx
import pytest
import uvicorn
from attack_support import self_signed_cert
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from patchbay.cli.record import record
from patchbay.mocks.contract import ContractCase, run_case
from patchbay.mocks.golden import GOLDEN_DIR, load_fixture
from patchbay.mocks.recorder import (
    Exchange,
    Recorder,
    RedactionRules,
    drift,
    scan_fixtures,
    start_proxy,
    write_atomic,
)
from patchbay.mocks.replay import (
    RecordedSession,
    ReplayMiss,
    effective_mode,
    patchbay_replay,  # noqa: F401  (a pytest fixture: requested by name)
)
from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime import Connection, GenericExecutor
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._registry import SpecRegistry

# Obviously fake secrets, planted where real ones would travel.
API_KEY = "sk_test_PLANTED_FAKE_key_0001"
COOKIE = "PLANTED_FAKE_request_cookie_77"
SET_COOKIE = "PLANTED_FAKE_session_cookie_88"
CLIENT_SECRET = "pi_PLANTED_FAKE_client_secret_99"
# Characters that percent-, form- and JSON-encoding all change, so each form differs.
QUERY_TOKEN = "PLANTED+FAKE/query=token&55%x y"
EMAIL = "planted.person@corp-fake.example"
PHONE = "+14155550123"
SECRETS = (API_KEY, COOKIE, SET_COOKIE, CLIENT_SECRET, QUERY_TOKEN, EMAIL, PHONE)


def encoded_forms(secret: str) -> list[str]:
    """The forms a hostile vendor echoes a secret in (and the recorder must scrub): percent-
    encoded with either hex case, form-encoded, inside a query string, base64 (standard,
    URL-safe, unpadded) and base64 of a Basic credential with a user name in front."""
    raw = secret.encode()
    b64 = base64.b64encode(raw).decode()
    quoted = quote(secret, safe="")
    return [
        quoted,
        re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quoted),
        quote_plus(secret),
        quote(quoted, safe=""),
        f"https://api.example.test/next?access_token={quote_plus(secret)}&page=2",
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(b"someone:" + raw).decode(),
    ]


REGISTRY = SpecRegistry()
STRIPE = REGISTRY.get("stripe")
# mitmproxy imports ldap3, which uses deprecated pyasn1 names; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:(tagMap|typeMap) is deprecated:DeprecationWarning")


def _golden_body(action: str, name: str = "documented") -> Any:
    return load_fixture(GOLDEN_DIR / "stripe" / action / f"{name}.json").response.body


def _vendor_app() -> Starlette:
    """Stripe-shaped answers (from the documented fixtures) with secrets planted in them."""
    listing = _golden_body("list_customers")
    customer = _golden_body("get_customer")

    def _auth_ok(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    async def list_customers(request: Request) -> JSONResponse:
        if not _auth_ok(request):
            return JSONResponse({"error": {"type": "invalid_request_error"}}, 401)
        body = copy.deepcopy(listing)
        body["data"][0]["email"] = EMAIL
        body["data"][0]["phone"] = PHONE
        body["data"][0]["description"] = f"echo of {request.headers['authorization']}"
        # A hostile vendor echoing credentials in every encoding it can think of.
        token = request.query_params.get("access_token", "")
        key = request.headers["authorization"].removeprefix("Bearer ")
        body["data"][1]["description"] = " ".join(encoded_forms(token) + encoded_forms(key))
        response = JSONResponse(body, headers={"Request-Id": "req_FAKE_rec1"})
        response.headers["RateLimit-Remaining"] = "99"
        response.set_cookie("session", SET_COOKIE)
        return response

    async def get_customer(request: Request) -> JSONResponse:
        body = copy.deepcopy(customer)
        body["id"] = request.path_params["customer"]
        if request.path_params["customer"] == "cus_DRIFT":
            body["loyalty_tier"] = "gold"  # a field the spec does not know
            body["balance"] = "12.50"  # a changed type
        return JSONResponse(body)

    async def create_customer(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        body = copy.deepcopy(customer)
        body.update({"email": form.get("email"), "name": form.get("name")})
        body["metadata"] = {"client_secret": CLIENT_SECRET}
        return JSONResponse(body)

    async def nowhere(request: Request) -> JSONResponse:
        return JSONResponse({"error": "not here"}, 404)

    return Starlette(
        routes=[
            Route("/v1/customers", list_customers, methods=["GET"]),
            Route("/v1/customers", create_customer, methods=["POST"]),
            Route("/v1/customers/{customer}", get_customer, methods=["GET"]),
            Route("/v1/nowhere", nowhere, methods=["GET"]),
        ]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Vendor:
    def __init__(self, folder: Path) -> None:
        self.cert, key = self_signed_cert(folder)
        self.port = _free_port()
        config = uvicorn.Config(
            _vendor_app(),
            host="127.0.0.1",
            port=self.port,
            ssl_certfile=str(self.cert),
            ssl_keyfile=str(key),
            log_level="error",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.host}/v1"

    def __enter__(self) -> _Vendor:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "the stand-in vendor did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Vendor]:
    with _Vendor(tmp_path_factory.mktemp("vendor")) as running:
        yield running


@pytest.fixture(scope="module")
def session(vendor: _Vendor, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real recording session through mitmproxy; the tests below inspect its output."""
    root = tmp_path_factory.mktemp("golden")
    recorder = Recorder(STRIPE, root=root, mode="new", stand_ins=[vendor.host])
    confdir = tmp_path_factory.mktemp("mitmproxy")
    with start_proxy(recorder, port=0, confdir=confdir, upstream_ca=vendor.cert) as proxy:
        verify = ssl.create_default_context(cafile=str(proxy.ca_cert))
        headers = {"Authorization": f"Bearer {API_KEY}", "Cookie": f"sid={COOKIE}"}
        with httpx.Client(proxy=proxy.url, verify=verify, headers=headers, timeout=10) as client:
            base = vendor.base_url
            r1 = client.get(f"{base}/customers", params={"limit": 2, "access_token": QUERY_TOKEN})
            client.get(f"{base}/customers", params={"limit": 2, "access_token": QUERY_TOKEN})
            r2 = client.get(f"{base}/customers/cus_FAKE123")
            r3 = client.post(f"{base}/customers", data={"email": EMAIL, "name": "Jo Fake"})
            r4 = client.get(f"{base}/nowhere")
        deadline = time.monotonic() + 5
        while (
            len(recorder.report.unmatched)
            + len(recorder.report.written)
            + len(recorder.report.duplicates)
            < 5
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
    assert [r.status_code for r in (r1, r2, r3, r4)] == [200, 200, 200, 404]
    assert SET_COOKIE in r1.headers["set-cookie"]  # the client saw the real traffic
    return {"root": root, "report": recorder.report}


def _written_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


# -------------------------------------------------------------------------------- recording


def test_recording_writes_fixtures_per_action(session: dict[str, Any]) -> None:
    root, report = session["root"], session["report"]
    names = sorted(str(p.relative_to(root)) for p in report.written)
    assert names == [
        "stripe/create_customer/recorded-1.json",
        "stripe/get_customer/recorded-1.json",
        "stripe/list_customers/recorded-1.json",
    ]
    assert report.duplicates == ["GET /v1/customers"]  # mode new: the repeat is not re-recorded
    listing = load_fixture(root / "stripe/list_customers/recorded-1.json")
    assert listing.source == "recorded"
    assert listing.input == {"limit": 2}
    assert listing.request.query == {"limit": ["2"]}  # a credential is never matched on
    kept = {k.lower(): v for k, v in listing.response.headers.items()}
    assert kept == {"request-id": "req_FAKE_rec1", "ratelimit-remaining": "99"}
    created = load_fixture(root / "stripe/create_customer/recorded-1.json")
    assert created.request.body == {"email": ["redacted@example.test"], "name": ["Jo Fake"]}
    assert created.input == {"email": "redacted@example.test", "name": "Jo Fake"}
    assert not list(root.rglob(".partial-*"))


def test_no_planted_secret_in_any_written_byte(session: dict[str, Any]) -> None:
    data = _written_bytes(session["root"])
    assert data, "nothing was written"
    for secret in SECRETS:
        assert secret.encode() not in data, secret
        assert base64.b64encode(secret.encode()) not in data
    for secret in (QUERY_TOKEN, API_KEY):
        for form in encoded_forms(secret):
            assert form.encode() not in data, form
    assert b"[REDACTED]" in data and b"redacted@example.test" in data


def test_unmatched_traffic_is_listed(session: dict[str, Any]) -> None:
    unmatched = session["report"].unmatched
    assert len(unmatched) == 1 and "GET https://127.0.0.1:" in unmatched[0]
    assert unmatched[0].endswith("/v1/nowhere -> 404")
    assert "matched no action" in "\n".join(session["report"].lines())


def test_refuses_without_redaction_rules_for_the_auth_variant() -> None:
    with pytest.raises(ConfigError, match=r"refused.*api_key: header Authorization"):
        Recorder(STRIPE, rules=RedactionRules(), variant="api_key")
    trello = REGISTRY.get("trello")
    rules = RedactionRules(headers={"authorization"})
    with pytest.raises(ConfigError, match=r"key_token: query key; key_token: query token"):
        Recorder(trello, rules=rules)


def test_modes(tmp_path: Path, session: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="records nothing"):
        Recorder(STRIPE, root=tmp_path, mode="none")
    with pytest.raises(ConfigError, match="already has recordings"):
        Recorder(STRIPE, root=session["root"], mode="once")
    ex = Exchange(
        "GET",
        "https://api.stripe.com/v1/balance",
        [("Authorization", f"Bearer {API_KEY}")],
        b"",
        200,
        [("Content-Type", "application/json")],
        _golden_body_json("get_balance"),
    )
    once = Recorder(STRIPE, root=tmp_path, mode="once")
    assert once.record(ex) is not None and once.record(ex) is None
    everything = Recorder(STRIPE, root=tmp_path, mode="all")
    assert everything.record(ex) == tmp_path / "stripe/get_balance/recorded-2.json"


def _golden_body_json(action: str) -> bytes:
    folder = GOLDEN_DIR / "stripe" / action
    return json.dumps(load_fixture(sorted(folder.glob("*.json"))[0]).response.body).encode()


def test_corrupt_fixture_is_reported_and_writes_are_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "stripe" / "get_balance"
    folder.mkdir(parents=True)
    broken = folder / "recorded-1.json"
    broken.write_text('{"description": "half a fi', encoding="utf-8")
    _, problems = scan_fixtures("stripe", tmp_path)
    assert len(problems) == 1 and str(broken) in problems[0]
    with pytest.raises(ConfigError, match=str(broken)):
        RecordedSession(STRIPE, root=tmp_path, mode="none")
    assert write_atomic(folder, "{}\n").name == "recorded-2.json"  # never over the broken one

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(folder, "{}\n")
    assert sorted(p.name for p in folder.iterdir()) == ["recorded-1.json", "recorded-2.json"]


# ---------------------------------------------------------------------------------- replay


def test_recorded_fixtures_are_served_by_the_mock_and_pass_the_contract(
    session: dict[str, Any],
) -> None:
    root = session["root"]
    creds = default_credentials(STRIPE)
    server = MockServer(STRIPE, MockOptions(golden_root=root, credentials=creds))
    with httpx.Client(transport=server.transport()) as client:
        got = client.get(
            "https://api.stripe.com/v1/customers?limit=2",
            headers={"Authorization": f"Bearer {creds['api_key']}"},
        )
    assert got.json()["data"][0]["email"] == "redacted@example.test"
    for path in sorted(root.glob("stripe/*/recorded-*.json")):
        case = ContractCase("stripe", path.parent.name, path.stem, path, load_fixture(path))
        result = run_case(STRIPE, case)
        assert result.ok, (path, result.problems)


def test_replay_serves_the_session_and_names_the_closest_on_a_miss(
    session: dict[str, Any],
) -> None:
    replay = RecordedSession(STRIPE, root=session["root"], mode="none")
    conn = Connection("stripe", credentials={"api_key": "sk_test_FAKE_other_key"})
    with GenericExecutor(STRIPE, conn, transport=replay.transport()) as stripe:
        # A real email in the test is redacted the same way before matching.
        made = stripe.call("create_customer", {"email": "jo@corp.example", "name": "Jo Fake"})
        assert made["metadata"] == {"client_secret": "[REDACTED]"}
        with pytest.raises(ReplayMiss) as miss:
            stripe.call("get_customer", {"customer": "cus_FAKE999"})
    text = str(miss.value)
    assert "no recorded request matches GET /v1/customers/cus_FAKE999" in text
    assert "closest recorded request: GET /v1/customers/cus_FAKE123" in text
    assert "get_customer/recorded-1.json" in text


def test_replay_mode_new_records_misses_and_ci_forces_none(
    vendor: _Vendor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    real = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(vendor.cert)))
    replay = RecordedSession(STRIPE, root=tmp_path, mode="new", real=real, stand_ins=[vendor.host])
    conn = Connection("stripe", credentials={"api_key": API_KEY})
    with GenericExecutor(
        STRIPE, conn, base_url=vendor.base_url, transport=replay.transport()
    ) as stripe:
        first = stripe.call("get_customer", {"customer": "cus_FAKE123"})
        again = stripe.call("get_customer", {"customer": "cus_FAKE123"})
    # The second call is replayed from the fixture the first one wrote (redacted).
    assert first["id"] == again["id"] and again["email"] == "redacted@example.test"
    assert [p.name for p in (tmp_path / "stripe/get_customer").iterdir()] == ["recorded-1.json"]
    assert API_KEY.encode() not in _written_bytes(tmp_path)
    monkeypatch.setenv("CI", "true")
    assert effective_mode("new") == "none"
    with pytest.raises(ConfigError, match="needs a real transport"):
        monkeypatch.delenv("CI")
        RecordedSession(STRIPE, root=tmp_path, mode="all")


@pytest.fixture
def recorded_root(session: dict[str, Any]) -> Path:
    return Path(session["root"])


@pytest.mark.parametrize(
    "patchbay_replay", [{"connector": "stripe", "root_from": "recorded_root"}], indirect=True
)
def test_pytest_fixture_replays_a_session(patchbay_replay: RecordedSession) -> None:  # noqa: F811
    with httpx.Client(transport=patchbay_replay.transport()) as client:
        got = client.get("https://api.stripe.com/v1/customers/cus_FAKE123")
    assert got.status_code == 200 and got.json()["id"] == "cus_FAKE123"
    assert [p.name for p in patchbay_replay.used] == ["recorded-1.json"]


# --------------------------------------------------------------------------- drift, HAR, CLI


def test_drift_check_reports_new_fields_and_changed_types(
    vendor: _Vendor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # recording is refused under CI; this test records
    real = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(vendor.cert)))
    replay = RecordedSession(STRIPE, root=tmp_path, mode="new", real=real, stand_ins=[vendor.host])
    with httpx.Client(transport=replay.transport()) as client:
        client.get(f"{vendor.base_url}/customers/cus_DRIFT")
    found = drift(STRIPE, scan_fixtures("stripe", tmp_path, recorded_only=True)[0])
    assert {(d.action, d.path, d.kind) for d in found} >= {
        ("get_customer", "loyalty_tier", "new_field"),
        ("get_customer", "balance", "changed_type"),
    }
    result = CliRunner().invoke(record, ["--check", "stripe", "--out", str(tmp_path)], obj=REGISTRY)
    assert result.exit_code == 1, result.output
    assert "stripe.get_customer: new field at loyalty_tier: string not in the output schema" in (
        result.output
    )
    assert "changed type at balance: the spec says integer, recorded string" in result.output


def _har(tmp_path: Path) -> Path:
    body = json.dumps({"id": "cus_FAKE123", "object": "customer", "email": EMAIL})
    entry = {
        "request": {
            "method": "GET",
            "url": "https://api.stripe.com/v1/customers/cus_FAKE123",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {API_KEY}"},
                {"name": "Cookie", "value": f"sid={COOKIE}"},
            ],
            "queryString": [],
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Set-Cookie", "value": f"session={SET_COOKIE}; Secure"}],
            "content": {
                "mimeType": "application/json",
                "encoding": "base64",
                "text": base64.b64encode(body.encode()).decode(),
            },
        },
    }
    other = copy.deepcopy(entry)
    other["request"]["url"] = "https://cdn.example.test/app.js"
    path = tmp_path / "session.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry, other]}}))
    return path


def test_har_import_writes_the_same_redacted_fixtures(tmp_path: Path) -> None:
    out = tmp_path / "golden"
    har = _har(tmp_path)
    result = CliRunner().invoke(record, ["import", str(har), "--out", str(out)], obj=REGISTRY)
    assert result.exit_code == 0, result.output
    assert "matched no action" in result.output and "cdn.example.test/app.js" in result.output
    fixture = load_fixture(out / "stripe/get_customer/recorded-1.json")
    assert fixture.input == {"customer": "cus_FAKE123"}
    assert fixture.response.body["email"] == "redacted@example.test"
    data = _written_bytes(out)
    assert all(s.encode() not in data for s in SECRETS)
    bad = tmp_path / "bad.har"
    bad.write_text('{"log": {"entries": [{"request": {}}]}}')
    result = CliRunner().invoke(record, ["import", str(bad), "--out", str(out)], obj=REGISTRY)
    assert result.exit_code == 3 and str(bad) in result.output


def test_cli_record_refuses_unknown_variant_and_mode_none(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        record, ["stripe", "--auth", "nope", "--out", str(tmp_path)], obj=REGISTRY
    )
    assert result.exit_code == 3 and "no auth variant 'nope'" in result.output
    result = runner.invoke(record, ["stripe", "--mode", "none"], obj=REGISTRY)
    assert result.exit_code == 2  # not a recording mode
    assert "import" in runner.invoke(record, ["--help"], obj=REGISTRY).output


def _files_spec() -> Any:
    from conftest import make_spec

    return make_spec(
        [
            {
                "name": "download",
                "method": "GET",
                "path": "/files/{id}/content",
                "parameters": [{"name": "id", "in": "path", "required": True}],
                "output": {"format": "binary"},
            },
            {
                "name": "export_csv",
                "method": "GET",
                "path": "/export.csv",
                "output": {"format": "text"},
            },
        ]
    )


def test_binary_and_text_responses_are_kept_as_bytes_and_text_and_replay_exactly(
    tmp_path: Path,
) -> None:
    spec = _files_spec()
    key = "key_FAKE_binary_secret_123"
    raw = b"\x89PNG\r\n\x1a\n\x00\xff" + key.encode() + b"\x00tail"
    csv = f"id,email,note\n1,{EMAIL},token {key}\n"
    recorder = Recorder(spec, root=tmp_path, mode="all")
    auth = [("Authorization", f"Bearer {key}")]
    png = [("Content-Type", "image/png")]
    text = [("Content-Type", "text/csv; charset=utf-8")]
    base = "https://api.acme.test/v1"
    written = [
        recorder.record(Exchange("GET", f"{base}/files/f1/content", auth, b"", 200, png, raw)),
        recorder.record(Exchange("GET", f"{base}/export.csv", auth, b"", 200, text, csv.encode())),
    ]
    binary_file, text_file = (p for p in written if p is not None)
    for path in (binary_file, text_file):
        data = path.read_bytes()
        assert key.encode() not in data and base64.b64encode(key.encode()) not in data
    stored = load_fixture(binary_file).response
    assert stored.body_encoding == "base64"
    kept = base64.b64decode(stored.body)
    assert kept.startswith(b"\x89PNG\r\n\x1a\n\x00\xff") and key.encode() not in kept
    table = load_fixture(text_file).response
    assert table.body_encoding == "text" and table.body.startswith("id,email,note\n")
    assert EMAIL not in table.body and key not in table.body

    server = MockServer(spec, MockOptions(golden_root=tmp_path))
    conn = Connection("acme", credentials=dict(server.credentials))
    with GenericExecutor(spec, conn, transport=server.transport()) as ex:
        assert ex.call("download", {"id": "f1"}) == kept  # the recorded bytes, exactly
        assert ex.call("export_csv") == table.body
    assert server.fixture_hits == 2
    replay = RecordedSession(spec, root=tmp_path, mode="none")
    with GenericExecutor(spec, conn, transport=replay.transport()) as ex:
        assert ex.call("download", {"id": "f1"}) == kept
