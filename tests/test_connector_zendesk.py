"""Zendesk: ticket update/delete, ticket comments and user search against the spec-driven mock,
with paging over several pages and the fault scenarios."""

from __future__ import annotations

import json

from connector_support import connection_under, mock_executor, pages_read


def test_update_ticket_sends_the_ticket_envelope() -> None:
    with mock_executor("zendesk", golden=False) as (ex, server):
        ticket = ex.call("update_ticket", {"ticket_id": 7, "status": "solved"})
    request = server.requests[0]
    assert (request.method, request.path) == ("PUT", "/api/v2/tickets/7")
    assert json.loads(request.body) == {"ticket": {"status": "solved"}}
    assert isinstance(ticket["id"], int)


def test_delete_ticket_answers_no_content() -> None:
    with mock_executor("zendesk", golden=False) as (ex, server):
        result = ex.call("delete_ticket", {"ticket_id": 7})
    assert server.requests[0].method == "DELETE"
    assert result in (None, {}, b"", "")


def test_comments_are_read_over_every_page() -> None:
    pages = pages_read("zendesk", "list_ticket_comments", {"ticket_id": 7})
    assert len(pages) >= 3 and sum(pages) == 9


def test_user_search_follows_next_page() -> None:
    pages = pages_read("zendesk", "search_users", {"query": "role:agent"})
    assert len(pages) >= 3 and sum(pages) == 9


def test_documented_comment_keeps_its_attachment() -> None:
    with mock_executor("zendesk") as (ex, _):
        comments = list(ex.paginate("list_ticket_comments", {"ticket_id": 35436, "page[size]": 2}))
    assert comments[0]["attachments"][0]["file_name"] == "crash.log"


def test_lasting_rate_limit_ends_in_rate_limited() -> None:
    result = connection_under("zendesk", "rate_limited")
    assert result.error is not None and result.error.code == "rate_limited"
