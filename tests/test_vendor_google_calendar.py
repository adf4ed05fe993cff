"""Calendar events, as Calendar v3 sends them, parse into the spec's full shapes.

The event carries fields the Calendar v3 Discovery document declares and an earlier spec did not
(working location, source, out-of-office, attachments and conference data by reference); they
must be typed attributes, while a field no description declares still comes through as extra.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from patchbay.connectors.google_calendar import (
    GoogleCalendarClient,
    GoogleCalendarOauth2Credentials,
)
from patchbay.connectors.google_calendar.models import (
    Event,
    EventDateTime,
    EventWorkingLocationProperties,
)
from patchbay.runtime.http._connection import StaticTokenProvider


def _event() -> dict[str, Any]:
    return {
        "kind": "calendar#event",
        "id": "fakeevent0001",
        "status": "confirmed",
        "eventType": "workingLocation",
        "start": {"date": "2026-03-12"},
        "end": {"date": "2026-03-13"},
        "workingLocationProperties": {
            "type": "officeLocation",
            "officeLocation": {"buildingId": "ZRH-1", "floorId": "3", "label": "Zurich"},
        },
        "outOfOfficeProperties": {"autoDeclineMode": "declineNone"},
        "source": {"url": "https://example.test/ticket/1", "title": "Ticket 1"},
        "attachments": [{"fileUrl": "https://example.test/f", "title": "Agenda", "fileId": "f1"}],
        "conferenceData": {
            "conferenceId": "abc-defg-hij",
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "entryPoints": [{"entryPointType": "video", "uri": "https://meet.example.test/x"}],
        },
        "notInAnyDescription": True,
    }


def test_event_fields_from_the_description_are_typed() -> None:
    e = Event.model_validate(_event())
    wl = e.working_location_properties
    assert wl is not None and wl.office_location is not None
    assert wl.office_location.building_id == "ZRH-1"
    assert e.out_of_office_properties is not None
    assert e.out_of_office_properties.auto_decline_mode == "declineNone"
    assert e.source is not None and e.source.title == "Ticket 1"
    assert e.attachments is not None and e.attachments[0].file_id == "f1"
    conf = e.conference_data
    assert conf is not None and conf.entry_points is not None
    assert conf.entry_points[0].entry_point_type == "video"
    assert conf.conference_solution is not None and conf.conference_solution.key is not None
    assert conf.conference_solution.key.type == "hangoutsMeet"
    assert e.model_extra == {"notInAnyDescription": True}


def test_events_page_items_keep_their_full_shape() -> None:
    # The page envelope is no model (nothing returns it: list_events yields Event items).
    item = Event.model_validate(_event())
    assert item.working_location_properties is not None


def test_hand_written_enums_survive_the_import() -> None:
    """Discovery lists no enum for status; the spec's documented values still constrain it."""
    with pytest.raises(ValidationError):
        Event.model_validate({**_event(), "status": "maybe"})


def test_create_event_sends_the_newly_declared_body_fields() -> None:
    """A working-location event (a body field the description declares) goes out as JSON."""
    sent: list[dict[str, Any]] = []

    def google(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={**_event(), "id": "created0001"})

    client = GoogleCalendarClient(
        GoogleCalendarOauth2Credentials(token_provider=StaticTokenProvider("fake-token")),
        transport=httpx.MockTransport(google),
    )
    with client:
        created = client.create_event(
            calendar_id="primary",
            start=EventDateTime(date=date(2026, 3, 12)),
            end=EventDateTime(date=date(2026, 3, 13)),
            event_type="workingLocation",
            working_location_properties=EventWorkingLocationProperties(
                type="homeOffice", home_office={}
            ),
        )
    assert sent[0]["eventType"] == "workingLocation"
    assert sent[0]["workingLocationProperties"] == {"type": "homeOffice", "homeOffice": {}}
    assert created.id == "created0001" and created.working_location_properties is not None
