"""Jira Cloud: the site variable, nextPageToken and startAt paging, Basic and OAuth details,
204 answers and the new-issue trigger, run by the executor against the spec-driven mock (and a
recording transport where the wire format itself is the point)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import (
    Connection,
    ConnectorSpec,
    GenericExecutor,
    PatchbayError,
    StaticTokenProvider,
    load_spec,
)
from patchbay.runtime.accounts._oauth import OAuthClient, authorize_url
from patchbay.runtime.triggers._polling import poll

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "jira.json"
EMAIL = "someone@example.test"
TOKEN = "FAKEatlassianTOKEN000000000000000000"
SITE = "patchbay-example"


@pytest.fixture(scope="module")
def spec() -> ConnectorSpec:
    return load_spec(str(SPEC_PATH))


def connection(site: str = SITE) -> Connection:
    return Connection(
        "jira",
        auth="api_token",
        variables={"site": site},
        credentials={"email": EMAIL, "api_token": TOKEN},
    )


def mock_executor(spec: ConnectorSpec, records: int = 25) -> tuple[MockServer, GenericExecutor]:
    server = MockServer(
        spec,
        MockOptions(
            golden_root=None,
            records=records,
            credentials={"email": EMAIL, "api_token": TOKEN},
            variables={"site": SITE},
        ),
    )
    return server, GenericExecutor(spec, connection(), transport=server.transport())


class Recorder:
    """Answers each request with what ``answer`` gives and keeps the requests."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def recording_executor(
    spec: ConnectorSpec,
    answer: Callable[[httpx.Request], httpx.Response],
    site: str = SITE,
) -> tuple[Recorder, GenericExecutor]:
    recorder = Recorder(answer)
    ex = GenericExecutor(spec, connection(site), transport=httpx.MockTransport(recorder))
    return recorder, ex


def ok(body: Any = None, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: (
        httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    )


@pytest.mark.parametrize(
    "site",
    [
        "evil.com",
        "acme.evil",
        "a/b",
        "acme@evil.com",
        "acme:443",
        "-acme",
        "acme-",
        "ACME",
        "acme%2eevil",
        "acme?x=",
        "",
        "a" * 64,
    ],
)
def test_hostile_site_values_are_refused_before_any_request(spec: ConnectorSpec, site: str) -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"accountId": "x"})

    transport = httpx.MockTransport(answer)
    with (
        pytest.raises(PatchbayError) as info,
        GenericExecutor(spec, connection(site), transport=transport) as ex,
    ):
        ex.call("get_myself", {})
    assert info.value.code == "config"
    assert "'site'" in str(info.value)
    assert requests == []


def test_a_plain_site_label_reaches_its_atlassian_host_with_basic_auth(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, ok({"accountId": "5b10a2844c20165700ede21g"}))
    with ex:
        ex.call("get_myself", {})
    (request,) = recorder.requests
    assert str(request.url) == f"https://{SITE}.atlassian.net/rest/api/3/myself"
    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_search_follows_next_page_token_over_three_pages(spec: ConnectorSpec) -> None:
    server, ex = mock_executor(spec, records=7)
    with ex:
        pager = ex.paginate(
            "search_issues", {"jql": "project = EX ORDER BY created DESC"}, page_size=3
        )
        pages = list(pager.pages())
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert len({i["id"] for p in pages for i in p.items}) == 7
    sent = [dict(r.query) for r in server.requests if r.action == "search_issues"]
    assert len(sent) == 3
    assert all(
        q["jql"] == "project = EX ORDER BY created DESC" and q["maxResults"] == "3" for q in sent
    )
    assert "nextPageToken" not in sent[0]
    assert sent[1]["nextPageToken"] and sent[2]["nextPageToken"]
    assert sent[1]["nextPageToken"] != sent[2]["nextPageToken"]


def test_search_sends_back_exactly_the_token_it_was_given_and_stops_without_one(
    spec: ConnectorSpec,
) -> None:
    answers = {
        None: {"issues": [{"id": "3"}], "nextPageToken": "tok/A+1=", "isLast": False},
        "tok/A+1=": {"issues": [{"id": "2"}], "nextPageToken": "tok-B", "isLast": False},
        "tok-B": {"issues": [{"id": "1"}], "isLast": True},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.params.get("nextPageToken")])

    recorder, ex = recording_executor(spec, answer)
    with ex:
        items = list(ex.paginate("search_issues", {"jql": "project = EX"}))
    assert [i["id"] for i in items] == ["3", "2", "1"]
    assert [r.url.params.get("nextPageToken") for r in recorder.requests] == [
        None,
        "tok/A+1=",
        "tok-B",
    ]


def test_search_needs_jql(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, ok({"issues": []}))
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("search_issues", {})
    assert info.value.code == "validation"
    assert recorder.requests == []


def test_project_search_pages_by_start_at(spec: ConnectorSpec) -> None:
    server, ex = mock_executor(spec, records=5)
    with ex:
        pages = list(ex.paginate("list_projects", {}, page_size=2).pages())
    assert [len(p.items) for p in pages] == [2, 2, 1]
    starts = [
        dict(r.query).get("startAt", "0") for r in server.requests if r.action == "list_projects"
    ]
    assert starts == ["0", "2", "4"]


@pytest.mark.parametrize("key", ["../myself", "EX-1/comment", "EX-", "EX 1", "-1"])
def test_issue_keys_that_are_not_an_id_or_key_are_refused(spec: ConnectorSpec, key: str) -> None:
    recorder, ex = recording_executor(spec, ok({"id": "1"}))
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("get_issue", {"issueIdOrKey": key})
    assert info.value.code == "validation"
    assert recorder.requests == []


def test_update_and_transition_answer_204_without_a_body(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, ok(status=204))
    with ex:
        updated = ex.call("update_issue", {"issueIdOrKey": "EX-1", "fields": {"summary": "New"}})
        moved = ex.call("transition_issue", {"issueIdOrKey": "EX-1", "transition": {"id": "31"}})
    assert updated is None and moved is None
    update, transition = recorder.requests
    assert (update.method, update.url.path) == ("PUT", "/rest/api/3/issue/EX-1")
    assert json.loads(update.content) == {"fields": {"summary": "New"}}
    assert (transition.method, transition.url.path) == (
        "POST",
        "/rest/api/3/issue/EX-1/transitions",
    )
    assert json.loads(transition.content) == {"transition": {"id": "31"}}


def test_a_transition_without_an_id_is_refused(spec: ConnectorSpec) -> None:
    recorder, ex = recording_executor(spec, ok(status=204))
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("transition_issue", {"issueIdOrKey": "EX-1", "fields": {}})
    assert info.value.code == "validation"
    assert recorder.requests == []


def test_a_missing_issue_is_not_found_with_jiras_message(spec: ConnectorSpec) -> None:
    body = {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    _, ex = recording_executor(spec, ok(body, status=404))
    with ex, pytest.raises(PatchbayError) as info:
        ex.call("get_issue", {"issueIdOrKey": "EX-404"})
    assert info.value.code == "not_found"
    assert "does not exist" in str(info.value)


def test_new_issue_trigger_reads_newest_first_and_delivers_what_is_newer(
    spec: ConnectorSpec,
) -> None:
    def issue(i: int, created: str) -> dict[str, Any]:
        return {"id": str(10000 + i), "key": f"EX-{i}", "fields": {"created": created}}

    older = [issue(2, "2024-05-01T10:00:02.000+0000"), issue(1, "2024-05-01T10:00:01.000+0000")]
    state: dict[str, Any] = {"issues": older}
    recorder, ex = recording_executor(spec, lambda r: httpx.Response(200, json=state))
    with ex:
        first = poll(ex, "new_issue")
        state["issues"] = [issue(3, "2024-05-01T12:30:00.000+0200"), *older]
        second = poll(ex, "new_issue", cursor=first.cursor)
    assert first.cursor == "2024-05-01T10:00:02.000+0000"
    assert [i["key"] for i in second.items] == ["EX-3"]  # 10:30 UTC, after the cursor
    params = recorder.requests[0].url.params
    assert params["jql"].endswith("ORDER BY created DESC")
    assert "created" in params.get_list("fields")


def test_oauth_authorize_url_asks_for_the_api_audience(spec: ConnectorSpec) -> None:
    variant = spec.auth_variant("oauth2")
    url = httpx.URL(
        authorize_url(
            spec,
            variant,
            OAuthClient("client_FAKE_id", "client_FAKE_secret"),
            redirect_uri="http://127.0.0.1:9/callback",
            state="s",
            code_challenge=None,
            variables={"site": SITE},
        )
    )
    assert (url.host, url.path) == ("auth.atlassian.com", "/authorize")
    assert url.params["audience"] == "api.atlassian.com"
    assert url.params["prompt"] == "consent"
    assert "offline_access" in url.params["scope"].split(" ")


def test_oauth_calls_find_the_cloud_id_then_use_the_api_gateway(spec: ConnectorSpec) -> None:
    """3LO: accessible-resources on api.atlassian.com gives the cloud id; the site's calls then
    go to https://api.atlassian.com/ex/jira/{cloudid} (a base URL override: the spec format has
    one base URL per connector, not per auth variant)."""
    cloud_id = "1324a887-45db-1bf4-1e99-ef0ff456d421"
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/oauth/token/accessible-resources":
            site = {"id": cloud_id, "url": f"https://{SITE}.atlassian.net", "scopes": []}
            return httpx.Response(200, json=[site])
        return httpx.Response(200, json={"accountId": "5b10a2844c20165700ede21g"})

    oauth = Connection(
        "jira",
        auth="oauth2",
        variables={"site": SITE},
        token_provider=StaticTokenProvider("at_FAKE_access"),
    )
    transport = httpx.MockTransport(answer)
    with GenericExecutor(spec, oauth, transport=transport) as ex:
        (resource,) = ex.call("list_accessible_resources", {})
    gateway = f"https://api.atlassian.com/ex/jira/{resource['id']}"
    with GenericExecutor(spec, oauth, transport=transport, base_url=gateway) as ex:
        ex.call("get_myself", {})
    lookup, myself = requests
    assert str(lookup.url) == "https://api.atlassian.com/oauth/token/accessible-resources"
    assert str(myself.url) == f"{gateway}/rest/api/3/myself"
    assert all(r.headers["Authorization"] == "Bearer at_FAKE_access" for r in requests)
