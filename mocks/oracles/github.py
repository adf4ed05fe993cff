"""A stand-in for the GitHub REST API (version 2022-11-28), written from GitHub's docs.

What it reproduces, because connectors get these wrong:

- bearer (or ``token``) auth; a missing token on ``/user`` is 401 ``Requires authentication``, a
  wrong one is 401 ``Bad credentials``; a private repository seen without a token is 404;
- a request without ``User-Agent`` is refused with 403, as GitHub does;
- list endpoints answer a top-level JSON array and page with ``page``/``per_page`` (default 30,
  max 100) and an RFC 8288 ``Link`` header (``prev``, ``next``, ``last``, ``first``) holding
  absolute URLs on the host the request came to. Repository lists link through
  ``/repositories/{id}/...`` the way api.github.com does, so a client must follow the URL rather
  than rebuild it;
- pull requests appear in the issue list with a ``pull_request`` key;
- errors are ``{"message", "documentation_url", "status"}``; 422 adds an ``errors`` array;
- every response carries ``x-github-request-id`` and the ``x-ratelimit-*`` headers, and the
  helpers queue the three kinds of 403/429 that must be told apart: a primary rate limit
  (``x-ratelimit-remaining: 0``), a secondary rate limit (a message, maybe ``retry-after``) and a
  plain permission error.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

import httpx

from patchbay.mocks.oracles.base import StandIn, json_response

DOCS = "https://docs.github.com/rest"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_TOKEN = "ghp_FAKEFAKEFAKE"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
RATE_LIMIT = 5000

PRIMARY_LIMIT_MESSAGE = (
    "API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, "
    "please include the request ID {request_id}."
)
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)


def iso(moment: datetime) -> str:
    """GitHub's timestamp format: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(item: dict[str, Any]) -> datetime:
    """The ``updated_at`` of a stored item (always well formed: the stand-in wrote it)."""
    moment = parse_iso(item["updated_at"])
    assert moment is not None
    return moment


class _Reply(Exception):
    """Raised inside a handler to answer at once with an error response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class GitHubStandIn(StandIn):
    """Behaves like api.github.com for one user owning one private repository with issues."""

    def __init__(
        self,
        items: int = 25,
        *,
        tokens: tuple[str, ...] = (DEMO_TOKEN,),
        login: str = "octocat",
        repo: str = "hello-world",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.clock = clock
        self._request_ids = itertools.count(1)
        self._ids = itertools.count(9_000_000)
        self._tick = itertools.count(1)
        self.user: dict[str, Any] = {
            "login": login,
            "id": 583231,
            "node_id": "MDQ6VXNlcjU4MzIzMQ==",
            "type": "User",
            "site_admin": False,
            "name": "The Octocat",
            "company": None,
            "email": None,
            "created_at": iso(BASE_TIME - timedelta(days=3650)),
            "updated_at": iso(BASE_TIME),
        }
        self.collaborators = {login, "hubot"}
        self.repos: list[dict[str, Any]] = []
        self.issues: dict[int, list[dict[str, Any]]] = {}  # repo id -> issues
        self.comments: dict[int, list[dict[str, Any]]] = {}  # issue id -> comments
        self.hooks: dict[int, list[dict[str, Any]]] = {}  # repo id -> hooks
        self.hook_secrets: dict[int, str] = {}  # hook id -> secret (never echoed)
        self._seed(items, repo)

    # ------------------------------------------------------------------------------ data

    def _seed(self, items: int, repo_name: str) -> None:
        for i in range(max(items, 1)):
            name = repo_name if i == 0 else f"repo-{i:02d}"
            repo: dict[str, Any] = {
                "id": 1296269 + i,
                "name": name,
                "full_name": f"{self.user['login']}/{name}",
                "private": i == 0,
                "visibility": "private" if i == 0 else "public",
                "description": None if i else "My first repository on GitHub!",
                "fork": False,
                "default_branch": "main",
                "has_issues": True,
                "archived": False,
                "created_at": iso(BASE_TIME + timedelta(days=i)),
                "updated_at": iso(BASE_TIME + timedelta(days=i, hours=1)),
                "pushed_at": iso(BASE_TIME + timedelta(days=i, hours=2)),
            }
            self.repos.append(repo)
            self.issues[repo["id"]] = []
            self.hooks[repo["id"]] = []
        main = self.repos[0]
        labels = ["bug", "ui", "docs"]
        for n in range(1, items + 1):
            created = BASE_TIME + timedelta(hours=n)
            # Distinct update times in another order than creation, so sort=updated matters.
            updated = created + timedelta(days=n % 3)
            issue = self._new_issue(main, n, f"Issue number {n}", created)
            issue["updated_at"] = iso(updated)
            issue["labels"] = [self._label(labels[n % 3])] + ([self._label("ui")] if n % 2 else [])
            if n % 4 == 0:
                issue["state"] = "closed"
                issue["state_reason"] = "completed"
                issue["closed_at"] = iso(updated)
            self.issues[main["id"]].append(issue)
        for k in range(1, items // 5 + 1):
            n = items + k
            created = BASE_TIME + timedelta(hours=n)
            issue = self._new_issue(main, n, f"Pull request {k}", created)
            issue["pull_request"] = {
                "url": self._api(f"/repos/{main['full_name']}/pulls/{n}"),
                "html_url": f"https://github.com/{main['full_name']}/pull/{n}",
                "merged_at": None,
            }
            issue["head"] = {
                "label": f"{self.user['login']}:feature-{k}",
                "ref": f"feature-{k}",
                "sha": hashlib.sha1(str(n).encode()).hexdigest(),
            }
            issue["draft"] = k % 2 == 0
            self.issues[main["id"]].append(issue)
        first = self.issues[main["id"]][0] if items else None
        if first is not None:
            for c in range(1, items + 1):
                self._add_comment(
                    main, first, f"Comment {c}", BASE_TIME + timedelta(days=5, minutes=c)
                )

    def _api(self, path: str) -> str:
        return f"https://api.github.com{path}"

    def _simple_user(self, login: str | None = None) -> dict[str, Any]:
        login = login or self.user["login"]
        uid = self.user["id"] if login == self.user["login"] else 108_000 + len(login)
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "url": self._api(f"/users/{login}"),
            "html_url": f"https://github.com/{login}",
            "type": "User",
            "site_admin": False,
        }

    def _label(self, name: str) -> dict[str, Any]:
        lid = 208_045_946 + sum(map(ord, name))
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": self._api(f"/labels/{name}"),
            "name": name,
            "description": None,
            "color": "f29513",
            "default": name == "bug",
        }

    def _new_issue(
        self, repo: dict[str, Any], number: int, title: str, created: datetime
    ) -> dict[str, Any]:
        issue_id = 1_000_000 + repo["id"] % 1000 * 10_000 + number
        return {
            "id": issue_id,
            "node_id": f"I_{issue_id}",
            "url": self._api(f"/repos/{repo['full_name']}/issues/{number}"),
            "repository_url": self._api(f"/repos/{repo['full_name']}"),
            "html_url": f"https://github.com/{repo['full_name']}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": None,
            "user": self._simple_user(),
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": 0,
            "author_association": "OWNER",
            "closed_at": None,
            "created_at": iso(created),
            "updated_at": iso(created),
        }

    def _add_comment(
        self, repo: dict[str, Any], issue: dict[str, Any], body: str, when: datetime
    ) -> dict[str, Any]:
        cid = next(self._ids)
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": self._api(f"/repos/{repo['full_name']}/issues/comments/{cid}"),
            "html_url": f"{issue['html_url']}#issuecomment-{cid}",
            "issue_url": issue["url"],
            "body": body,
            "user": self._simple_user(),
            "author_association": "OWNER",
            "created_at": iso(when),
            "updated_at": iso(when),
        }
        self.comments.setdefault(issue["id"], []).append(comment)
        issue["comments"] += 1
        return comment

    def _now(self) -> datetime:
        """A fake 'now' after every seeded timestamp, one minute further at each write."""
        return BASE_TIME + timedelta(days=60, minutes=next(self._tick))

    def repo(self, owner: str, name: str) -> dict[str, Any] | None:
        """A repository by owner and name; GitHub matches both case-insensitively."""
        for repo in self.repos:
            if repo["full_name"].lower() == f"{owner}/{name}".lower():
                return repo
        return None

    def repo_issues(self, repo_name: str | None = None) -> list[dict[str, Any]]:
        repo = self.repos[0] if repo_name is None else self.repo(self.user["login"], repo_name)
        assert repo is not None
        return self.issues[repo["id"]]

    def _public_repo(self, repo: dict[str, Any]) -> dict[str, Any]:
        full = repo["full_name"]
        return {
            **repo,
            "node_id": f"R_{repo['id']}",
            "owner": self._simple_user(),
            "html_url": f"https://github.com/{full}",
            "url": self._api(f"/repos/{full}"),
            "open_issues_count": sum(1 for i in self.issues[repo["id"]] if i["state"] == "open"),
        }

    def _public_issue(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in issue.items() if k not in ("head", "draft")}

    # --------------------------------------------------------------------------- faults

    def _rate_headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(RATE_LIMIT - remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }

    def _error(
        self,
        status: int,
        message: str,
        doc: str = DOCS,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"message": message, "documentation_url": doc, "status": str(status)}
        if errors is not None:
            body["errors"] = errors
        return json_response(status, body, {**self._common_headers(), **(headers or {})})

    def _common_headers(self) -> dict[str, str]:
        n = next(self._request_ids)
        return {
            "x-github-request-id": f"C0DE:{n:04X}:1A2B3C:4D5E6F:6789ABCD",
            "x-github-api-version-selected": "2022-11-28",
            **self._rate_headers(max(RATE_LIMIT - n, 1), int(self.clock()) + 3600),
        }

    def rate_limit_primary(self, reset_at: int, *, status: int = 403) -> None:
        """Queue a primary rate limit: remaining 0, wait until ``reset_at`` (epoch seconds)."""

        def reply(_request: httpx.Request) -> httpx.Response:
            headers = self._common_headers()
            headers.update(self._rate_headers(0, reset_at))
            message = PRIMARY_LIMIT_MESSAGE.format(
                user_id=self.user["id"], request_id=headers["x-github-request-id"]
            )
            body = {
                "message": message,
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"
                "#about-the-primary-rate-limit",
                "status": str(status),
            }
            return json_response(status, body, headers)

        self.queue(reply)

    def rate_limit_secondary(self, retry_after: int | None = None, *, status: int = 403) -> None:
        """Queue a secondary rate limit: a message, ``retry-after`` when given, quota left."""

        def reply(_request: httpx.Request) -> httpx.Response:
            headers = self._common_headers()
            if retry_after is not None:
                headers["retry-after"] = str(retry_after)
            body = {
                "message": SECONDARY_LIMIT_MESSAGE.format(
                    request_id=headers["x-github-request-id"]
                ),
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"
                "#about-secondary-rate-limits",
                "status": str(status),
            }
            return json_response(status, body, headers)

        self.queue(reply)

    def forbid(self, message: str = "Resource not accessible by integration") -> None:
        """Queue a plain 403 (a token without the needed permission), quota left."""
        self.queue(
            lambda _request: self._error(403, message, f"{DOCS}/issues/issues#create-an-issue")
        )

    # ------------------------------------------------------------------------ webhooks

    def webhook_delivery(
        self, hook_id: int, event: str, payload: dict[str, Any]
    ) -> tuple[dict[str, str], bytes]:
        """Headers and raw body GitHub would POST for ``event`` to a registered hook."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/044aadd",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": str(hook_id),
        }
        secret = self.hook_secrets.get(hook_id)
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        return headers, body

    # ------------------------------------------------------------------------ handling

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._route(request)
        except _Reply as reply:
            return reply.response

    def _authenticate(self, request: httpx.Request) -> bool:
        """True with a valid token, False without one; a wrong token answers 401 at once."""
        header = request.headers.get("authorization")
        if header is None:
            return False
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token.strip() not in self.tokens:
            raise _Reply(self._error(401, "Bad credentials", DOCS))
        return True

    def _route(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("user-agent"):
            raise _Reply(
                self._error(
                    403,
                    "Request forbidden by administrative rules. "
                    "Please make sure your request has a User-Agent header",
                    "https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required",
                )
            )
        authed = self._authenticate(request)
        raw = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        parts = [unquote(p) for p in raw.strip("/").split("/")]
        if parts[:2] == ["api", "v3"]:  # GitHub Enterprise Server serves the API under /api/v3
            parts = parts[2:]
        method = request.method
        if parts == ["user"] or parts[:2] == ["user", "repos"]:
            if not authed:
                raise _Reply(
                    self._error(
                        401,
                        "Requires authentication",
                        f"{DOCS}/users/users#get-the-authenticated-user",
                    )
                )
            if parts == ["user"] and method == "GET":
                return self._ok(
                    {
                        **self._simple_user(),
                        **self.user,
                        "public_repos": len(self.repos) - 1,
                        "total_private_repos": 1,
                    }
                )
            if parts == ["user", "repos"] and method == "GET":
                return self._list_user_repos(request)
            raise _Reply(self._not_found())
        if len(parts) >= 3 and parts[0] == "repos":
            repo = self.repo(parts[1], parts[2])
            rest = parts[3:]
        elif len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
            repo = next((r for r in self.repos if r["id"] == int(parts[1])), None)
            rest = parts[2:]
        else:
            raise _Reply(self._not_found())
        if repo is None or (repo["private"] and not authed):
            raise _Reply(self._not_found())
        return self._repo_route(request, method, repo, rest)

    def _repo_route(
        self, request: httpx.Request, method: str, repo: dict[str, Any], rest: list[str]
    ) -> httpx.Response:
        if rest == [] and method == "GET":
            return self._ok(self._public_repo(repo))
        if rest == ["issues"] and method == "GET":
            return self._list_issues(request, repo)
        if rest == ["issues"] and method == "POST":
            return self._create_issue(request, repo)
        if rest == ["pulls"] and method == "GET":
            return self._list_pulls(request, repo)
        if rest == ["hooks"] and method == "POST":
            return self._create_hook(request, repo)
        if len(rest) == 2 and rest[0] == "hooks" and method == "DELETE":
            return self._delete_hook(repo, rest[1])
        if len(rest) >= 2 and rest[0] == "issues":
            issue = self._find_issue(repo, rest[1])
            if rest[2:] == [] and method == "GET":
                return self._ok(self._public_issue(issue))
            if rest[2:] == [] and method == "PATCH":
                return self._update_issue(request, repo, issue)
            if rest[2:] == ["comments"] and method == "GET":
                return self._list_comments(request, repo, issue)
            if rest[2:] == ["comments"] and method == "POST":
                return self._create_comment(request, repo, issue)
        raise _Reply(self._not_found())

    # ------------------------------------------------------------------------ helpers

    def _ok(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return json_response(status, body, {**self._common_headers(), **(headers or {})})

    def _not_found(self, doc: str = DOCS) -> httpx.Response:
        return self._error(404, "Not Found", doc)

    def _validation(self, errors: list[dict[str, Any]], doc: str = DOCS) -> _Reply:
        return _Reply(self._error(422, "Validation Failed", doc, errors=errors))

    def _json_body(self, request: httpx.Request) -> dict[str, Any]:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            raise _Reply(self._error(400, "Problems parsing JSON", DOCS)) from None
        if not isinstance(body, dict):
            raise _Reply(self._error(400, "Body should be a JSON object", DOCS))
        return body

    def _find_issue(self, repo: dict[str, Any], number: str) -> dict[str, Any]:
        if number.isdigit():
            for issue in self.issues[repo["id"]]:
                if issue["number"] == int(number):
                    return issue
        raise _Reply(self._not_found(f"{DOCS}/issues/issues#get-an-issue"))

    def _page(
        self, request: httpx.Request, items: list[dict[str, Any]], link_path: str
    ) -> httpx.Response:
        """One page of ``items`` as a bare JSON array, with GitHub's ``Link`` header."""
        params = request.url.params
        try:
            per_page = int(params.get("per_page", DEFAULT_PER_PAGE))
            page = int(params.get("page", 1))
        except ValueError:
            per_page, page = DEFAULT_PER_PAGE, 1
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        page = max(page, 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        kept = [(k, v) for k, v in params.multi_items() if k != "page"]
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        if request.url.raw_path.startswith(b"/api/v3/"):
            origin += "/api/v3"

        def url(n: int) -> str:
            return f"{origin}{link_path}?{urlencode([*kept, ('page', str(n))])}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        headers = {"Link": ", ".join(links)} if links else {}
        return self._ok(chunk, headers=headers)

    # ------------------------------------------------------------------------ endpoints

    def _list_user_repos(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "type" in params and ("visibility" in params or "affiliation" in params):
            raise self._validation(
                [{"resource": "Repository", "field": "type", "code": "invalid"}],
                f"{DOCS}/repos/repos#list-repositories-for-the-authenticated-user",
            )
        repos = [self._public_repo(r) for r in self.repos]
        visibility = params.get("visibility", "all")
        if visibility != "all":
            repos = [r for r in repos if r["visibility"] == visibility]
        sort = params.get("sort", "full_name")
        reverse = params.get("direction", "asc" if sort == "full_name" else "desc") == "desc"
        key = "full_name" if sort == "full_name" else f"{sort}_at"
        repos.sort(key=lambda r: r[key], reverse=reverse)
        return self._page(request, repos, "/user/repos")

    def _list_issues(self, request: httpx.Request, repo: dict[str, Any]) -> httpx.Response:
        params = request.url.params
        state = params.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise self._validation([{"resource": "Issue", "field": "state", "code": "invalid"}])
        issues = list(self.issues[repo["id"]])
        if state != "all":
            issues = [i for i in issues if i["state"] == state]
        if "labels" in params:
            wanted = {name for name in params["labels"].split(",") if name}
            issues = [i for i in issues if wanted <= {lab["name"] for lab in i["labels"]}]
        if "since" in params:
            since = parse_iso(params["since"])
            if since is None:
                raise self._validation([{"resource": "Issue", "field": "since", "code": "invalid"}])
            issues = [i for i in issues if _stamp(i) >= since]
        sort = params.get("sort", "created")
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(sort)
        if key is None:
            raise self._validation([{"resource": "Issue", "field": "sort", "code": "invalid"}])
        desc = params.get("direction", "desc") == "desc"
        issues.sort(key=lambda i: (i[key], i["number"]), reverse=desc)
        out = [self._public_issue(i) for i in issues]
        return self._page(request, out, f"/repositories/{repo['id']}/issues")

    def _list_pulls(self, request: httpx.Request, repo: dict[str, Any]) -> httpx.Response:
        params = request.url.params
        state = params.get("state", "open")
        pulls = [i for i in self.issues[repo["id"]] if "pull_request" in i]
        if state != "all":
            pulls = [p for p in pulls if p["state"] == state]
        desc = params.get("direction", "desc") == "desc"
        pulls.sort(key=lambda p: p["created_at"], reverse=desc)
        base = {
            "label": f"{self.user['login']}:main",
            "ref": "main",
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        }
        out = [
            {
                "id": p["id"] + 500_000_000,
                "node_id": f"PR_{p['id']}",
                "url": p["pull_request"]["url"],
                "html_url": p["pull_request"]["html_url"],
                "number": p["number"],
                "state": p["state"],
                "title": p["title"],
                "body": p["body"],
                "user": p["user"],
                "draft": p["draft"],
                "head": p["head"],
                "base": base,
                "created_at": p["created_at"],
                "updated_at": p["updated_at"],
                "closed_at": p["closed_at"],
                "merged_at": None,
            }
            for p in pulls
        ]
        return self._page(request, out, f"/repositories/{repo['id']}/pulls")

    def _check_people(self, body: dict[str, Any]) -> None:
        for login in body.get("assignees") or []:
            if login not in self.collaborators:
                raise self._validation(
                    [
                        {
                            "value": login,
                            "resource": "Issue",
                            "field": "assignees",
                            "code": "invalid",
                        }
                    ],
                    f"{DOCS}/issues/issues#create-an-issue",
                )

    def _create_issue(self, request: httpx.Request, repo: dict[str, Any]) -> httpx.Response:
        body = self._json_body(request)
        title = body.get("title")
        if title is None or title == "":
            raise self._validation(
                [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                f"{DOCS}/issues/issues#create-an-issue",
            )
        self._check_people(body)
        issues = self.issues[repo["id"]]
        number = max((i["number"] for i in issues), default=0) + 1
        issue = self._new_issue(repo, number, str(title), self._now())
        issue["body"] = body.get("body")
        issue["labels"] = [self._label(name) for name in body.get("labels") or []]
        issue["assignees"] = [self._simple_user(login) for login in body.get("assignees") or []]
        issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        issues.append(issue)
        return self._ok(self._public_issue(issue), 201, {"Location": issue["url"]})

    def _update_issue(
        self, request: httpx.Request, repo: dict[str, Any], issue: dict[str, Any]
    ) -> httpx.Response:
        body = self._json_body(request)
        self._check_people(body)
        state = body.get("state")
        if state is not None and state not in ("open", "closed"):
            raise self._validation([{"resource": "Issue", "field": "state", "code": "invalid"}])
        changed = False
        for field in ("title", "body"):
            if field in body and body[field] != issue[field]:
                issue[field] = body[field]
                changed = True
        if "labels" in body:
            labels = [self._label(name) for name in body["labels"]]
            changed |= labels != issue["labels"]
            issue["labels"] = labels
        if "assignees" in body:
            people = [self._simple_user(login) for login in body["assignees"]]
            changed |= people != issue["assignees"]
            issue["assignees"] = people
            issue["assignee"] = people[0] if people else None
        if state is not None and state != issue["state"]:
            changed = True
            issue["state"] = state
            if state == "closed":
                issue["state_reason"] = body.get("state_reason") or "completed"
                issue["closed_at"] = iso(self._now())
            else:
                issue["state_reason"] = "reopened"
                issue["closed_at"] = None
        if changed:
            issue["updated_at"] = iso(self._now())
        return self._ok(self._public_issue(issue))

    def _list_comments(
        self, request: httpx.Request, repo: dict[str, Any], issue: dict[str, Any]
    ) -> httpx.Response:
        comments = sorted(self.comments.get(issue["id"], []), key=lambda c: c["id"])
        since = request.url.params.get("since")
        if since is not None:
            moment = parse_iso(since)
            if moment is None:
                raise self._validation(
                    [{"resource": "IssueComment", "field": "since", "code": "invalid"}]
                )
            comments = [c for c in comments if _stamp(c) >= moment]
        return self._page(
            request, comments, f"/repositories/{repo['id']}/issues/{issue['number']}/comments"
        )

    def _create_comment(
        self, request: httpx.Request, repo: dict[str, Any], issue: dict[str, Any]
    ) -> httpx.Response:
        body = self._json_body(request)
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise self._validation(
                [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
                f"{DOCS}/issues/comments#create-an-issue-comment",
            )
        comment = self._add_comment(repo, issue, text, self._now())
        issue["updated_at"] = comment["created_at"]
        return self._ok(comment, 201, {"Location": comment["url"]})

    def _create_hook(self, request: httpx.Request, repo: dict[str, Any]) -> httpx.Response:
        doc = f"{DOCS}/repos/webhooks#create-a-repository-webhook"
        body = self._json_body(request)
        config = body.get("config")
        if body.get("name", "web") != "web":
            raise self._validation([{"resource": "Hook", "field": "name", "code": "invalid"}], doc)
        if not isinstance(config, dict) or not config.get("url"):
            raise self._validation(
                [{"resource": "Hook", "field": "config", "code": "missing_field"}], doc
            )
        events = body.get("events") or ["push"]
        for other in self.hooks[repo["id"]]:
            if other["config"]["url"] == config["url"] and set(other["events"]) & set(events):
                raise self._validation(
                    [
                        {
                            "resource": "Hook",
                            "code": "custom",
                            "message": "Hook already exists on this repository",
                        }
                    ],
                    doc,
                )
        hook_id = next(self._ids)
        now = iso(self._now())
        base = self._api(f"/repos/{repo['full_name']}/hooks/{hook_id}")
        shown_config = {
            "url": config["url"],
            "content_type": config.get("content_type", "form"),
            "insecure_ssl": str(config.get("insecure_ssl", "0")),
        }
        if config.get("secret"):
            shown_config["secret"] = "********"
            self.hook_secrets[hook_id] = str(config["secret"])
        hook = {
            "type": "Repository",
            "id": hook_id,
            "name": "web",
            "active": body.get("active", True),
            "events": events,
            "config": shown_config,
            "url": base,
            "test_url": f"{base}/test",
            "ping_url": f"{base}/pings",
            "deliveries_url": f"{base}/deliveries",
            "created_at": now,
            "updated_at": now,
        }
        self.hooks[repo["id"]].append(hook)
        return self._ok(hook, 201, {"Location": base})

    def _delete_hook(self, repo: dict[str, Any], hook_id: str) -> httpx.Response:
        hooks = self.hooks[repo["id"]]
        for hook in hooks:
            if str(hook["id"]) == hook_id:
                hooks.remove(hook)
                self.hook_secrets.pop(hook["id"], None)
                return httpx.Response(204, headers=self._common_headers())
        raise _Reply(self._not_found(f"{DOCS}/repos/webhooks#delete-a-repository-webhook"))


def make_standin(items: int = 25) -> GitHubStandIn:
    """A stand-in that accepts DEMO's token."""
    return GitHubStandIn(items, tokens=(DEMO_TOKEN,))


DEMO: dict[str, Any] = {
    "action": "list_issues",
    "input": {"owner": "octocat", "repo": "hello-world", "state": "all", "per_page": 10},
    "credentials": {"token": DEMO_TOKEN},
    "variables": {},
}
