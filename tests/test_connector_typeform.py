"""Typeform: forms, responses, workspaces and webhooks against the spec-driven mock, the
new-response trigger over a date-time cursor, paging, and the fault scenarios."""

from __future__ import annotations

from datetime import datetime

from connector_support import connection_under, mock_executor, pages_read, poll_twice

from patchbay.runtime import PatchbayError


def test_create_form_answers_201_with_a_new_id() -> None:
    with mock_executor("typeform", golden=False) as (ex, server):
        form = ex.call("create_form", {"title": "Intake", "fields": []})
    assert form["title"] == "Intake"
    assert form["id"]
    assert server.requests[0].method == "POST"


def test_create_form_requires_a_title() -> None:
    with mock_executor("typeform", golden=False) as (ex, server):
        try:
            ex.call("create_form", {"fields": []})
        except PatchbayError as exc:
            assert exc.code == "validation"
        else:
            raise AssertionError("a form without a title was sent")
    assert server.requests == []


def test_delete_responses_sends_tokens_comma_separated() -> None:
    with mock_executor("typeform", golden=False) as (ex, server):
        ex.call("delete_responses", {"form_id": "F1", "included_response_ids": ["t1", "t2"]})
    request = server.requests[0]
    assert (request.method, request.path) == ("DELETE", "/forms/F1/responses")
    assert request.query == [("included_response_ids", "t1,t2")]


def test_list_workspaces_reads_every_page() -> None:
    pages = pages_read("typeform", "list_workspaces", {})
    assert len(pages) >= 3
    assert sum(pages) == 9


def test_webhook_get_and_list_from_documented_fixtures() -> None:
    with mock_executor("typeform") as (ex, _):
        hook = ex.call("get_webhook", {"form_id": "FAKEf0rm1", "tag": "patchbay"})
        hooks = ex.call("list_webhooks", {"form_id": "FAKEf0rm1"})
    assert hook["tag"] == "patchbay" and hook["event_types"]["form_response"] is True
    assert [h["id"] for h in hooks] == [hook["id"]]


def test_new_response_trigger_cursor_is_a_date_time() -> None:
    """The cursor field is declared date-time, so the mock's submitted_at parses (it used to
    be 'mock_2789' and the trigger failed with an invalid isoformat string)."""
    first, second = poll_twice("typeform", "new_response", {"form_id": "F1"})
    assert first.items
    assert isinstance(first.cursor, str)
    datetime.fromisoformat(first.cursor)
    assert second.cursor is not None


def test_lasting_rate_limit_ends_in_rate_limited() -> None:
    result = connection_under("typeform", "rate_limited")
    assert result.error is not None and result.error.code == "rate_limited"


def test_expired_token_ends_in_an_auth_error() -> None:
    result = connection_under("typeform", "expired_token")
    assert result.error is not None and result.error.code in ("auth_expired", "auth_invalid")
