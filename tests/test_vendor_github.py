"""The GitHub connector spec, run by the executor against the GitHub stand-in.

The stand-in answers like api.github.com (Link-header paging over bare arrays, the three kinds of
403, ``x-github-request-id``), so these tests check vendor behaviour, not the spec echoing itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from vendor_shapes import (
    documented_fixtures,
    resource_model,
    undeclared,
    undeclared_in_fixture,
)

from patchbay.mocks.oracles.github import DEMO, DEMO_TOKEN, GitHubStandIn, make_standin
from patchbay.runtime import (
    AsyncGenericExecutor,
    CallOptions,
    Connection,
    ConnectorSpec,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
    load_spec,
)
from patchbay.runtime.spec._model import LinkHeaderPagination

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "github.json"
FIXED = 1_800_000_000.0
OWNER, REPO = "octocat", "hello-world"
REPO_ID = 1296269
BASE = "https://api.github.com"
BAD_TOKEN = "ghp_FAKEWRONGFAKE"


@pytest.fixture(scope="module")
def spec() -> ConnectorSpec:
    return load_spec(str(SPEC_PATH))


class Harness:
    """A stand-in, the responses it gave, the sleeps the executor asked for, and an executor."""

    def __init__(self, spec: ConnectorSpec, *, items: int = 25, token: str = DEMO_TOKEN) -> None:
        self.standin = GitHubStandIn(items, tokens=(DEMO_TOKEN,), clock=lambda: FIXED)
        self.responses: list[httpx.Response] = []
        self.sleeps: list[float] = []
        self.connection = Connection("github", credentials={"token": token})
        self.options = ExecutorOptions(
            clock=lambda: FIXED, retry=RetryPolicy(max_attempts=4, random=lambda: 0.5)
        )
        self.executor = GenericExecutor(
            spec,
            self.connection,
            transport=httpx.MockTransport(self._handle),
            options=self.options,
            sleep=self.sleeps.append,
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        response = self.standin(request)
        self.responses.append(response)
        return response

    @property
    def requests(self) -> list[httpx.Request]:
        return self.standin.requests


@pytest.fixture
def h(spec: ConnectorSpec) -> Harness:
    return Harness(spec)


def raises(fn: Callable[[], Any]) -> PatchbayError:
    with pytest.raises(PatchbayError) as info:
        fn()
    return info.value


def issue_numbers_desc(h: Harness, state: str = "all") -> list[int]:
    """The issue numbers GitHub would list by default (newest created first)."""
    issues = h.standin.repo_issues()
    chosen = [i for i in issues if state == "all" or i["state"] == state]
    return [i["number"] for i in sorted(chosen, key=lambda i: i["created_at"], reverse=True)]


# ------------------------------------------------------------------------------ the spec


def test_spec_declares_github_basics(spec: ConnectorSpec) -> None:
    assert spec.connection.base_url == "https://api.github.com"
    assert spec.connection.headers == {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    auth = spec.auth[0]
    assert auth.type == "bearer" and auth.token == "{token}" and auth.prefix == "Bearer "
    assert spec.test_connection.path == "/user"
    assert spec.test_connection.account_label_path == "login"
    assert len(spec.actions) >= 8
    for action in spec.actions:
        if action.pagination is not None:
            assert isinstance(action.pagination, LinkHeaderPagination), action.name
            assert action.pagination.items_path == ""
            assert action.pagination.page_size is not None
            assert action.pagination.page_size.param == "per_page"
            assert action.pagination.page_size.max == 100
    assert spec.errors.request_id_header == "x-github-request-id"
    assert spec.rate_limits.reset_header == "x-ratelimit-reset"
    assert spec.rate_limits.reset_format == "epoch_seconds"
    assert len(spec.triggers.polling) == 1
    hook = spec.triggers.webhooks[0]
    assert hook.verification.scheme == "hmac"
    assert hook.verification.signature_prefix == "sha256="
    assert hook.verification.tolerance_seconds is None
    assert hook.delivery_id_header == "X-GitHub-Delivery"
    assert hook.event_type_header == "X-GitHub-Event"
    assert hook.registration_action == "create_repo_webhook"


# ------------------------------------------------------------------------------ paging


def test_list_issues_follows_link_header_across_three_pages(h: Harness) -> None:
    pages = list(
        h.executor.paginate(
            "list_issues", {"owner": OWNER, "repo": REPO, "state": "all", "per_page": 10}
        ).pages()
    )

    assert [p.number for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [10, 10, 10]
    got = [i["number"] for p in pages for i in p.items]
    assert got == issue_numbers_desc(h)
    assert any("pull_request" in i for p in pages for i in p.items)  # PRs are issues too

    first = h.requests[0]
    assert first.method == "GET"
    assert str(first.url) == f"{BASE}/repos/{OWNER}/{REPO}/issues?state=all&per_page=10"
    assert first.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
    assert first.headers["Accept"] == "application/vnd.github+json"
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert first.headers["User-Agent"]

    # Pages 2 and 3 are exactly the URLs GitHub gave in rel="next" (through /repositories/{id}).
    assert len(h.requests) == 3
    for previous, request in zip(h.responses, h.requests[1:], strict=False):
        assert str(request.url) == previous.links["next"]["url"]
        assert request.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert str(h.requests[1].url) == (
        f"{BASE}/repositories/{REPO_ID}/issues?state=all&per_page=10&page=2"
    )
    assert str(h.requests[2].url) == (
        f"{BASE}/repositories/{REPO_ID}/issues?state=all&per_page=10&page=3"
    )
    assert h.responses[0].links["last"]["url"].endswith("&page=3")
    assert "next" not in h.responses[2].links


def test_link_urls_point_at_the_host_the_request_came_to(spec: ConnectorSpec) -> None:
    """A GitHub Enterprise-like host: the stand-in links back to it and the executor follows."""
    h = Harness(spec)
    executor = GenericExecutor(
        spec,
        h.connection,
        transport=httpx.MockTransport(h._handle),
        base_url="https://ghe.example.test/api/v3",
        options=h.options,
        sleep=h.sleeps.append,
    )
    items = executor.paginate(
        "list_issues", {"owner": OWNER, "repo": REPO, "state": "all"}, page_size=12
    ).all()
    assert len(items) == 30
    assert [str(r.url) for r in h.requests] == [
        f"https://ghe.example.test/api/v3/repos/{OWNER}/{REPO}/issues?state=all&per_page=12",
        f"https://ghe.example.test/api/v3/repositories/{REPO_ID}/issues?state=all&per_page=12&page=2",
        f"https://ghe.example.test/api/v3/repositories/{REPO_ID}/issues?state=all&per_page=12&page=3",
    ]


def test_page_size_default_and_ceiling(h: Harness) -> None:
    items = h.executor.paginate("list_issues", {"owner": OWNER, "repo": REPO}).all()
    assert [i["number"] for i in items] == issue_numbers_desc(h, "open")
    assert h.requests[-1].url.params["per_page"] == "100"
    assert len(h.requests) == 1

    h.executor.paginate("list_issues", {"owner": OWNER, "repo": REPO}, page_size=500).all()
    assert h.requests[-1].url.params["per_page"] == "100"  # GitHub's max is 100

    pages = list(
        h.executor.paginate(
            "list_issues", {"owner": OWNER, "repo": REPO, "state": "all"}, page_size=7
        ).pages()
    )
    assert [len(p.items) for p in pages] == [7, 7, 7, 7, 2]


def test_page_size_above_100_in_input_is_rejected_before_sending(h: Harness) -> None:
    err = raises(
        lambda: h.executor.paginate("list_issues", {"owner": OWNER, "repo": REPO, "per_page": 101})
    )
    assert err.code == "validation"
    assert err.pointer == "/per_page"
    assert h.requests == []


def test_max_items_and_max_pages(h: Harness) -> None:
    base = {"owner": OWNER, "repo": REPO, "state": "all", "per_page": 10}
    items = h.executor.paginate("list_issues", base, max_items=15).all()
    assert [i["number"] for i in items] == issue_numbers_desc(h)[:15]
    assert len(h.requests) == 2

    h.standin.requests.clear()
    pages = list(h.executor.paginate("list_issues", base, max_pages=2).pages())
    assert [len(p.items) for p in pages] == [10, 10]
    assert len(h.requests) == 2
    assert h.requests[1].url.params["page"] == "2"


def test_list_issues_filters_are_encoded_github_style(h: Harness) -> None:
    since = "2026-01-01T08:00:00Z"
    items = h.executor.paginate(
        "list_issues",
        {
            "owner": OWNER,
            "repo": REPO,
            "state": "all",
            "labels": ["bug", "ui"],
            "since": since,
            "sort": "updated",
            "direction": "asc",
            "per_page": 1,
        },
    ).all()
    request = h.requests[0]
    assert request.url.path == f"/repos/{OWNER}/{REPO}/issues"
    assert list(request.url.params.multi_items()) == [
        ("state", "all"),
        ("labels", "bug,ui"),
        ("since", since),
        ("sort", "updated"),
        ("direction", "asc"),
        ("per_page", "1"),
    ]
    expected = sorted(
        (
            i
            for i in h.standin.repo_issues()
            if {"bug", "ui"} <= {lab["name"] for lab in i["labels"]} and i["updated_at"] >= since
        ),
        key=lambda i: (i["updated_at"], i["number"]),
    )
    assert [i["number"] for i in items] == [i["number"] for i in expected]
    assert [i["number"] for i in expected] == [9, 15, 21]
    assert len(h.requests) == 3
    # Later pages keep every filter, as the Link URL carries them.
    assert h.requests[1].url.params["since"] == since
    assert h.requests[1].url.params["labels"] == "bug,ui"


def test_list_issue_comments_pages(h: Harness) -> None:
    pages = list(
        h.executor.paginate(
            "list_issue_comments",
            {"owner": OWNER, "repo": REPO, "issue_number": 1, "per_page": 10},
        ).pages()
    )
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [c["body"] for c in pages[0].items[:2]] == ["Comment 1", "Comment 2"]
    assert str(h.requests[0].url) == f"{BASE}/repos/{OWNER}/{REPO}/issues/1/comments?per_page=10"
    assert str(h.requests[2].url) == (
        f"{BASE}/repositories/{REPO_ID}/issues/1/comments?per_page=10&page=3"
    )


def test_list_repos_and_pull_requests_page(h: Harness) -> None:
    repos = list(
        h.executor.paginate(
            "list_repos_for_authenticated_user", {"sort": "full_name", "per_page": 10}
        ).pages()
    )
    assert [len(p.items) for p in repos] == [10, 10, 5]
    names = [r["full_name"] for p in repos for r in p.items]
    assert names == sorted(names)
    assert [str(r.url) for r in h.requests] == [
        f"{BASE}/user/repos?sort=full_name&per_page=10",
        f"{BASE}/user/repos?sort=full_name&per_page=10&page=2",
        f"{BASE}/user/repos?sort=full_name&per_page=10&page=3",
    ]

    h.standin.requests.clear()
    pulls = list(
        h.executor.paginate(
            "list_pull_requests", {"owner": OWNER, "repo": REPO}, page_size=2
        ).pages()
    )
    assert [len(p.items) for p in pulls] == [2, 2, 1]
    assert [p["number"] for page in pulls for p in page.items] == [30, 29, 28, 27, 26]
    assert str(h.requests[1].url) == f"{BASE}/repositories/{REPO_ID}/pulls?per_page=2&page=2"


def test_list_repos_type_with_visibility_is_a_422(h: Harness) -> None:
    err = raises(
        lambda: h.executor.call(
            "list_repos_for_authenticated_user", {"type": "owner", "visibility": "private"}
        )
    )
    assert (err.code, err.status, err.vendor_code) == ("validation", 422, "invalid")
    assert err.message == "Validation Failed"


def test_demo_pages_three_times() -> None:
    standin = make_standin()
    executor = GenericExecutor(
        load_spec(str(SPEC_PATH)),
        Connection("github", credentials=DEMO["credentials"], variables=DEMO["variables"]),
        transport=standin.transport(),
        sleep=lambda _s: None,
    )
    pages = list(executor.paginate(DEMO["action"], DEMO["input"]).pages())
    assert len(pages) >= 3
    assert len(standin.requests) == len(pages)


# ------------------------------------------------------------------- paths and encoding


def test_path_params_are_percent_encoded(h: Harness) -> None:
    err = raises(lambda: h.executor.call("get_repo", {"owner": "octo cat", "repo": REPO}))
    assert h.requests[-1].url.raw_path == b"/repos/octo%20cat/hello-world"
    assert (err.code, err.status, err.message) == ("not_found", 404, "Not Found")

    raises(lambda: h.executor.call("get_repo", {"owner": OWNER, "repo": "evil/../x"}))
    assert h.requests[-1].url.raw_path == b"/repos/octocat/evil%2F..%2Fx"

    raises(lambda: h.executor.call("get_repo", {"owner": OWNER, "repo": "hello.world"}))
    assert h.requests[-1].url.raw_path == b"/repos/octocat/hello.world"

    repo = h.executor.call("get_repo", {"owner": "OctoCat", "repo": "Hello-World"})
    assert repo["full_name"] == f"{OWNER}/{REPO}" and repo["id"] == REPO_ID
    assert repo["private"] is True

    issue = h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 7})
    assert h.requests[-1].url.raw_path == b"/repos/octocat/hello-world/issues/7"
    assert (issue["number"], issue["title"]) == (7, "Issue number 7")


def test_dot_segment_path_params_cannot_leave_their_segment(h: Harness) -> None:
    """A repo named ".." must not turn /repos/octocat/../issues/1 into /repos/issues/1."""
    err = raises(
        lambda: h.executor.call("get_issue", {"owner": OWNER, "repo": "..", "issue_number": 1})
    )
    assert h.requests[-1].url.raw_path == b"/repos/octocat/%2E%2E/issues/1"
    assert (err.code, err.status) == ("not_found", 404)


# ------------------------------------------------------------------------ connection


def test_test_connection_ok_with_login_label(h: Harness) -> None:
    check = h.executor.test_connection()
    assert check.ok is True
    assert check.account_label == "octocat"
    assert check.account_id == "583231"
    request = h.requests[0]
    assert (request.method, str(request.url)) == ("GET", f"{BASE}/user")
    assert request.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_test_connection_with_a_bad_token_fails_auth_invalid(spec: ConnectorSpec) -> None:
    h = Harness(spec, token=BAD_TOKEN)
    check = h.executor.test_connection()
    assert check.ok is False
    assert check.error is not None
    assert (check.error.code, check.error.status) == ("auth_invalid", 401)
    assert check.error.message == "Bad credentials"
    assert check.error.request_id == h.responses[0].headers["x-github-request-id"]
    assert BAD_TOKEN not in str(check.error) and BAD_TOKEN not in repr(check.error)
    assert len(h.requests) == 1 and h.sleeps == []


def test_missing_user_agent_is_refused_like_github(h: Harness) -> None:
    bare = httpx.Request("GET", f"{BASE}/user", headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert "User-Agent" not in bare.headers  # only clients add one
    response = h.standin(bare)
    assert response.status_code == 403
    assert "User-Agent" in response.json()["message"]


# --------------------------------------------------------------------------- writes


def test_create_issue_sends_exact_json_and_changes_state(h: Harness) -> None:
    created = h.executor.call(
        "create_issue",
        {
            "owner": OWNER,
            "repo": REPO,
            "title": "Found a bug",
            "body": "I'm having a problem with this.",
            "labels": ["bug"],
            "assignees": ["octocat"],
        },
    )
    request = h.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/repos/{OWNER}/{REPO}/issues")
    assert request.content == (
        b'{"title":"Found a bug","body":"I\'m having a problem with this.",'
        b'"labels":["bug"],"assignees":["octocat"]}'
    )
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "Idempotency-Key" not in request.headers  # GitHub has no idempotency keys
    assert h.responses[0].status_code == 201

    assert created["number"] == 31 and created["state"] == "open"
    assert [lab["name"] for lab in created["labels"]] == ["bug"]
    assert created["assignee"]["login"] == "octocat"
    fetched = h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 31})
    assert fetched["title"] == "Found a bug" and fetched["id"] == created["id"]


def test_update_issue_patches_and_closes(h: Harness) -> None:
    updated = h.executor.call(
        "update_issue",
        {
            "owner": OWNER,
            "repo": REPO,
            "issue_number": 3,
            "state": "closed",
            "state_reason": "not_planned",
            "labels": [],
        },
    )
    request = h.requests[0]
    assert (request.method, str(request.url)) == (
        "PATCH",
        f"{BASE}/repos/{OWNER}/{REPO}/issues/3",
    )
    assert json.loads(request.content) == {
        "state": "closed",
        "state_reason": "not_planned",
        "labels": [],
    }
    assert request.content == b'{"state":"closed","state_reason":"not_planned","labels":[]}'
    assert updated["state"] == "closed" and updated["state_reason"] == "not_planned"
    assert updated["labels"] == [] and updated["closed_at"] is not None

    err = raises(
        lambda: h.executor.call(
            "update_issue", {"owner": OWNER, "repo": REPO, "issue_number": 3, "state": "shut"}
        )
    )
    assert (err.code, err.pointer) == ("validation", "/state")
    assert len(h.requests) == 1


def test_create_issue_comment(h: Harness) -> None:
    before = h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 2})
    comment = h.executor.call(
        "create_issue_comment",
        {"owner": OWNER, "repo": REPO, "issue_number": 2, "body": "Me too"},
    )
    request = h.requests[-1]
    assert (request.method, str(request.url)) == (
        "POST",
        f"{BASE}/repos/{OWNER}/{REPO}/issues/2/comments",
    )
    assert request.content == b'{"body":"Me too"}'
    assert comment["body"] == "Me too" and isinstance(comment["id"], int)
    after = h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 2})
    assert after["comments"] == before["comments"] + 1


def test_webhook_registration_delete_and_signature(spec: ConnectorSpec, h: Harness) -> None:
    secret = "whsec-FAKE-patchbay-0000"
    hook = h.executor.call(
        "create_repo_webhook",
        {
            "owner": OWNER,
            "repo": REPO,
            "name": "web",
            "config": {
                "url": "https://example.test/hooks/github",
                "content_type": "json",
                "secret": secret,
            },
            "events": ["issues"],
            "active": True,
        },
    )
    request = h.requests[-1]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/repos/{OWNER}/{REPO}/hooks")
    assert json.loads(request.content) == {
        "name": "web",
        "config": {
            "url": "https://example.test/hooks/github",
            "content_type": "json",
            "secret": secret,
        },
        "events": ["issues"],
        "active": True,
    }
    assert hook["events"] == ["issues"] and hook["config"]["secret"] != secret

    # A delivery signed the way GitHub signs it verifies with the spec's scheme data.
    ver = spec.triggers.webhooks[0].verification
    headers, body = h.standin.webhook_delivery(hook["id"], "issues", {"action": "opened"})
    assert headers[spec.triggers.webhooks[0].event_type_header or ""] == "issues"
    assert headers[spec.triggers.webhooks[0].delivery_id_header or ""]
    signature = headers[ver.signature_header]
    assert signature.startswith(ver.signature_prefix)
    expected = hmac.new(secret.encode(), body, getattr(hashlib, ver.algorithm)).hexdigest()
    assert hmac.compare_digest(signature[len(ver.signature_prefix) :], expected)

    dup = raises(
        lambda: h.executor.call(
            "create_repo_webhook",
            {
                "owner": OWNER,
                "repo": REPO,
                "config": {"url": "https://example.test/hooks/github"},
                "events": ["issues"],
            },
        )
    )
    assert (dup.code, dup.status, dup.vendor_code) == ("validation", 422, "custom")

    assert (
        h.executor.call(
            "delete_repo_webhook", {"owner": OWNER, "repo": REPO, "hook_id": hook["id"]}
        )
        is None
    )
    assert h.requests[-1].method == "DELETE"
    assert str(h.requests[-1].url) == f"{BASE}/repos/{OWNER}/{REPO}/hooks/{hook['id']}"
    assert h.responses[-1].status_code == 204
    gone = raises(
        lambda: h.executor.call(
            "delete_repo_webhook", {"owner": OWNER, "repo": REPO, "hook_id": hook["id"]}
        )
    )
    assert (gone.code, gone.status) == ("not_found", 404)


def test_github_documented_signature_example_matches_the_scheme(spec: ConnectorSpec) -> None:
    """GitHub's docs example: secret "It's a Secret to Everybody", body "Hello, World!"."""
    ver = spec.triggers.webhooks[0].verification
    mac = hmac.new(b"It's a Secret to Everybody", b"Hello, World!", getattr(hashlib, ver.algorithm))
    assert ver.signature_prefix + mac.hexdigest() == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    assert ver.encoding == "hex" and ver.signed_payload == "{body}"
    assert ver.timestamp_header is None


# ------------------------------------------------------------------------ error rules


def test_bad_credentials_is_auth_invalid(spec: ConnectorSpec) -> None:
    h = Harness(spec, token=BAD_TOKEN)
    err = raises(lambda: h.executor.call("get_repo", {"owner": OWNER, "repo": REPO}))
    assert (err.code, err.status, err.message) == ("auth_invalid", 401, "Bad credentials")
    assert err.retryable is False
    assert len(h.requests) == 1


def test_missing_issue_is_not_found_and_410_too(h: Harness) -> None:
    err = raises(
        lambda: h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 999})
    )
    assert (err.code, err.status, err.message) == ("not_found", 404, "Not Found")
    assert err.request_id == h.responses[-1].headers["x-github-request-id"]

    h.standin.queue(
        httpx.Response(
            410,
            json={
                "message": "Issues are disabled for this repo",
                "documentation_url": "https://docs.github.com/v3/issues/",
                "status": "410",
            },
        )
    )
    gone = raises(
        lambda: h.executor.call("get_issue", {"owner": OWNER, "repo": REPO, "issue_number": 1})
    )
    assert (gone.code, gone.status, gone.message) == (
        "not_found",
        410,
        "Issues are disabled for this repo",
    )


def test_validation_failed_422_carries_the_errors_code(h: Harness) -> None:
    err = raises(
        lambda: h.executor.call(
            "create_issue", {"owner": OWNER, "repo": REPO, "title": "x", "assignees": ["nobody"]}
        )
    )
    assert (err.code, err.status, err.message) == ("validation", 422, "Validation Failed")
    assert err.vendor_code == "invalid"
    assert err.retryable is False
    body = h.responses[-1].json()
    assert body["errors"] == [
        {"value": "nobody", "resource": "Issue", "field": "assignees", "code": "invalid"}
    ]
    assert body["documentation_url"].startswith("https://docs.github.com/")


def test_plain_403_is_permission_denied_and_not_retried(h: Harness) -> None:
    h.standin.forbid()
    err = raises(lambda: h.executor.call("list_issues", {"owner": OWNER, "repo": REPO}))
    assert (err.code, err.status) == ("permission_denied", 403)
    assert err.message == "Resource not accessible by integration"
    assert err.retryable is False and err.retry_after is None
    assert err.request_id == h.responses[0].headers["x-github-request-id"]
    assert len(h.requests) == 1 and h.sleeps == []


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_waits_until_reset_then_succeeds(h: Harness, status: int) -> None:
    h.standin.rate_limit_primary(reset_at=int(FIXED) + 42, status=status)
    items = h.executor.call("list_issues", {"owner": OWNER, "repo": REPO, "per_page": 5})
    assert len(items) == 5
    assert h.sleeps == [42.0]
    assert h.responses[0].status_code == status
    assert h.responses[0].headers["x-ratelimit-remaining"] == "0"
    assert len(h.requests) == 2
    assert str(h.requests[0].url) == str(h.requests[1].url)


def test_primary_rate_limit_beyond_the_ceiling_fails_fast(h: Harness) -> None:
    h.standin.rate_limit_primary(reset_at=int(FIXED) + 3600)
    err = raises(lambda: h.executor.call("list_issues", {"owner": OWNER, "repo": REPO}))
    assert (err.code, err.status) == ("rate_limited", 403)
    assert err.retry_after == pytest.approx(3600.0)
    assert err.message.startswith("API rate limit exceeded for user ID 583231.")
    assert h.sleeps == []
    assert len(h.requests) == 1


def test_secondary_rate_limit_honours_retry_after(h: Harness) -> None:
    h.standin.rate_limit_secondary(retry_after=30, status=429)
    items = h.executor.call("list_issues", {"owner": OWNER, "repo": REPO, "per_page": 3})
    assert len(items) == 3
    assert h.sleeps == [30.0]
    assert len(h.requests) == 2


def test_secondary_rate_limit_without_retry_after_waits_a_minute(h: Harness) -> None:
    """GitHub: no retry-after and x-ratelimit-remaining not 0 -> wait at least one minute.

    The response still carries x-ratelimit-reset (GitHub sends it on every response); it is the
    primary window's reset, which must not decide this wait.
    """
    h.standin.rate_limit_secondary(retry_after=None)
    assert int(h.standin._common_headers()["x-ratelimit-reset"]) == int(FIXED) + 3600
    items = h.executor.call("list_issues", {"owner": OWNER, "repo": REPO, "per_page": 3})
    assert len(items) == 3
    assert h.sleeps == [60.0]


def test_secondary_rate_limit_on_a_create_is_not_retried(h: Harness) -> None:
    h.standin.rate_limit_secondary(retry_after=30)
    err = raises(
        lambda: h.executor.call("create_issue", {"owner": OWNER, "repo": REPO, "title": "x"})
    )
    assert (err.code, err.status) == ("rate_limited", 403)
    assert err.retry_after == 30.0
    assert "secondary rate limit" in err.message
    assert len(h.requests) == 1 and h.sleeps == []
    assert all(i["title"] != "x" for i in h.standin.repo_issues())


def test_retries_option_zero_does_not_retry_a_rate_limit(h: Harness) -> None:
    h.standin.rate_limit_primary(reset_at=int(FIXED) + 5)
    err = raises(
        lambda: h.executor.call(
            "list_issues", {"owner": OWNER, "repo": REPO}, CallOptions(retries=0)
        )
    )
    assert err.code == "rate_limited" and err.retry_after == 5.0
    assert h.sleeps == []


# ------------------------------------------------------------------------ polling trigger


def test_polling_trigger_since_cursor_finds_new_issues(spec: ConnectorSpec, h: Harness) -> None:
    trigger = spec.triggers.polling[0]
    assert trigger.action == "list_issues"
    assert trigger.cursor.kind == "timestamp" and trigger.cursor.param == "since"
    assert trigger.cursor.field == "updated_at" and trigger.dedupe_key == "id"
    base = {"owner": OWNER, "repo": REPO, **trigger.input}

    first = h.executor.paginate("list_issues", base).all()
    assert len(first) == 30
    stamps = [i[trigger.cursor.field] for i in first]
    assert stamps == sorted(stamps)  # oldest first, so the last item is the cursor
    cursor = stamps[-1]
    seen = {i[trigger.dedupe_key] for i in first}

    created = h.executor.call("create_issue", {"owner": OWNER, "repo": REPO, "title": "Brand new"})
    second = h.executor.paginate("list_issues", {**base, "since": cursor}).all()
    assert h.requests[-1].url.params["since"] == cursor
    assert all(i["updated_at"] >= cursor for i in second)
    fresh = [i for i in second if i[trigger.dedupe_key] not in seen]
    assert [i["id"] for i in fresh] == [created["id"]]


# ------------------------------------------------------------------------------ async


def test_async_paging_create_and_rate_limit(spec: ConnectorSpec) -> None:
    standin = GitHubStandIn(clock=lambda: FIXED)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> tuple[list[list[int]], dict[str, Any], list[Any]]:
        async with AsyncGenericExecutor(
            spec,
            Connection("github", credentials={"token": DEMO_TOKEN}),
            transport=httpx.MockTransport(standin),
            options=ExecutorOptions(clock=lambda: FIXED),
            sleep=fake_sleep,
        ) as executor:
            pages = [
                [i["number"] for i in page.items]
                async for page in executor.paginate(
                    "list_issues", {"owner": OWNER, "repo": REPO, "state": "all", "per_page": 10}
                ).pages()
            ]
            created = await executor.call(
                "create_issue", {"owner": OWNER, "repo": REPO, "title": "Async"}
            )
            standin.rate_limit_primary(reset_at=int(FIXED) + 7, status=429)
            comments = await executor.call(
                "list_issue_comments", {"owner": OWNER, "repo": REPO, "issue_number": 1}
            )
            return pages, created, comments

    pages, created, comments = asyncio.run(run())
    assert [len(p) for p in pages] == [10, 10, 10]
    assert pages[0][:3] == [30, 29, 28]
    urls = [str(r.url) for r in standin.requests[:3]]
    assert urls[1] == f"{BASE}/repositories/{REPO_ID}/issues?state=all&per_page=10&page=2"
    assert urls[2] == f"{BASE}/repositories/{REPO_ID}/issues?state=all&per_page=10&page=3"
    assert created["number"] == 31 and created["title"] == "Async"
    assert standin.requests[3].content == b'{"title":"Async"}'
    assert len(comments) == 25
    assert sleeps == [7.0]


# ------------------------------------------------------------- the vendor's full response shapes


@pytest.mark.parametrize(
    "fixture", documented_fixtures("github"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_documented_payloads_declare_every_field(fixture: Path) -> None:
    """Each documented payload (the vendor's own examples included) parses into the generated
    models with nothing left over in ``model_extra``: the spec declares what GitHub sends."""
    assert undeclared_in_fixture("github", fixture) == []


def test_a_field_the_spec_does_not_declare_is_reported() -> None:
    """The check above can fail: a field GitHub might add later is found as an extra."""
    repo = json.loads(
        (
            Path(__file__).resolve().parent.parent / "golden/github/get_repo/documented.json"
        ).read_text()
    )["response"]["body"]
    repo["owner"]["some_future_field"] = 1
    parsed = resource_model("github", "get_repo").model_validate(repo)
    assert undeclared(parsed) == [".owner.some_future_field"]
