"""Attack: a hostile vendor (real HTTPS on loopback) echoes the credentials it receives back in
every encoding it can think of, percent-encoded, form-encoded, base64, inside a Basic pair,
and a planted secret must still appear in no error (str, repr, args, to_dict), no log line
(message, structured fields, JSON output) and no recorded fixture. Secrets carry characters
that percent-, form- and JSON-encoding all change (``a+b/c=d%e&f``), so every form differs.
A value too short to scrub by value is still hidden wherever its name says what it is."""

from __future__ import annotations

import base64
import json
import logging
import ssl
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from attack_support import Origin, Seen, assert_not_in_text, leak_forms, origin
from conftest import FakeSleep, make_spec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from patchbay.mocks.recorder import Exchange, Recorder
from patchbay.runtime import (
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
)
from patchbay.runtime.http._redaction import REDACTED, Redactor
from patchbay.runtime.observability import JsonFormatter
from patchbay.runtime.spec._registry import SpecRegistry

BEARER = "a+b/c=d%e&f_PLANTED_bearer"
QUERY_KEY = "q+r/s=t%u&v PLANTED_query"
USER, PASSWORD = "someone", "p+w/d=x%y&z_PLANTED_pass"

REGISTRY_FOR_SIGNATURES = SpecRegistry(Path(__file__).resolve().parent.parent / "specs")

ACTIONS: list[dict[str, Any]] = [
    {
        "name": "get_thing",
        "method": "GET",
        "path": "/things/{id}",
        "parameters": [{"name": "id", "in": "path", "required": True}],
    },
    {
        "name": "send_note",
        "method": "POST",
        "path": "/notes",
        "body": {
            "encoding": "form",
            "schema": {"type": "object", "properties": {"note": {"type": "string"}}},
        },
    },
]

AUTH: dict[str, list[dict[str, Any]]] = {
    "bearer": [{"name": "key", "type": "bearer", "token": "{api_key}", "fields": {"api_key": {}}}],
    "query": [
        {
            "name": "kt",
            "type": "api_key",
            "in": "query",
            "fields": {"token": {}},
            "params": [{"name": "token", "value": "{token}"}],
        }
    ],
    "basic": [
        {
            "name": "pw",
            "type": "basic",
            "username": "{user}",
            "password": "{password}",
            "fields": {"user": {"secret": False}, "password": {}},
        }
    ],
}
CREDENTIALS = {
    "bearer": {"api_key": BEARER},
    "query": {"token": QUERY_KEY},
    "basic": {"user": USER, "password": PASSWORD},
}
SECRET = {"bearer": BEARER, "query": QUERY_KEY, "basic": PASSWORD}


def hostile_vendor(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
    """Echo the raw request line, the Authorization header and every encoding of the
    credential inside it back in error bodies (one with a vendor code, one retryable)."""
    auth = seen.headers.get("authorization", "")
    credential = auth.partition(" ")[2]
    if auth.lower().startswith("basic "):
        credential = base64.b64decode(credential).decode().partition(":")[2]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen.path).query)
    credential = credential or query.get("token", [""])[0]
    echoed = " ".join([seen.method, seen.path, auth, *leak_forms(credential)])
    if seen.method == "POST":
        body = {"message": f"note rejected: {seen.body.decode()} {echoed}"}
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
    if seen.path.startswith("/v1/things/busy"):
        body = {"message": f"busy, retry {echoed}"}
        return 503, {"Content-Type": "application/json"}, json.dumps(body).encode()
    body = {"error": {"message": f"bad key {echoed}", "code": urllib.parse.quote(credential)}}
    return 401, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    with origin(hostile_vendor, tls_folder=tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log record as its message, its structured fields and its JSON line."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.extend(
                [
                    record.getMessage(),
                    repr(getattr(record, "patchbay", {})),
                    JsonFormatter().format(record),
                ]
            )

    log = logging.getLogger("patchbay")
    handler, level = Capture(level=logging.DEBUG), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield lines
    log.removeHandler(handler)
    log.setLevel(level)


def _error_texts(error: PatchbayError) -> list[str]:
    return [str(error), repr(error), repr(error.args), json.dumps(error.to_dict()), error.message]


@pytest.mark.parametrize("variant", ["bearer", "query", "basic"])
def test_echoed_credentials_reach_no_error_and_no_log(
    variant: str, vendor: Origin, logs: list[str]
) -> None:
    assert vendor.cert_path is not None
    verify = ssl.create_default_context(cafile=str(vendor.cert_path))
    secret = SECRET[variant]
    executor = GenericExecutor(
        make_spec(ACTIONS, auth=AUTH[variant]),
        Connection("acme", credentials=CREDENTIALS[variant]),
        base_url=f"{vendor.url}/v1",
        transport=httpx.HTTPTransport(verify=verify),
        options=ExecutorOptions(retry=RetryPolicy(max_attempts=2)),
        sleep=FakeSleep(),
    )
    texts = [repr(executor), repr(executor.core.connection)]
    with executor:
        for action, data in (
            ("get_thing", {"id": "x"}),
            ("get_thing", {"id": "busy"}),
            ("send_note", {"note": f"my key is {secret}"}),
        ):
            with pytest.raises(PatchbayError) as info:
                executor.call(action, data)
            texts += _error_texts(info.value)
    # The attack happened: the vendor received the credential and echoed it back.
    assert len(vendor.requests) >= 4
    assert any(REDACTED in t for t in texts), "the echo was scrubbed, not lost"
    assert any("http.request" in line for line in logs)
    for text in [*texts, *logs]:
        assert_not_in_text(text, secret)


def test_recorded_fixture_holds_no_encoded_secret(tmp_path: Path) -> None:
    """A Basic-auth exchange whose response echoes the password in every encoding: the
    recorder learns the credential from the header and scrubs every form before writing."""
    spec = make_spec(
        [{"name": "get_thing", **{k: v for k, v in ACTIONS[0].items() if k != "name"}}],
        auth=AUTH["basic"],
    )
    pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    query = urllib.parse.urlencode({"note": PASSWORD})
    echo = " ".join([f"Basic {pair}", query, *leak_forms(PASSWORD)])
    exchange = Exchange(
        "GET",
        "https://api.acme.test/v1/things/t1",
        [("Authorization", f"Basic {pair}")],
        b"",
        200,
        [("Content-Type", "application/json")],
        json.dumps({"id": "t1", "note": echo, "next": f"/v1/things?{query}"}).encode(),
    )
    written = Recorder(spec, root=tmp_path, mode="all").record(exchange)
    assert written is not None
    text = written.read_text(encoding="utf-8")
    assert REDACTED in text
    assert_not_in_text(text, PASSWORD)


def test_short_values_are_redacted_by_name_wherever_they_appear() -> None:
    """Two characters cannot be scrubbed by value (every "ab" in a message would go), so
    a sensitive name hides its value whatever its length: headers, query parameters, JSON
    and form fields, and the same shapes quoted inside free text (a vendor's message)."""
    short = "Zq"
    red = Redactor([short])
    assert red.text(f"Zqxy {short}") == f"Zqxy {short}", "too short to scrub by value"
    assert red.headers({"Authorization": short, "X-Api-Key": short}) == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
    }
    assert short not in red.url(f"https://x.test/p?api_key={short}&apiKey={short}&q=1")
    assert red.data({"api_key": short, "nested": [{"accessToken": short}]}) == {
        "api_key": REDACTED,
        "nested": [{"accessToken": REDACTED}],
    }
    for text in (
        f"rejected form body: api_key={short}&note=hello",
        f"GET /things?token={short}&page=2",
        f'vendor said {{"api_key": "{short}", "ok": false}}',
        f"request headers {{'Authorization': 'Bearer {short}'}}",
        f"Authorization: Bearer {short}",
        f"X-Api-Key: {short} was refused",
        f"the token Bearer {short} expired",
        f"client_secret = {short}",
    ):
        out = red.text(text)
        assert short not in out.replace("Zqxy", ""), (text, out)
        assert REDACTED in out
    # Ordinary names keep their values: only sensitive names are redacted.
    assert red.text("page_token=Zq idempotency_key=Zq") == "page_token=Zq idempotency_key=Zq"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(st.characters(blacklist_categories=("Cs",)), min_size=7, max_size=40),
    form=st.integers(min_value=0),
)
def test_any_secret_in_any_form_is_scrubbed(secret: str, form: int) -> None:
    """Property: whatever the secret's characters, each of its encoded forms, quoted in
    text, comes out scrubbed (checked by decoding the output every way a reader could)."""
    assume(secret not in f"vendor says: {REDACTED} (end)")  # the marker cannot count as a leak
    forms = leak_forms(secret)
    text = f"vendor says: {forms[form % len(forms)]} (end)"
    out = Redactor([secret]).text(text)
    assert REDACTED in out
    assert_not_in_text(out, secret)


@pytest.mark.parametrize(
    "header",
    [
        # Every Batch 1 signature header, by the spec's own name, and ones no spec declares.
        *sorted(
            {
                w.verification.signature_header
                for s in REGISTRY_FOR_SIGNATURES.names()
                for w in REGISTRY_FOR_SIGNATURES.get(s).triggers.webhooks
            }
        ),
        "X-Hub-Signature",
        "X-Acme-Signature-512",
    ],
)
def test_signature_headers_are_redacted_without_naming_a_vendor(header: str) -> None:
    signed = "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
    redactor = Redactor()
    assert redactor.headers({header: signed, "Content-Type": "application/json"}) == {
        header: REDACTED,
        "Content-Type": "application/json",
    }
    assert signed not in redactor.text(f"{header}: {signed}")
    assert signed not in json.dumps(redactor.data({header.lower(): signed}))


def test_a_header_merely_mentioning_signatures_elsewhere_is_kept() -> None:
    assert Redactor().headers({"X-Signature-Count": "3"}) == {"X-Signature-Count": "3"}
