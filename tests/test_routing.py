"""The one router the mock server, the recorder and replay share: every action of every spec is
found again from a URL built from its own templates; precedence, base-URL variables, encoding,
trailing slashes and query strings behave as documented in :mod:`mocks.routing`."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import spec_doc

from patchbay.mocks.recorder import Recorder
from patchbay.mocks.routing import PROBE, Router
from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime import parse_spec
from patchbay.runtime.http._templating import render, template_names
from patchbay.runtime.spec._model import Action, ConnectorSpec, ContinueEndpointPagination
from patchbay.runtime.spec._registry import SpecRegistry

REGISTRY = SpecRegistry()
SPECS = {name: REGISTRY.get(name) for name in REGISTRY.names()}
STRIPE = SPECS["stripe"]
#: Needs percent-encoding (space, "/", "?", non-ASCII): decoding is part of what is checked.
SAMPLE = "v 1/?é"
STAND_IN = "127.0.0.1:8443"


def _host_values(spec: ConnectorSpec) -> dict[str, str]:
    """Values for the base URL's variables as they appear in a real URL."""
    template = spec.connection.base_url
    values = {}
    for name in template_names(template):
        if template.startswith("{" + name + "}"):
            values[name] = "https://org-1.example.test"  # the whole origin
        elif template.startswith("https://{" + name + "}"):
            values[name] = "api.region-1.example.test"  # the whole host
        else:
            values[name] = f"{name}-1"
    return values


def _base_tail(spec: ConnectorSpec, template: str | None = None) -> str:
    """The base URL template after its origin (Twilio's ``/2010-04-01/Accounts/{account_sid}``)."""
    template = template or spec.connection.base_url
    rest = template.split("}", 1)[1] if template.startswith("{") else template.split("://")[1]
    return rest[rest.find("/") :] if "/" in rest else ""


def _routes(spec: ConnectorSpec) -> list[tuple[str, str, str, bool]]:
    """(method, path template, action name, continuation) of every action and continuation;
    where several share one method and path (Dropbox's list_folder/continue is an action and
    two listings' continue endpoint), the first in spec order answers, as the router says."""
    out: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    for action in spec.actions:
        out.setdefault(
            (action.method, action.path), (action.method, action.path, action.name, False)
        )
        pag = action.pagination
        if isinstance(pag, ContinueEndpointPagination):
            route = (pag.continue_method, pag.continue_path, action.name, True)
            out.setdefault((pag.continue_method, pag.continue_path), route)
    return list(out.values())


CASES = [(name, *route) for name, spec in SPECS.items() for route in _routes(spec)]


@pytest.mark.parametrize(("connector", "method", "path", "action", "continuation"), CASES)
def test_every_route_of_every_spec_is_matched_back(
    connector: str, method: str, path: str, action: str, continuation: bool
) -> None:
    spec = SPECS[connector]
    names = template_names(path)
    params = {n: f"{SAMPLE}{i}" for i, n in enumerate(names)}
    encoded = render(path, params, quote=lambda v: quote(v, safe=""))
    variables = _host_values(spec)
    # An action may name its own base URL (Jira's accessible resources, Dropbox's content host).
    template = spec.action(action).base_url or spec.connection.base_url
    base = render(template, variables)
    url = base + encoded + "?page=2&q=a%2Fb"
    origin_vars = {n: variables[n] for n in template_names(template)}

    # The recorder's view: the vendor's own URL; host and base-path variables come back.
    found = Router(spec).match(method, url)
    assert found is not None, f"{method} {url}"
    assert (found.action.name, found.continuation) == (action, continuation)
    assert found.path_params == params
    assert found.variables == origin_vars

    # A local stand-in for the vendor: the same path on another host, matched on path alone.
    stand_in = "http://" + STAND_IN + httpx.URL(url).raw_path.decode()
    found = Router(spec, [STAND_IN]).match(method, stand_in)
    assert found is not None and found.action.name == action
    assert found.path_params == params

    # The mock's view: the raw path under a mount, the test-connection probe routed too.
    raw = "/acme" + httpx.URL(url).raw_path.decode()
    found = Router(spec, mount="/acme/", probe=True).match(method, raw)
    assert found is not None and found.action.name == action
    assert found.path_params == params
    assert found.variables == {
        n: origin_vars[n] for n in template_names(_base_tail(spec, template))
    }

    # Any other method on that path is a method mismatch, not an unknown path.
    assert method in Router(spec).allowed(url)


@pytest.mark.parametrize("connector", sorted(SPECS))
def test_the_probe_is_routed_only_when_asked_and_never_hides_an_action(connector: str) -> None:
    spec = SPECS[connector]
    tc = spec.test_connection
    url = render(spec.connection.base_url, _host_values(spec)) + tc.path
    same = [a.name for a in spec.actions if (a.method, a.path) == (tc.method, tc.path)]
    found = Router(spec, probe=True).match(tc.method, url)
    assert found is not None
    if same:  # an action with the probe's own request answers as itself
        assert (found.action.name, found.route.probe) == (same[0], False)
        assert Router(spec).match(tc.method, url) is not None
    else:
        assert (found.action.name, found.route.probe) == (PROBE, True)
        assert Router(spec).match(tc.method, url) is None  # the recorder records actions only


def test_the_mock_and_the_recorder_route_with_the_same_router(tmp_path: Path) -> None:
    recorder = Recorder(STRIPE, root=tmp_path, mode="new")
    server = MockServer(STRIPE, MockOptions(golden_root=None))
    assert type(recorder.matcher) is Router and type(server.router) is Router
    recorded = recorder.matcher.match("GET", "https://api.stripe.com/v1/customers/cus_1")
    served = server.router.match("GET", "/v1/customers/cus_1")
    assert recorded is not None and served is not None
    assert recorded.route == served.route


# ------------------------------------------------------------------------------- precedence


def _spec(*routes: tuple[str, str, str], base: str = "https://api.example.test/v1") -> Any:
    """Stripe's spec with only these (name, method, path) actions, on another base URL."""
    actions = [Action(name=name, method=method, path=path) for name, method, path in routes]
    connection = STRIPE.connection.model_copy(update={"base_url": base, "variables": {}})
    return STRIPE.model_copy(update={"actions": actions, "connection": connection})


def _name(router: Router, method: str, path: str) -> str | None:
    found = router.match(method, path)
    return found.action.name if found else None


@pytest.mark.parametrize("reverse", [False, True], ids=["literal-first", "variable-first"])
def test_a_literal_segment_beats_a_variable(reverse: bool) -> None:
    routes = [("list", "GET", "/files/list"), ("get", "GET", "/files/{id}")]
    router = Router(_spec(*(routes[::-1] if reverse else routes)))
    assert _name(router, "GET", "/v1/files/list") == "list"
    found = router.match("GET", "/v1/files/abc")
    assert found is not None and (found.action.name, found.path_params) == ("get", {"id": "abc"})


@pytest.mark.parametrize("reverse", [False, True], ids=["declared-first", "declared-last"])
def test_the_longer_literal_prefix_wins(reverse: bool) -> None:
    routes = [("late", "GET", "/a/{x}/c"), ("early", "GET", "/a/b/{y}")]
    router = Router(_spec(*(routes[::-1] if reverse else routes)))
    assert _name(router, "GET", "/v1/a/b/c") == "early"
    assert _name(router, "GET", "/v1/a/z/c") == "late"
    assert _name(router, "GET", "/v1/a/b/z") == "early"


@pytest.mark.parametrize("reverse", [False, True], ids=["mixed-first", "variable-first"])
def test_a_segment_with_literal_text_beats_a_bare_variable(reverse: bool) -> None:
    routes = [
        ("json", "GET", "/m/{sid}.json"),
        ("plain", "GET", "/m/{id}"),
        ("x", "GET", "/m/x{n}.json"),
    ]
    router = Router(_spec(*(routes[::-1] if reverse else routes)))
    found = router.match("GET", "/v1/m/abc.json")
    assert found is not None and (found.action.name, found.path_params) == ("json", {"sid": "abc"})
    assert _name(router, "GET", "/v1/m/x1.json") == "x"  # more literal text in the segment
    assert _name(router, "GET", "/v1/m/abc") == "plain"


def test_routes_of_one_shape_keep_spec_order() -> None:
    router = Router(_spec(("first", "GET", "/t/{a}"), ("second", "GET", "/t/{b}")))
    assert _name(router, "GET", "/v1/t/1") == "first"
    router = Router(_spec(("second", "GET", "/t/{b}"), ("first", "GET", "/t/{a}")))
    assert _name(router, "GET", "/v1/t/1") == "second"


def test_a_method_mismatch_is_told_apart_from_an_unknown_path() -> None:
    router = Router(STRIPE)
    assert router.match("POST", "/v1/balance") is None
    assert router.allowed("/v1/balance") == ("GET",)
    assert router.allowed("/v1/customers/cus_1") == ("DELETE", "GET", "POST")
    assert router.allowed("/v1/nothing") == ()
    assert router.allowed("https://elsewhere.test/v1/balance") == ()


def test_the_mock_still_answers_404_either_way_and_names_the_methods() -> None:
    creds = default_credentials(STRIPE)
    mock = MockServer(STRIPE, MockOptions(golden_root=None, credentials=creds))
    headers = {"Authorization": f"Bearer {creds['api_key']}"}
    with httpx.Client(transport=mock.transport(), base_url="https://api.stripe.com") as client:
        wrong_method = client.post("/v1/balance", headers=headers)
        unknown = client.get("/v1/nothing", headers=headers)
        right = client.get("/v1/balance", headers=headers)
    assert (wrong_method.status_code, unknown.status_code, right.status_code) == (404, 404, 200)
    assert "it answers GET" in wrong_method.text
    assert "it answers" not in unknown.text


# ------------------------------------------------------------------------ base URL variables


@pytest.mark.parametrize(
    ("connector", "url", "action", "params", "variables"),
    [
        (
            "pipedrive",
            "https://acme-co.pipedrive.com/api/v1/deals/7",
            "get_deal",
            {"id": "7"},
            {"company": "acme-co"},
        ),
        (
            "zendesk",
            "https://acme.zendesk.com/api/v2/tickets/42",
            "get_ticket",
            {"ticket_id": "42"},
            {"subdomain": "acme"},
        ),
        (  # a mapped variable comes back as the value a connection sets
            "mailgun",
            "https://api.eu.mailgun.net/v3/mg.example.test/events",
            "list_events",
            {"domain_name": "mg.example.test"},
            {"region": "eu"},
        ),
        (
            "salesforce",
            "https://org-1.my.salesforce.com/services/data/v66.0/sobjects/Account/001A",
            "get_record",
            {"sobject": "Account", "record_id": "001A"},
            {"instance_url": "https://org-1.my.salesforce.com"},
        ),
        (
            "twilio",
            "https://api.twilio.com/2010-04-01/Accounts/AC0f/Messages/SM1.json",
            "get_message",
            {"sid": "SM1"},
            {"account_sid": "AC0f"},
        ),
    ],
)
def test_base_url_variables_are_read_off_absolute_urls(
    connector: str, url: str, action: str, params: dict[str, str], variables: dict[str, str]
) -> None:
    found = Router(SPECS[connector]).match("GET", url)
    assert found is not None
    assert (found.action.name, found.path_params, found.variables) == (action, params, variables)


def test_a_host_or_scheme_other_than_the_vendors_matches_nothing() -> None:
    assert Router(STRIPE).match("GET", "https://api.stripe.com/v1/balance") is not None
    assert Router(STRIPE).match("GET", "http://api.stripe.com/v1/balance") is None
    assert Router(STRIPE).match("GET", "https://api.stripe.test/v1/balance") is None
    pipedrive = Router(SPECS["pipedrive"])
    assert pipedrive.match("GET", "https://acme.pipedrive.org/api/v1/deals") is None
    assert pipedrive.match("GET", "https://pipedrive.com/api/v1/deals") is None


def test_fixed_variables_narrow_the_routes() -> None:
    twilio = SPECS["twilio"]
    router = Router(twilio, variables={"account_sid": "AC1"})
    found = router.match("GET", "/2010-04-01/Accounts/AC1/Messages.json")
    assert found is not None and (found.action.name, found.variables) == ("list_messages", {})
    assert router.match("GET", "/2010-04-01/Accounts/AC2/Messages.json") is None
    assert router.base_path == "/2010-04-01/Accounts/AC1"
    assert Router(twilio).base_path == "/2010-04-01/Accounts/{account_sid}"
    # A fixed value goes through the variable's map, as a connection's would.
    mailgun = Router(SPECS["mailgun"], variables={"region": "eu"})
    assert mailgun.match("GET", "https://api.eu.mailgun.net/v4/domains/d") is not None
    assert mailgun.match("GET", "https://api.mailgun.net/v4/domains/d") is None


# ---------------------------------------------------------------------- encoding and shapes


@pytest.mark.parametrize(
    ("raw", "value"),
    [("a%2Fb", "a/b"), ("caf%C3%A9", "café"), ("cus%201", "cus 1"), ("a%3Fb", "a?b"), ("%25", "%")],
)
def test_percent_encoded_values_stay_in_their_segment_and_are_decoded(raw: str, value: str) -> None:
    for target in (f"/v1/customers/{raw}", f"https://api.stripe.com/v1/customers/{raw}?x=1"):
        found = Router(STRIPE).match("GET", target)
        assert found is not None and found.action.name == "get_customer", target
        assert found.path_params == {"customer": value}


@pytest.mark.parametrize(
    "target",
    [
        "/v1/customers/",
        "/v1/customers//",
        "//v1/customers",
        "/v1//customers",
        "/v1/customers/c1/",
        "https://api.stripe.com/v1/customers/",
    ],
)
def test_a_trailing_slash_or_empty_segment_is_another_path(target: str) -> None:
    router = Router(STRIPE)
    assert all(router.match(m, target) is None for m in ("GET", "POST", "DELETE"))
    assert router.allowed(target) == ()


@pytest.mark.parametrize(
    ("target", "action"),
    [
        ("/v1/customers?limit=3", "list_customers"),
        ("/v1/customers?", "list_customers"),
        ("/v1/customers#top", "list_customers"),
        ("/v1/customers/c1?expand[]=x&a=/b#frag", "get_customer"),
        ("https://api.stripe.com/v1/customers?email=a%40b.test", "list_customers"),
        (f"http://{STAND_IN}/v1/customers/c1?starting_after=c0", "get_customer"),
    ],
)
def test_query_strings_and_fragments_are_ignored(target: str, action: str) -> None:
    found = Router(STRIPE, [STAND_IN]).match("GET", target)
    assert found is not None and found.action.name == action
    assert found.path_params == ({"customer": "c1"} if action == "get_customer" else {})


def test_methods_are_matched_case_insensitively_and_continuations_are_flagged() -> None:
    dropbox = Router(SPECS["dropbox"])
    first = dropbox.match("post", "https://api.dropboxapi.com/2/files/list_folder")
    more = dropbox.match("POST", "https://api.dropboxapi.com/2/files/list_folder/continue")
    assert first is not None and (first.action.name, first.continuation) == ("list_folder", False)
    # Dropbox declares list_folder/continue as an action of its own (the trigger polls it), and
    # it comes first in the spec: the action answers, not list_folder's continuation.
    assert more is not None and (more.action.name, more.continuation) == (
        "list_folder_continue",
        False,
    )
    assert dropbox.match("GET", "https://api.dropboxapi.com/2/files/list_folder") is None
    listing = {
        "name": "list_things",
        "method": "POST",
        "path": "/things/list",
        "output": {
            "schema": {
                "type": "object",
                "properties": {"things": {"type": "array"}, "cursor": {"type": "string"}},
            }
        },
        "pagination": {
            "style": "continue_endpoint",
            "items_path": "things",
            "continue_path": "/things/list/continue",
            "cursor_path": "cursor",
            "cursor_field": "cursor",
        },
    }
    router = Router(parse_spec(spec_doc([listing])))
    found = router.match("post", "https://api.acme.test/v1/things/list/continue")
    assert found is not None and (found.action.name, found.continuation) == ("list_things", True)
