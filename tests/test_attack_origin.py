"""Attack suite, part 1 and 2 of the "secure by default" issue: credentials never leave their
origin.

Each attack runs through the real code path (executors, the CLI, ``connect``, the OAuth code
exchange) against live loopback servers, TLS where the spec says https: a *vendor* the spec
trusts and an *attacker* origin that a hostile connection variable, a token response or a
paging response tries to steer credentials to. Every test proves the planted secret never
reached the attacker (in any encoding) and that the refusal is a ``PatchbayError`` naming the
variable or the foreign host.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from attack_support import Origin, Seen, assert_never_received, origin
from click.testing import CliRunner
from conftest import make_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchbay.runtime import (
    AsyncGenericExecutor,
    BadResponse,
    ConfigError,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    SpecInvalid,
    StaticTokenProvider,
    load_spec,
    parse_spec,
)
from patchbay.runtime.accounts._encryption import KEY_VARIABLE, Encryptor, new_key
from patchbay.runtime.accounts._oauth import OAuthClient
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.http._urls import https_origin, render_url

ROOT = Path(__file__).resolve().parent.parent
ZENDESK = load_spec(ROOT / "specs/zendesk.json")
PIPEDRIVE = load_spec(ROOT / "specs/pipedrive.json")
SALESFORCE = load_spec(ROOT / "specs/salesforce.json")
GITHUB = load_spec(ROOT / "specs/github.json")

#: Shaped like a GitHub token (the spec declares ``ghp_…``); the other attacked credentials
#: declare no shape, so one planted value serves every connector here.
SECRET = "ghp_FAKEsecretTOKEN0123456789attack"
CLIENT_SECRET = "client_FAKE_secret_attack_0123"
KEY = new_key()

#: A body that passes every probe the attacked specs use (Zendesk ``user.id``, Pipedrive
#: ``success``), so before the fix a hijacked ``connect`` succeeds and stores the connection.
_WELCOME = {
    "user": {"id": 1, "email": "agent@example.test"},
    "success": True,
    "data": {"company_name": "Evil", "company_id": 1},
    "tickets": [],
    "DailyApiRequests": {"Max": 1},
}


def _welcome(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(_WELCOME).encode()


def _trust(*origins: Origin) -> ssl.SSLContext:
    """A client TLS context that trusts the loopback origins' throwaway certificates."""
    context = ssl.create_default_context()
    for each in origins:
        if each.cert_path is not None:
            context.load_verify_locations(cafile=str(each.cert_path))
    return context


def _outcome(run: Callable[[], object]) -> Exception | None:
    """Run an attack; the exception it ended with (checked after the secret check)."""
    try:
        run()
    except Exception as exc:  # the point is to see *what* escaped, raw or not
        return exc
    return None


def _refused(error: Exception | None, *words: str) -> None:
    assert isinstance(error, PatchbayError), f"not refused as a PatchbayError: {error!r}"
    text = str(error)
    for word in words:
        assert word in text, f"{word!r} not named in {text!r}"
    assert SECRET not in text and SECRET not in repr(error)


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[Origin]:
    folder = tmp_path / "attacker"
    folder.mkdir()
    with origin(_welcome, tls_folder=folder) as evil:
        yield evil


def _authority(evil: Origin) -> str:
    return evil.url.split("://", 1)[1]


#: Values of a variable that sits in a host (``https://{subdomain}.zendesk.com``), each of which
#: turns the rest of the template into a path, query, fragment or user name on the attacker.
HOSTILE_HOSTS: dict[str, Callable[[str], str]] = {
    "fragment": lambda a: f"{a}#",
    "slash-fragment": lambda a: f"{a}/#",
    "path": lambda a: f"{a}/",
    "query": lambda a: f"{a}?a=",
    "userinfo": lambda a: f"x@{a}/#",
}


# ------------------------------------------------------------- 1. variables in base URLs


@pytest.mark.parametrize("shape", sorted(HOSTILE_HOSTS))
def test_zendesk_subdomain_cannot_send_the_api_token_elsewhere(
    attacker: Origin, shape: str
) -> None:
    value = HOSTILE_HOSTS[shape](_authority(attacker))
    connection = Connection(
        "zendesk",
        auth="api_token",
        variables={"subdomain": value},
        credentials={"email": "agent@example.test", "api_token": SECRET},
    )

    def attack() -> None:
        transport = httpx.HTTPTransport(verify=_trust(attacker))
        with GenericExecutor(ZENDESK, connection, transport=transport) as zendesk:
            zendesk.call("list_tickets")

    error = _outcome(attack)
    assert_never_received(attacker, SECRET)
    assert attacker.requests == []
    _refused(error, "subdomain")


def test_pipedrive_company_cannot_send_the_token_elsewhere_async(attacker: Origin) -> None:
    connection = Connection(
        "pipedrive",
        auth="api_token",
        variables={"company": f"{_authority(attacker)}/#"},
        credentials={"api_token": SECRET},
    )

    async def attack() -> None:
        transport = httpx.AsyncHTTPTransport(verify=_trust(attacker))
        async with AsyncGenericExecutor(PIPEDRIVE, connection, transport=transport) as pipedrive:
            await pipedrive.call("list_deals")

    error = _outcome(lambda: asyncio.run(attack()))
    assert_never_received(attacker, SECRET)
    _refused(error, "company")


def test_cli_call_refuses_a_hostile_subdomain(
    attacker: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchbay.cli import main

    assert attacker.cert_path is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(attacker.cert_path))
    result = CliRunner().invoke(
        main,
        [
            "call",
            "zendesk",
            "list_tickets",
            "--auth",
            "api_token",
            "--var",
            f"subdomain={_authority(attacker)}/#",
            "--field",
            "email=agent@example.test",
            "--field",
            f"api_token={SECRET}",
        ],
    )
    assert_never_received(attacker, SECRET)
    assert result.exit_code == 3, result.output
    assert result.output.startswith("error: [config]") and "subdomain" in result.output
    assert SECRET not in result.output


def test_cli_connect_stores_nothing_and_sends_nothing_for_a_hostile_company(
    attacker: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from patchbay.cli import main

    assert attacker.cert_path is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(attacker.cert_path))
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    db = tmp_path / "c.db"
    result = CliRunner().invoke(
        main,
        [
            "connect",
            "pipedrive",
            "--field",
            f"api_token={SECRET}",
            "--var",
            f"company={_authority(attacker)}#",
            "--store",
            str(db),
        ],
    )
    assert_never_received(attacker, SECRET)
    assert result.exit_code == 3, result.output
    assert "company" in result.output and SECRET not in result.output
    assert SQLiteTokenStore(db, Encryptor([KEY])).list() == []


def test_cli_test_connection_refuses_a_stored_hostile_subdomain(
    attacker: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A connection stored before the fix (or written by another tool) is refused at use."""
    from patchbay.cli import main

    assert attacker.cert_path is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(attacker.cert_path))
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    db = tmp_path / "c.db"
    stored = SQLiteTokenStore(db, Encryptor([KEY])).create(
        StoredConnection(
            "",
            "zendesk",
            "api_token",
            variables={"subdomain": f"{_authority(attacker)}/#"},
            credentials={"email": "agent@example.test", "api_token": SECRET},
        )
    )
    result = CliRunner().invoke(main, ["test-connection", stored.id, "--store", str(db)])
    assert_never_received(attacker, SECRET)
    assert result.exit_code == 1, result.output
    assert "subdomain" in result.output and SECRET not in result.output


def test_zendesk_oauth_code_exchange_never_posts_the_client_secret_elsewhere(
    attacker: Origin, tmp_path: Path
) -> None:
    from patchbay.runtime.accounts._connect import connect_oauth

    store = SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))
    browsed: list[str] = []

    def browser(url: str) -> None:
        # The user "approves" at once: the redirect comes back with the right state.
        browsed.append(url)
        # A "#" in the subdomain moves the query into the fragment: read it wherever it is.
        query = dict(parse_qsl(url.rsplit("?", 1)[1]))
        httpx.get(query["redirect_uri"], params={"code": "c0de", "state": query["state"]})

    def attack() -> None:
        connect_oauth(
            ZENDESK,
            store,
            OAuthClient("client_FAKE_id", CLIENT_SECRET),
            open_url=browser,
            variables={"subdomain": f"{_authority(attacker)}/#"},
            transport=httpx.HTTPTransport(verify=_trust(attacker)),
            timeout=10,
        )

    error = _outcome(attack)
    assert_never_received(attacker, CLIENT_SECRET, "c0de")
    _refused(error, "subdomain")
    assert browsed == [] and store.list() == []


class _LoopbackOnly(httpx.BaseTransport):
    """Sends login.salesforce.com to the loopback vendor; refuses any non-loopback host, so
    no test can ever reach a real vendor."""

    def __init__(self, vendor: Origin, context: ssl.SSLContext) -> None:
        self._vendor = httpx.URL(vendor.url)
        self._inner = httpx.HTTPTransport(verify=context)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "login.salesforce.com":
            request.url = request.url.copy_with(
                scheme=self._vendor.scheme, host=self._vendor.host, port=self._vendor.port
            )
            request.headers["Host"] = request.url.netloc.decode("ascii")
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"test transport: {request.url.host} is not loopback")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_salesforce_instance_url_from_the_token_response_is_checked(
    tmp_path: Path, scheme: str
) -> None:
    """The token endpoint (the vendor, or whoever answers for it) names another host or a plain
    http origin as instance_url: the bearer token must not follow."""
    from patchbay.runtime.accounts._connect import connect_oauth

    (tmp_path / "vendor").mkdir()
    (tmp_path / "evil").mkdir()
    evil_folder = tmp_path / "evil" if scheme == "https" else None
    with origin(_welcome, tls_folder=evil_folder) as evil:

        def token_endpoint(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
            body = {"access_token": SECRET, "instance_url": evil.url, "token_type": "Bearer"}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        with origin(token_endpoint, tls_folder=tmp_path / "vendor") as vendor:
            store = SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))

            def browser(url: str) -> None:
                query = dict(parse_qsl(urlsplit(url).query))
                httpx.get(query["redirect_uri"], params={"code": "c0de", "state": query["state"]})

            def attack() -> None:
                connect_oauth(
                    SALESFORCE,
                    store,
                    OAuthClient("client_FAKE_id", CLIENT_SECRET),
                    open_url=browser,
                    transport=_LoopbackOnly(vendor, _trust(vendor, evil)),
                    timeout=10,
                )

            error = _outcome(attack)
            assert_never_received(evil, SECRET, CLIENT_SECRET)
            assert len(vendor.requests) == 1  # the code exchange, nothing after it
    _refused(error, "instance_url")
    assert store.list() == []


def test_salesforce_stored_instance_url_on_another_host_is_refused(attacker: Origin) -> None:
    connection = Connection(
        "salesforce",
        auth="oauth2",
        variables={"instance_url": attacker.url},
        token_provider=StaticTokenProvider(SECRET),
    )

    def attack() -> None:
        transport = httpx.HTTPTransport(verify=_trust(attacker))
        with GenericExecutor(SALESFORCE, connection, transport=transport) as salesforce:
            salesforce.call("query", {"q": "SELECT Id FROM Account"})

    error = _outcome(attack)
    assert_never_received(attacker, SECRET)
    _refused(error, "instance_url")


def test_twilio_account_sid_cannot_climb_to_another_path(tmp_path: Path) -> None:
    """``../../x#`` in the account SID: the request would go to /x on the vendor's own host."""
    doc = json.loads((ROOT / "specs/twilio.json").read_text())
    with origin(_welcome, tls_folder=tmp_path) as vendor:
        doc["connection"]["base_url"] = doc["connection"]["base_url"].replace(
            "https://api.twilio.com", vendor.url
        )
        twilio = parse_spec(doc)
        connection = Connection(
            "twilio",
            auth="auth_token",
            variables={"account_sid": "../../x#"},
            credentials={"auth_token": SECRET},
        )

        def attack() -> None:
            transport = httpx.HTTPTransport(verify=_trust(vendor))
            with GenericExecutor(twilio, connection, transport=transport) as ex:
                ex.call("list_messages")

        error = _outcome(attack)
        assert [r.path for r in vendor.requests] == []
    _refused(error, "account_sid")


# ------------------------------------------------------------------- 2. paging elsewhere


def _link(next_url: str) -> tuple[dict[str, str], Any]:
    return {"Link": f'<{next_url}>; rel="next"'}, [{"id": 1, "number": 1}]


#: Per paging style: (spec, action, input, base path, page builder giving (headers, body)).
PagingCase = tuple[Any, str, dict[str, Any], str, Callable[[str], tuple[dict[str, str], Any]]]

PAGING: dict[str, PagingCase] = {
    "github-link": (
        GITHUB,
        "list_issues",
        {"owner": "o", "repo": "r"},
        "",
        _link,
    ),
    "zendesk-links.next": (
        ZENDESK,
        "list_tickets",
        {},
        "/api/v2",
        lambda nxt: (
            {},
            {"tickets": [{"id": 1}], "links": {"next": nxt}, "meta": {"has_more": True}},
        ),
    ),
    "salesforce-nextRecordsUrl": (
        SALESFORCE,
        "query",
        {"q": "SELECT Id FROM Account"},
        "/services/data/v66.0",
        lambda nxt: ({}, {"records": [{"Id": "001"}], "done": False, "nextRecordsUrl": nxt}),
    ),
    "twilio-next_page_uri": (
        load_spec(ROOT / "specs/twilio.json"),
        "list_messages",
        {},
        "/2010-04-01/Accounts/AC00000000000000000000000000000000",
        lambda nxt: ({}, {"messages": [{"sid": "SM1"}], "next_page_uri": nxt}),
    ),
    "mailgun-paging.next": (
        load_spec(ROOT / "specs/mailgun.json"),
        "list_events",
        {"domain_name": "mg.example.test"},
        "",
        lambda nxt: ({}, {"items": [{"id": "e1"}], "paging": {"next": nxt}}),
    ),
}

#: Where the next page is said to be, given the attacker's https and http origins.
ELSEWHERE: dict[str, Callable[[Origin, Origin], str]] = {
    "https-other-host": lambda tls, plain: f"{tls.url}/next?page=2",
    "protocol-relative": lambda tls, plain: f"//{_authority(tls)}/next?page=2",
    "plain-http": lambda tls, plain: f"{plain.url}/next?page=2",
}


def _connection_for(spec: Any) -> Connection:
    name = spec.name
    variant = spec.auth[0]
    if variant.type == "oauth2":
        return Connection(name, auth=variant.name, token_provider=StaticTokenProvider(SECRET))
    creds = {field: SECRET for field in variant.fields}
    if name == "twilio":
        creds = {"auth_token": SECRET}
        return Connection(
            name,
            auth="auth_token",
            variables={"account_sid": "AC" + "0" * 32},
            credentials=creds,
        )
    return Connection(name, auth=variant.name, credentials=creds)


@pytest.mark.parametrize("where", sorted(ELSEWHERE))
@pytest.mark.parametrize("case", sorted(PAGING))
def test_paging_never_follows_a_next_page_to_another_origin(
    tmp_path: Path, case: str, where: str
) -> None:
    spec, action, data, base_path, page = PAGING[case]
    (tmp_path / "vendor").mkdir()
    (tmp_path / "evil").mkdir()
    with (
        origin(_welcome, tls_folder=tmp_path / "evil") as evil,
        origin(_welcome) as plain,
    ):
        target = ELSEWHERE[where](evil, plain)

        def vendor_page(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
            headers, body = page(target)
            return 200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()

        with origin(vendor_page, tls_folder=tmp_path / "vendor") as vendor:

            def attack() -> None:
                transport = httpx.HTTPTransport(verify=_trust(vendor, evil))
                base = vendor.url + base_path
                with GenericExecutor(
                    spec, _connection_for(spec), transport=transport, base_url=base
                ) as ex:
                    ex.paginate(action, data, max_pages=5).all()

            error = _outcome(attack)
            assert len(vendor.requests) == 1
        assert_never_received(evil, SECRET)
        assert_never_received(plain, SECRET)
        assert evil.requests == [] and plain.requests == []
    _refused(error, "127.0.0.1")


def test_async_paging_never_follows_a_link_to_another_origin(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "evil").mkdir()
    with origin(_welcome, tls_folder=tmp_path / "evil") as evil:

        def vendor_page(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
            headers, body = _link(f"{evil.url}/repos/o/r/issues?page=2")
            return 200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()

        with origin(vendor_page, tls_folder=tmp_path / "vendor") as vendor:

            async def attack() -> None:
                transport = httpx.AsyncHTTPTransport(verify=_trust(vendor, evil))
                async with AsyncGenericExecutor(
                    GITHUB, _connection_for(GITHUB), transport=transport, base_url=vendor.url
                ) as gh:
                    await gh.paginate("list_issues", {"owner": "o", "repo": "r"}).all()

            error = _outcome(lambda: asyncio.run(attack()))
        assert_never_received(evil, SECRET)
    _refused(error, "127.0.0.1")


def test_cli_call_all_pages_never_follows_a_link_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchbay.cli import main

    with origin(_welcome) as evil:

        def vendor_page(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
            headers, body = _link(f"{evil.url}/repos/o/r/issues?page=2")
            return 200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()

        with origin(vendor_page, tls_folder=tmp_path) as vendor:
            assert vendor.cert_path is not None
            monkeypatch.setenv("SSL_CERT_FILE", str(vendor.cert_path))
            result = CliRunner().invoke(
                main,
                [
                    "call",
                    "github",
                    "list_issues",
                    "--input",
                    '{"owner": "o", "repo": "r"}',
                    "--base-url",
                    vendor.url,
                    "--field",
                    f"token={SECRET}",
                    "--all-pages",
                ],
            )
        assert_never_received(evil, SECRET)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: [bad_response]") and "127.0.0.1" in result.output


@pytest.mark.parametrize("vary", ["fragment", "query-order"])
def test_a_next_url_varying_only_its_fragment_or_query_order_is_a_loop(
    tmp_path: Path, vary: str
) -> None:
    """Before: each page named "another" URL (#1, #2, ...) and paging ran to the hard cap."""
    count = iter(range(1, 1_000_000))

    def looping(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
        n = next(count)
        if vary == "fragment":
            nxt = f"{url}/repos/o/r/issues?page=2#{n}"
        else:
            names = ["a", "b", "c", "d", "e", "f"]
            turned = names[n % 6 :] + names[: n % 6]  # six orders of the same six parameters
            nxt = f"{url}/repos/o/r/issues?" + "&".join(f"{k}=1" for k in turned)
        headers, body = _link(nxt)
        return 200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()

    with origin(looping, tls_folder=tmp_path) as vendor:

        def attack() -> None:
            with GenericExecutor(
                GITHUB,
                _connection_for(GITHUB),
                transport=httpx.HTTPTransport(verify=_trust(vendor)),
                base_url=vendor.url,
                options=ExecutorOptions(max_pages_hard_cap=40),
            ) as gh:
                gh.paginate("list_issues", {"owner": "o", "repo": "r"}).all()

        error = _outcome(attack)
        received = len(vendor.requests)
    _refused(error, "repeated")
    assert received == 2, f"{received} pages fetched before the loop was seen"


# ------------------------------------------------ 3. the rules behind the refusals, one by one

_HOSTILE_PIECES = st.sampled_from(
    [
        "#",
        "/",
        "?",
        "@",
        ":",
        "\\",
        "%2f",
        "%2F",
        "..",
        ".",
        "\r",
        "\n",
        "\t",
        " ",
        "é",
        "\uff21",  # fullwidth A (NFKC folds it to A)
        "\u0131",  # dotless i (uppercases to I)
        "\u2028",
        "a",
        "b",
        "0",
        "-",
        "_",
        "127.0.0.1",
        ":443",
        "evil.test",
        "%00",
        "[",
        "]",
    ]
)
HOSTILE_VALUES = st.one_of(st.text(max_size=40), st.lists(_HOSTILE_PIECES, max_size=8).map("".join))


def _untrusted(name: str) -> bool:
    return False


def _refuse(name: str, why: str) -> Exception:
    return ConfigError(f"{name} {why}")


def _missing(name: str) -> Exception:
    return ConfigError(f"{name} missing")


@settings(max_examples=400, deadline=None)
@given(value=HOSTILE_VALUES)
def test_a_host_placeholder_stays_one_label_of_the_templates_host(value: str) -> None:
    try:
        url = render_url(
            "https://{subdomain}.zendesk.com/api/v2",
            {"subdomain": value},
            trusted=_untrusted,
            refuse=_refuse,
            missing=_missing,
        )
    except PatchbayError:
        return
    parsed = httpx.URL(url)
    assert parsed.scheme == "https" and parsed.port is None and not parsed.userinfo
    assert parsed.host == f"{value.lower()}.zendesk.com" and "." not in value
    assert parsed.raw_path == b"/api/v2" and not parsed.query and not parsed.fragment


@settings(max_examples=400, deadline=None)
@given(value=HOSTILE_VALUES)
def test_a_path_placeholder_stays_one_segment(value: str) -> None:
    template = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages.json"
    try:
        url = render_url(
            template, {"account_sid": value}, trusted=_untrusted, refuse=_refuse, missing=_missing
        )
    except PatchbayError:
        return
    parsed = httpx.URL(url)
    assert (parsed.scheme, parsed.host, parsed.port) == ("https", "api.twilio.com", None)
    segments = parsed.raw_path.split(b"/")
    assert len(segments) == 5 and segments[:3] == [b"", b"2010-04-01", b"Accounts"]
    assert segments[4] == b"Messages.json" and segments[3] not in (b"", b".", b"..")
    assert not parsed.query and not parsed.fragment


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(HOSTILE_VALUES, HOSTILE_VALUES.map(lambda v: f"https://{v}")))
def test_a_whole_origin_placeholder_is_exactly_an_https_origin(value: str) -> None:
    try:
        url = render_url(
            "{instance_url}/services/data/v66.0",
            {"instance_url": value},
            trusted=_untrusted,
            refuse=_refuse,
            missing=_missing,
        )
    except PatchbayError:
        return
    parsed = httpx.URL(url)
    assert parsed.scheme == "https" and not parsed.userinfo
    assert value.startswith("https://") and https_origin(value) == (parsed.host, parsed.port)
    assert parsed.raw_path == b"/services/data/v66.0"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE_VALUES)
def test_zendesk_through_the_executor_either_refuses_or_stays_on_zendesk(value: str) -> None:
    """The real path: variable checks, the checked base URL and httpx, for any subdomain."""
    sent: list[httpx.URL] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(200, json={"tickets": []})

    connection = Connection(
        "zendesk",
        auth="api_token",
        variables={"subdomain": value},
        credentials={"email": "agent@example.test", "api_token": SECRET},
    )
    try:
        with GenericExecutor(ZENDESK, connection, transport=httpx.MockTransport(vendor)) as z:
            z.call("list_tickets")
    except PatchbayError as exc:
        assert SECRET not in str(exc) and sent == []
        return
    assert [u.host for u in sent] == [f"{value}.zendesk.com"]


def _recording(
    reply: Callable[[httpx.Request], httpx.Response] | None = None,
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return reply(request) if reply is not None else httpx.Response(200, json={})

    return sent, httpx.MockTransport(handler)


SLACK = load_spec(ROOT / "specs/slack.json")
STRIPE = load_spec(ROOT / "specs/stripe.json")
SINK = load_spec(ROOT / "tests/data/kitchen_sink.json")


@pytest.mark.parametrize(
    ("spec", "auth", "credentials", "words"),
    [
        (STRIPE, "api_key", {"api_key": "sk_"}, "too short"),
        (STRIPE, "api_key", {"api_key": "sk_test_FAKE\r\nX-Evil: 1"}, "control characters"),
        (STRIPE, "api_key", {"api_key": "sk_test_FAKE_tök"}, "printable ASCII"),
        (SLACK, "bot_token", {"bot_token": "xoxp-FAKE-user-token"}, "must match ^xoxb-"),
        (ZENDESK, "api_token", {"email": "not-an-address", "api_token": SECRET}, "e-mail"),
    ],
)
def test_credentials_are_checked_before_anything_is_sent(
    spec: Any, auth: str, credentials: dict[str, str], words: str
) -> None:
    sent, transport = _recording()
    variables = {"subdomain": "acme"} if spec.name == "zendesk" else {}
    connection = Connection(spec.name, auth=auth, variables=variables, credentials=credentials)
    with pytest.raises(ConfigError) as info:
        GenericExecutor(spec, connection, transport=transport)
    assert sent == [] and words in str(info.value)
    assert any(f"credential {name!r}" in str(info.value) for name in credentials)
    for value in credentials.values():
        if value != "not-an-address":
            assert value not in str(info.value) and value not in repr(info.value)


def test_a_non_ascii_password_is_fine_in_basic_auth() -> None:
    """Basic credentials travel base64-encoded: only header-borne values must be ASCII."""
    sent, transport = _recording(lambda r: httpx.Response(200, json={"tickets": []}))
    connection = Connection(
        "zendesk",
        auth="api_token",
        variables={"subdomain": "acme"},
        credentials={"email": "agent@example.test", "api_token": "FAKEtökén0000"},
    )
    with GenericExecutor(ZENDESK, connection, transport=transport) as zendesk:
        zendesk.call("list_tickets")
    assert [r.url.host for r in sent] == ["acme.zendesk.com"]


def test_connect_with_a_refused_credential_stores_and_sends_nothing(tmp_path: Path) -> None:
    from patchbay.runtime.accounts._connect import connect_api_key

    store = SQLiteTokenStore(tmp_path / "c.db", Encryptor([KEY]))
    sent, transport = _recording()
    with pytest.raises(ConfigError, match="credential 'api_key' is too short"):
        connect_api_key(
            STRIPE,
            store,
            auth="api_key",
            credentials={"api_key": "sk"},
            variables={},
            transport=transport,
        )
    assert sent == [] and store.list() == []


@pytest.mark.parametrize(
    "bad", ["http://exa mple.test", "ftp://files.test", "http://a\r\nb.test", "/v1"]
)
def test_cli_reports_a_bad_base_url_without_a_traceback(bad: str) -> None:
    from patchbay.cli import main

    result = CliRunner().invoke(
        main,
        [
            "call",
            "github",
            "get_authenticated_user",
            "--base-url",
            bad,
            "--field",
            f"token={SECRET}",
        ],
    )
    assert result.exit_code == 3 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: [config]") and (
        "base URL" in result.output or "--base-url" in result.output
    )
    assert "Traceback" not in result.output and SECRET not in result.output


def test_a_value_outside_a_variables_map_is_a_config_error() -> None:
    mailgun = load_spec(ROOT / "specs/mailgun.json")
    connection = Connection(
        "mailgun", variables={"region": "evil.test"}, credentials={"api_key": SECRET}
    )
    with pytest.raises(ConfigError, match="'region' must be one of"):
        GenericExecutor(mailgun, connection)


def test_a_path_variable_without_a_pattern_is_one_encoded_segment() -> None:
    spec = make_spec(
        [{"name": "list_things", "method": "GET", "path": "/things"}],
        connection={
            "base_url": "https://api.acme.test/{tenant}/v1",
            "variables": {"tenant": {"description": "Tenant path segment."}},
        },
    )
    sent, transport = _recording()
    connection = Connection(
        "acme", variables={"tenant": "../../x#"}, credentials={"api_key": SECRET}
    )
    with GenericExecutor(spec, connection, transport=transport) as acme:
        acme.call("list_things")
    assert [r.url.raw_path for r in sent] == [b"/..%2F..%2Fx%23/v1/things"]
    assert sent[0].url.host == "api.acme.test"


def _sink_pages(link: str) -> tuple[list[httpx.Request], httpx.MockTransport]:
    def reply(request: httpx.Request) -> httpx.Response:
        if "page=2" in str(request.url):
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"id": "1"}], headers={"Link": f'<{link}>; rel="next"'})

    return _recording(reply)


def _sink() -> Connection:
    return Connection(
        "kitchen_sink",
        auth="key",
        variables={"instance_url": "https://na1.example.test", "subdomain": "acme"},
        credentials={"api_key": SECRET},
    )


def test_a_documented_second_origin_is_followed_and_others_are_not() -> None:
    """``connection.allowed_origins`` lists the kitchen sink's file host."""
    sent, transport = _sink_pages("https://files.example.test/list?page=2")
    with GenericExecutor(SINK, _sink(), transport=transport) as sink:
        assert sink.paginate("list_linked").all() == [{"id": "1"}]
    assert [r.url.host for r in sent] == ["na1.example.test", "files.example.test"]
    for elsewhere in (
        "https://evil.example.test/list?page=2",
        "http://na1.example.test/list?page=2",  # a downgrade of the very same host
        "https://na1.example.test:8443/list?page=2",
        "//evil.example.test/list?page=2",
    ):
        sent, transport = _sink_pages(elsewhere)
        with (
            GenericExecutor(SINK, _sink(), transport=transport) as sink,
            pytest.raises(BadResponse, match="another origin") as info,
        ):
            sink.paginate("list_linked").all()
        assert len(sent) == 1 and "page=2" not in str(info.value)


def test_a_relative_next_url_stays_on_the_base_urls_origin() -> None:
    sent, transport = _sink_pages("/services/data/v61.0/linked?page=2")
    with GenericExecutor(SINK, _sink(), transport=transport) as sink:
        sink.paginate("list_linked").all()
    assert [str(r.url) for r in sent][
        1
    ] == "https://na1.example.test/services/data/v61.0/linked?page=2"


def test_a_repeated_next_url_is_reported_without_its_query() -> None:
    """The query of a next URL may carry a token: the loop error names the path only."""
    sent, transport = _sink_pages("https://na1.example.test/x?sig=FAKEsignature0000#a")

    def reply(request: httpx.Request) -> httpx.Response:
        link = '<https://na1.example.test/x?sig=FAKEsignature0000#b>; rel="next"'
        return httpx.Response(200, json=[{"id": "1"}], headers={"Link": link})

    sent, transport = _recording(reply)
    with (
        GenericExecutor(SINK, _sink(), transport=transport) as sink,
        pytest.raises(BadResponse, match="repeated") as info,
    ):
        sink.paginate("list_linked").all()
    assert len(sent) == 2 and "FAKEsignature0000" not in str(info.value)


@pytest.mark.parametrize(
    "instance_url",
    [
        "https://evil.test",
        "http://acme.my.salesforce.com",
        "https://acme.my.salesforce.com.evil.test",
        "https://acme.my.salesforce.com/path",
        "https://user@acme.my.salesforce.com",
        "https://acme.my.salesforce.com\n",
        {"nested": "https://acme.my.salesforce.com"},
    ],
)
def test_a_token_responses_instance_url_is_checked(instance_url: Any) -> None:
    from patchbay.runtime.accounts._oauth import oauth_variant, read_token_response

    body = {"access_token": SECRET, "instance_url": instance_url}
    with pytest.raises(BadResponse, match="'instance_url'") as info:
        read_token_response(SALESFORCE, oauth_variant(SALESFORCE), httpx.Response(200, json=body))
    assert SECRET not in str(info.value)


def test_a_good_instance_url_is_kept() -> None:
    from patchbay.runtime.accounts._oauth import oauth_variant, read_token_response

    body = {"access_token": SECRET, "instance_url": "https://acme--uat.sandbox.my.salesforce.com"}
    tokens = read_token_response(
        SALESFORCE, oauth_variant(SALESFORCE), httpx.Response(200, json=body)
    )
    assert tokens.variables == {"instance_url": "https://acme--uat.sandbox.my.salesforce.com"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["connection"]["variables"]["subdomain"].pop("pattern"),
            "needs a pattern, enum or map",
        ),
        (
            lambda d: d["connection"]["variables"]["subdomain"].update(pattern="(["),
            "not a valid regular",
        ),
        (
            lambda d: d["connection"]["variables"]["subdomain"].update(example="Not Valid"),
            "the example must match",
        ),
        (
            lambda d: d["connection"].update(
                base_url="https://{subdomain}.zendesk.com/api?x={subdomain}"
            ),
            "unsafe URL template",
        ),
        (
            lambda d: d["connection"].update(base_url="https://api.zendesk.com?sub={subdomain}"),
            "not the query",
        ),
        (
            lambda d: d["connection"].update(base_url="https://x.zendesk.com:{subdomain}/"),
            "unsafe URL template",
        ),
        (
            lambda d: d["auth"][0].update(token_url="{subdomain}.zendesk.com/oauth/tokens"),
            "whole origin",
        ),
    ],
)
def test_semantic_checks_hold_base_url_variables_to_a_declared_shape(
    change: Callable[[dict[str, Any]], object], problem: str
) -> None:
    doc = json.loads((ROOT / "specs/zendesk.json").read_text())
    change(doc)
    with pytest.raises(SpecInvalid) as info:
        parse_spec(doc)
    assert problem in str(info.value)


def test_a_whole_origin_variable_needs_a_pattern_and_mapped_hosts_must_be_hosts() -> None:
    doc = json.loads((ROOT / "specs/salesforce.json").read_text())
    doc["connection"]["variables"]["instance_url"].pop("pattern")
    doc["connection"]["variables"]["environment"]["map"]["sandbox"] = "evil.test/#"
    with pytest.raises(SpecInvalid) as info:
        parse_spec(doc)
    text = str(info.value)
    assert "is the whole origin of /connection/base_url: it needs a pattern" in text
    assert "'evil.test/#' is not a host name" in text


def test_a_redirect_is_never_followed_even_by_a_callers_client_that_would() -> None:
    """The caller may hand the executor an ``httpx.Client(follow_redirects=True)``; a vendor's
    302 to another origin must still not carry the credentials there."""
    spec = load_spec(ROOT / "specs/github.json")
    with origin() as attacker:

        def vendor(seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": attacker.url + "/steal"}, b""

        with origin(vendor) as fake_vendor:
            client = httpx.Client(follow_redirects=True)
            connection = Connection("github", credentials={"token": SECRET})
            gh = GenericExecutor(spec, connection, client=client, base_url=fake_vendor.url)
            with gh, pytest.raises(PatchbayError):
                gh.call("get_authenticated_user")
            client.close()
            assert len(fake_vendor.requests) >= 1
    assert attacker.requests == []
    assert_never_received(attacker, SECRET)
