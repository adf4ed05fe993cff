"""The contract suite (one test per golden fixture) and the spec-driven mock's behaviour."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from syrupy.assertion import SnapshotAssertion

from patchbay.mocks.contract import contract_cases, fixture_variables, missing_fixtures, run_case
from patchbay.mocks.golden import FixtureRequest
from patchbay.mocks.server import SCENARIOS, MockOptions, MockServer, default_credentials
from patchbay.mocks.vendor_errors import error_response
from patchbay.runtime import (
    AsyncGenericExecutor,
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
    load_spec,
)
from patchbay.runtime.http._error_mapping import ErrorMapper
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
CASES = contract_cases(REGISTRY)


def test_every_action_of_every_spec_has_a_golden_fixture() -> None:
    assert CASES, "there are golden fixtures"
    assert missing_fixtures(REGISTRY) == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract(case: Any, snapshot: SnapshotAssertion) -> None:
    result = run_case(REGISTRY.get(case.connector), case)
    assert result.problems == []
    assert result.record == snapshot


def test_fixture_variables_read_the_account_sid_off_a_twilio_fixture_path() -> None:
    """The mock must be configured for the account the fixture's path names, or it 404s."""
    spec = REGISTRY.get("twilio")
    case = next(c for c in CASES if c.connector == "twilio" and c.action == "get_message")
    fixture = case.fixture
    sid = fixture.request.path.split("/")[3]
    assert sid.startswith("AC") and sid != "mock_account_sid"
    assert fixture_variables(spec, spec.action("get_message"), fixture) == {"account_sid": sid}
    # A path under another account carries that account; one no route answers keeps the fake.
    other = fixture.request.path.replace(sid, "AC_other")
    moved = fixture.model_copy(update={"request": FixtureRequest(method="GET", path=other)})
    assert fixture_variables(spec, spec.action("get_message"), moved) == {"account_sid": "AC_other"}
    stray = fixture.model_copy(update={"request": FixtureRequest(method="GET", path="/nowhere")})
    assert fixture_variables(spec, spec.action("get_message"), stray) == {
        "account_sid": spec.connection.variables["account_sid"].example
    }


def test_fixture_variables_keep_defaults_for_variables_no_path_carries() -> None:
    salesforce = REGISTRY.get("salesforce")
    case = next(c for c in CASES if c.connector == "salesforce")
    found = fixture_variables(salesforce, salesforce.action(case.action), case.fixture)
    example = salesforce.connection.variables["instance_url"].example
    assert found == {"instance_url": example, "environment": "production"}
    mailgun = REGISTRY.get("mailgun")
    case = next(c for c in CASES if c.connector == "mailgun")
    assert fixture_variables(mailgun, mailgun.action(case.action), case.fixture) == {"region": "us"}


def _executor(spec_name: str, server: MockServer, **kw: Any) -> GenericExecutor:
    spec = server.spec
    creds = dict(server.credentials)
    variant = spec.auth[0]
    conn = Connection(spec_name, credentials={k: creds[k] for k in variant.fields})
    return GenericExecutor(spec, conn, transport=server.transport(), sleep=lambda s: None, **kw)


@pytest.mark.parametrize("name", REGISTRY.names())
def test_every_error_code_the_spec_declares_round_trips(name: str) -> None:
    spec = REGISTRY.get(name)
    mapper = ErrorMapper(spec)
    codes = sorted({rule.code for rule in spec.errors.rules})
    assert codes
    for code in codes:
        shaped = error_response(spec, code, "mock says no", retry_after=2)
        assert shaped is not None, code
        status, headers, body = shaped
        response = httpx.Response(status, headers=headers, json=body)
        error = mapper.classify(response, body, connector=name, action="x")
        assert error is not None and error.code == code, (code, status, body)


@pytest.mark.parametrize(
    ("name", "credentials", "expected_status", "body_check"),
    [
        ("stripe", {"api_key": "sk_test_WRONG"}, 401, lambda b: "error" in b),
        ("github", {"token": "ghp_WRONG"}, 401, lambda b: "message" in b),
        (
            "slack",
            {"bot_token": "xoxb-WRONG"},
            200,
            lambda b: b == {"ok": False, "error": "invalid_auth"},
        ),
    ],
)
def test_wrong_credentials_get_the_vendor_shaped_auth_error(
    name: str, credentials: dict[str, str], expected_status: int, body_check: Any
) -> None:
    spec = REGISTRY.get(name)
    server = MockServer(spec, MockOptions(golden_root=None))
    ex = GenericExecutor(
        spec, Connection(name, credentials=credentials), transport=server.transport()
    )
    with pytest.raises(PatchbayError) as info:
        ex.call(spec.test_connection and spec.actions[0].name, _required_input(spec.actions[0]))
    assert info.value.code == "auth_invalid"
    assert info.value.status == expected_status
    # The mock answered the request (it was not refused before reaching it).
    assert len(server.requests) == 1


def _required_input(action: Any) -> dict[str, Any]:
    return {p.name: "mock" for p in action.parameters if p.required and p.in_ == "path"}


def test_stateful_rest_resources_on_stripe() -> None:
    spec = REGISTRY.get("stripe")
    server = MockServer(spec, MockOptions(golden_root=None, records=3))
    ex = _executor("stripe", server)
    created = ex.call("create_customer", {"email": "state@example.test", "name": "State"})
    cid = created["id"]
    assert ex.call("get_customer", {"customer": cid})["email"] == "state@example.test"
    listed = ex.paginate("list_customers").all()
    assert listed[0]["id"] == cid and len(listed) == 4
    ex.call("update_customer", {"customer": cid, "name": "Renamed"})
    assert ex.call("get_customer", {"customer": cid})["name"] == "Renamed"
    ex.call("delete_customer", {"customer": cid})
    with pytest.raises(PatchbayError) as info:
        ex.call("get_customer", {"customer": cid})
    assert info.value.code == "not_found" and info.value.status == 404
    assert [c["id"] for c in ex.paginate("list_customers").all()].count(cid) == 0


def test_stateful_rest_resources_on_github() -> None:
    spec = REGISTRY.get("github")
    server = MockServer(spec, MockOptions(golden_root=None, records=2))
    ex = _executor("github", server)
    repo = {"owner": "octo-fake", "repo": "state"}
    issue = ex.call("create_issue", {**repo, "title": "Stateful"})
    number = issue["number"]
    assert ex.call("get_issue", {**repo, "issue_number": number})["title"] == "Stateful"
    ex.call("update_issue", {**repo, "issue_number": number, "state": "closed"})
    assert ex.call("get_issue", {**repo, "issue_number": number})["state"] == "closed"
    titles = [i["title"] for i in ex.paginate("list_issues", {**repo, "state": "all"}).all()]
    assert titles[0] == "Stateful" and len(titles) == 3
    # Closed now, so GitHub's default listing (open issues) leaves it out; state=closed has it.
    assert "Stateful" not in [i["title"] for i in ex.paginate("list_issues", repo).all()]
    closed = ex.paginate("list_issues", {**repo, "state": "closed"}).all()
    assert "Stateful" in [i["title"] for i in closed]


SINK = load_spec(ROOT / "tests/data/kitchen_sink.json")


@pytest.mark.parametrize(
    "action", [a.name for a in SINK.actions if a.pagination is not None and a.auth is None]
)
def test_mock_pages_in_every_style_of_the_format(action: str) -> None:
    server = MockServer(
        SINK,
        MockOptions(golden_root=None, records=23, variables={"instance_url": "https://x.test"}),
    )
    spec_action = SINK.action(action)
    conn = Connection(
        "kitchen_sink",
        auth="key",
        variables={"instance_url": "https://x.test", "subdomain": "demo"},
        credentials={"api_key": server.credentials["api_key"]},
    )
    ex = GenericExecutor(SINK, conn, transport=server.transport())
    size = 10
    data = (
        {"path": ""}
        if spec_action.body is not None and "path" in spec_action.body.schema_.get("properties", {})
        else {}
    )
    pages = list(ex.paginate(action, data, page_size=size).pages())
    counts = [len(p.items) for p in pages if p.items]
    assert counts[:3] == [10, 10, 3], (action, [len(p.items) for p in pages])
    assert sum(counts) == 23


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fault_scenarios(scenario: str) -> None:
    spec = REGISTRY.get("github")
    server = MockServer(spec, MockOptions(golden_root=None, slow_seconds=5.0))
    ex = _executor(
        "github",
        server,
        options=ExecutorOptions(retry=RetryPolicy(max_attempts=1), timeout=httpx.Timeout(1.0)),
    )
    expected = {
        "rate_limited": "rate_limited",
        "server_error": "upstream_unavailable",
        "unavailable": "upstream_unavailable",
        "slow": "timeout",
        "malformed": "bad_response",
        "expired_token": "auth_invalid",
        "drop": "network",
    }[scenario]
    from patchbay.runtime import CallOptions

    with pytest.raises(PatchbayError) as info:
        ex.call(
            "get_authenticated_user", {}, CallOptions(extra_headers={"X-Mock-Scenario": scenario})
        )
    assert info.value.code == expected
    assert (
        server.requests[-1].headers.get(
            "X-Mock-Scenario", server.requests[-1].headers.get("x-mock-scenario")
        )
        == scenario
    )


def test_rate_limit_then_success_through_retries() -> None:
    spec = REGISTRY.get("slack")
    server = MockServer(spec, MockOptions(golden_root=None, scenario="rate_limited", retry_after=2))
    waits: list[float] = []
    creds = {"bot_token": server.credentials["bot_token"]}
    ex = GenericExecutor(
        spec,
        Connection("slack", credentials=creds),
        transport=server.transport(),
        sleep=waits.append,
    )
    with pytest.raises(PatchbayError):
        ex.call("list_users", {"limit": 2})
    server.options.scenario = None
    assert ex.call("list_users", {"limit": 2}) is not None
    assert waits[:3] == [2.0, 2.0, 2.0]


def test_invalid_input_gets_the_vendor_validation_shape() -> None:
    spec = REGISTRY.get("github")
    server = MockServer(spec, MockOptions(golden_root=None))
    token = server.credentials["token"]
    response = server.handler(
        httpx.Request(
            "GET",
            "https://api.github.com/repos/o/r/issues?per_page=1000",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    body = json.loads(response.content)
    assert response.status_code == 422 and "per_page" in body["message"]


def test_asgi_app_serves_async_clients() -> None:
    spec = REGISTRY.get("stripe")
    server = MockServer(spec, MockOptions(golden_root=None, records=12))

    async def run() -> int:
        transport = httpx.ASGITransport(app=server.app)
        conn = Connection("stripe", credentials={"api_key": server.credentials["api_key"]})
        async with AsyncGenericExecutor(
            spec, conn, transport=transport, base_url="http://mock.test/v1"
        ) as ex:
            return len(await ex.paginate("list_customers", page_size=5).all())

    assert asyncio.run(run()) == 12
    assert [r.path for r in server.requests] == ["/v1/customers"] * 3


def test_same_seed_same_data_other_seed_other_data() -> None:
    spec = REGISTRY.get("github")

    def first_title(seed: int) -> Any:
        server = MockServer(spec, MockOptions(golden_root=None, seed=seed))
        return (
            _executor("github", server)
            .paginate("list_issues", {"owner": "o", "repo": "r"}, max_items=3)
            .all()
        )

    assert first_title(1) == first_title(1)
    assert first_title(1) != first_title(2)


def test_default_credentials_are_fake() -> None:
    for name in REGISTRY.names():
        spec = REGISTRY.get(name)
        values = default_credentials(spec)
        assert sorted(values) == sorted({f for v in spec.auth for f in v.fields})
        # The spec's obviously fake example where there is one (it passes the field's pattern).
        examples = {n: f.example for v in spec.auth for n, f in v.fields.items()}
        for field, value in values.items():
            assert value == (examples[field] or f"mock_{field}")
            fake = "FAKE" in value or value.startswith("mock_") or value.endswith(".test")
            assert fake or len(set(value[2:])) == 1, value  # SKaaaa...: a repeated character


def test_several_mocks_on_one_real_server() -> None:
    from patchbay.mocks.loopback import serve
    from patchbay.mocks.server import MountedMocks

    github = MockServer(
        REGISTRY.get("github"), MockOptions(golden_root=None, records=7, mount="/github")
    )
    slack = MockServer(
        REGISTRY.get("slack"), MockOptions(golden_root=None, records=3, mount="/slack")
    )
    with serve(MountedMocks([github, slack])) as origin:
        gh = GenericExecutor(
            github.spec,
            Connection("github", credentials={"token": github.credentials["token"]}),
            base_url=github.local_base_url(origin),
        )
        issues = gh.paginate(
            "list_issues", {"owner": "o", "repo": "r", "state": "all"}, page_size=3
        ).all()
        sl = GenericExecutor(
            slack.spec,
            Connection("slack", credentials={"bot_token": slack.credentials["bot_token"]}),
            base_url=slack.local_base_url(origin),
        )
        users = sl.paginate("list_users", {"limit": 2}).all()
    assert len(issues) == 7 and len(github.requests) == 3
    assert all(r.path == "/github/repos/o/r/issues" for r in github.requests)
    assert len(users) == 3 and all(r.path == "/slack/api/users.list" for r in slack.requests)


def test_contract_command_prints_the_table() -> None:
    from click.testing import CliRunner

    from patchbay.cli import main

    result = CliRunner().invoke(main, ["contract", "stripe", "slack"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[2:] if line}
    assert lines["stripe"][0] == str(len(REGISTRY.get("stripe").actions))
    assert lines["stripe"][3] == "0" and lines["slack"][3] == "0"
    assert int(lines["slack"][1]) == int(lines["slack"][2]) >= len(REGISTRY.get("slack").actions)


@pytest.mark.parametrize(
    ("content_type", "body", "path"),
    [
        ("application/x-www-form-urlencoded", b'{"not": "a form"', "/v1/customers"),
        ("application/json", b"{broken json", "/v1/customers"),
        ("text/plain", b"x" * 2_000_000, "/v1/customers"),
        ("application/json", b"{}", "/v1/no/such/endpoint"),
    ],
)
def test_bad_client_input_never_gets_a_500(content_type: str, body: bytes, path: str) -> None:
    spec = REGISTRY.get("stripe")
    server = MockServer(spec, MockOptions(golden_root=None))
    request = httpx.Request(
        "POST",
        f"https://api.stripe.com{path}",
        headers={
            "Authorization": f"Bearer {server.credentials['api_key']}",
            "Content-Type": content_type,
        },
        content=body,
    )
    response = server.handler(request)
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_a_fixture_that_breaks_its_schema_names_its_file(tmp_path: Path) -> None:
    from patchbay.mocks.contract import ContractCase
    from patchbay.mocks.golden import load_fixture

    source = ROOT / "golden/stripe/get_balance/documented.json"
    doc = json.loads(source.read_text())
    doc["response"]["body"]["available"] = "not a list"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    case = ContractCase("stripe", "get_balance", "broken", broken, load_fixture(broken))
    result = run_case(REGISTRY.get("stripe"), case)
    assert not result.ok
    assert any(
        p.startswith(f"{broken}: response body does not match") and "/available" in p
        for p in result.problems
    )


def _spec_executor(name: str, server: MockServer, **variables: str) -> GenericExecutor:
    """An executor on the first auth variant the mock has credentials for."""
    spec = server.spec
    variant = next(v for v in spec.auth if v.fields and set(v.fields) <= set(server.credentials))
    conn = Connection(
        name,
        auth=variant.name,
        variables=variables,
        credentials={k: server.credentials[k] for k in variant.fields},
    )
    return GenericExecutor(spec, conn, transport=server.transport(), sleep=lambda s: None)


def test_resource_effects_make_slacks_rpc_methods_stateful() -> None:
    server = MockServer(REGISTRY.get("slack"), MockOptions(golden_root=None, records=2))
    ex = _spec_executor("slack", server)
    posted = ex.call("post_message", {"channel": "C0FAKE1", "text": "hello state"})
    ts = posted["ts"]
    assert posted["channel"] == "C0FAKE1" and posted["message"]["ts"] == ts
    assert posted["message"]["text"] == "hello state"
    history = ex.paginate("list_messages", {"channel": "C0FAKE1"}).all()
    assert history[0]["ts"] == ts and len(history) == 3
    other = ex.paginate("list_messages", {"channel": "C0FAKE2"}).all()
    assert ts not in [m.get("ts") for m in other]  # posted in one channel only
    ex.call("update_message", {"channel": "C0FAKE1", "ts": ts, "text": "edited"})
    history = ex.paginate("list_messages", {"channel": "C0FAKE1"}).all()
    assert history[0]["text"] == "edited"
    ex.call("delete_message", {"channel": "C0FAKE1", "ts": ts})
    assert ts not in [m.get("ts") for m in ex.paginate("list_messages", {"channel": "C0FAKE1"})]
    with pytest.raises(PatchbayError) as info:
        ex.call("update_message", {"channel": "C0FAKE1", "ts": ts, "text": "again"})
    assert info.value.code == "not_found" and info.value.status == 200  # Slack's ok:false


def test_resource_effects_cover_twilio_trello_and_hubspot() -> None:
    twilio = MockServer(
        REGISTRY.get("twilio"),
        MockOptions(golden_root=None, records=1, variables={"account_sid": "AC" + "0" * 32}),
    )
    tw = _spec_executor("twilio", twilio, account_sid="AC" + "0" * 32)
    sent = tw.call("send_message", {"To": "+15005550006", "From": "+15005550001", "Body": "hi"})
    assert tw.call("get_message", {"sid": sent["sid"]})["sid"] == sent["sid"]
    assert tw.paginate("list_messages").all()[0]["sid"] == sent["sid"]

    trello = MockServer(REGISTRY.get("trello"), MockOptions(golden_root=None, records=1))
    tr = _spec_executor("trello", trello)
    card = tr.call("create_card", {"idList": "5abbe4b7ddc1b351ef961414", "name": "Stateful"})
    assert tr.call("get_card", {"id": card["id"]})["name"] == "Stateful"
    board = tr.paginate("list_board_cards", {"board_id": "5abbe4b7ddc1b351ef961400"}).all()
    assert board[0]["id"] == card["id"]

    hubspot = MockServer(REGISTRY.get("hubspot"), MockOptions(golden_root=None, records=1))
    hs = _spec_executor("hubspot", hubspot)
    contact = hs.call("create_contact", {"properties": {"email": "state@example.test"}})
    assert hs.call("get_contact", {"contactId": contact["id"]})["id"] == contact["id"]
    found = hs.paginate("search_contacts", {"limit": 10}).all()
    assert found[0]["id"] == contact["id"] and len(found) == 2


def test_a_map_with_digit_keys_survives_the_form_round_trip() -> None:
    """``metadata[0]=`` folds into a list on the wire; the schema says it is a map."""
    spec = REGISTRY.get("stripe")
    server = MockServer(spec, MockOptions(golden_root=None))
    ex = _executor("stripe", server)
    created = ex.call("create_customer", {"metadata": {"0": "", "1": "b"}})
    assert created["metadata"] == {"0": "", "1": "b"}
