"""Google Calendar: patch, delete, quick add and free/busy against the spec-driven mock."""

from __future__ import annotations

import json

from connector_support import connection_under, mock_executor

from patchbay.runtime import PatchbayError


def test_patch_sends_only_the_given_fields() -> None:
    with mock_executor("google_calendar", golden=False) as (ex, server):
        ex.call("update_event", {"calendarId": "primary", "eventId": "e1", "summary": "x"})
    request = server.requests[0]
    assert (request.method, request.path) == ("PATCH", "/calendar/v3/calendars/primary/events/e1")
    assert json.loads(request.body) == {"summary": "x"}


def test_create_patch_delete_round_trip() -> None:
    start = {"dateTime": "2026-03-03T10:00:00Z"}
    end = {"dateTime": "2026-03-03T11:00:00Z"}
    with mock_executor("google_calendar", golden=False) as (ex, _):
        created = ex.call(
            "create_event", {"calendarId": "primary", "summary": "a", "start": start, "end": end}
        )
        patched = ex.call(
            "update_event", {"calendarId": "primary", "eventId": created["id"], "summary": "b"}
        )
        assert patched["summary"] == "b"
        ex.call("delete_event", {"calendarId": "primary", "eventId": created["id"]})
        try:
            ex.call("get_event", {"calendarId": "primary", "eventId": created["id"]})
        except PatchbayError as exc:
            assert exc.code == "not_found"
        else:
            raise AssertionError("a deleted event was still found")


def test_quick_add_puts_the_text_in_the_query() -> None:
    with mock_executor("google_calendar") as (ex, server):
        event = ex.call(
            "quick_add_event", {"calendarId": "primary", "text": "Lunch with Jo tomorrow 12:30"}
        )
    assert server.requests[0].query == [("text", "Lunch with Jo tomorrow 12:30")]
    assert event["summary"] == "Lunch with Jo"


def test_free_busy_needs_calendars() -> None:
    with mock_executor("google_calendar", golden=False) as (ex, server):
        try:
            ex.call(
                "query_free_busy",
                {"timeMin": "2026-03-03T00:00:00Z", "timeMax": "2026-03-04T00:00:00Z", "items": []},
            )
        except PatchbayError as exc:
            assert exc.code == "validation"
        else:
            raise AssertionError("a free/busy query without calendars was sent")
    assert server.requests == []


def test_free_busy_reports_busy_intervals_and_errors_per_calendar() -> None:
    with mock_executor("google_calendar") as (ex, _):
        answer = ex.call(
            "query_free_busy",
            {
                "timeMin": "2026-03-03T00:00:00Z",
                "timeMax": "2026-03-04T00:00:00Z",
                "items": [{"id": "primary"}, {"id": "nobody@example.test"}],
            },
        )
    assert answer["calendars"]["primary"]["busy"][0]["start"] == "2026-03-03T11:30:00Z"
    assert answer["calendars"]["nobody@example.test"]["errors"][0]["reason"] == "notFound"


def test_lasting_rate_limit_ends_in_rate_limited() -> None:
    result = connection_under("google_calendar", "rate_limited")
    assert result.error is not None and result.error.code == "rate_limited"
