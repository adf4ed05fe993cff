"""GitHub's community-standard Python SDK (PyGithub) against the mock.

Configured only as its docs allow: ``Github(auth=Auth.Token(...), base_url=..., per_page=...)``;
PyGithub sends ``Authorization: token ...`` and follows the ``url`` fields of what it read.
"""

from __future__ import annotations

from patchbay.mocks.conformance.steps import Steps, bounded, equal


def run(base: str, credentials: dict[str, str]) -> Steps:
    """``base``: where the mock serves GitHub's API root."""
    from github import Auth, BadCredentialsException, Github, UnknownObjectException

    steps = Steps("github")
    token = "ghp_conformanceFAKE0000"  # any token of GitHub's shape, as a user's CI would have
    gh = Github(auth=Auth.Token(token), base_url=base, per_page=2, retry=None)
    steps.check("get_user(login)", lambda: gh.get_user("octo-dev").login, equal("octo-dev"))
    repo = steps.check(
        "get_repo",
        lambda: gh.get_repo("octo-org/hello-world"),
        lambda r: None if r.full_name == "octo-org/hello-world" else f"full_name {r.full_name!r}",
    )
    if repo is None:
        return steps
    issue = steps.check(
        "repo.create_issue(labels)",
        lambda: repo.create_issue(title="From the SDK", body="Body", labels=["bug"]),
        lambda i: (
            None
            if (i.title, i.state, [lb.name for lb in i.labels]) == ("From the SDK", "open", ["bug"])
            else f"title={i.title!r} state={i.state!r} labels={i.labels!r}"
        ),
    )
    number = issue.number if issue is not None else 1
    steps.check("repo.get_issue", lambda: repo.get_issue(number).title, equal("From the SDK"))
    steps.check(
        "issue.edit",
        lambda: _edited(repo.get_issue(number)),
        equal(("Renamed", "closed")),
    )
    comment = steps.check(
        "issue.create_comment",
        lambda: repo.get_issue(number).create_comment("Looks good"),
        lambda c: None if c.body == "Looks good" else f"body {c.body!r}",
    )
    steps.check(
        "issue.get_comments lists it",
        lambda: [c.id for c in bounded(repo.get_issue(number).get_comments())],
        lambda ids: None if comment is not None and comment.id in ids else f"ids {ids}",
    )
    steps.check(
        "repo.get_issues(state=all) pages >= 3, totalCount",
        lambda: _paged(repo),
        lambda r: None if r[0] >= 5 and r[0] == r[1] and number in r[2] else f"{r[:2]}",
    )
    hook = steps.check(
        "repo.create_hook",
        lambda: repo.create_hook(
            "web", {"url": "https://example.test/hook", "content_type": "json"}
        ),
        lambda h: None if h.id else "no id",
    )
    steps.check("hook.delete", lambda: hook.delete() if hook else None, equal(None))
    steps.raises(
        "get_issue (unknown number)", lambda: repo.get_issue(987654), UnknownObjectException
    )
    bad = Github(auth=Auth.Token("not-a-token"), base_url=base, retry=None)
    steps.raises("bad token", lambda: bad.get_repo("octo-org/hello-world"), BadCredentialsException)
    return steps


def _edited(issue: object) -> tuple[str, str]:
    issue.edit(title="Renamed", state="closed")  # type: ignore[attr-defined]
    return issue.title, issue.state  # type: ignore[attr-defined]


def _paged(repo: object) -> tuple[int, int, list[int]]:
    listing = repo.get_issues(state="all")  # type: ignore[attr-defined]
    # totalCount first: once iterated, PyGithub counts with the first URL alone (state dropped,
    # so GitHub's default, open issues only, would be counted, against GitHub as here).
    total = listing.totalCount
    numbers = [i.number for i in bounded(listing)]
    return len(numbers), total, numbers
