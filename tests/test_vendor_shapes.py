"""Vendor-shaped payloads land in declared fields for Slack, Trello, Typeform, Dropbox, Mailgun.

Each spec was re-derived from the vendor's published description (or reference pages); these
payloads carry fields the hand-typed subsets did not declare, so before the re-derivation they
ended up in ``model_extra`` and nowhere typed. Field names and types follow the vendors; values
are made up.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchbay.connectors.dropbox.models import FolderMetadata, Metadata
from patchbay.connectors.mailgun.models import Domain, Event
from patchbay.connectors.slack.models import Conversation, User
from patchbay.connectors.trello.models import Card
from patchbay.connectors.typeform.models import GetFormResult
from pydantic import BaseModel

CASES: list[tuple[type[BaseModel], dict[str, Any], dict[str, Any]]] = [
    (
        Conversation,
        {"id": "C0123ABCD", "name": "general"},
        {"is_pending_ext_shared": False, "unlinked": 0, "pending_shared": [], "priority": 0.5},
    ),
    (
        User,
        {"id": "U0123ABCD", "name": "ada"},
        {"is_app_user": False, "has_2fa": True, "tz_offset": -25200, "color": "9f69e7"},
    ),
    (
        Card,
        {"id": "5abbe4b7ddc1b351ef961414", "name": "Card", "idList": "5abbe4b7ddc1b351ef961415"},
        {"idMembersVoted": [], "manualCoverAttachment": False, "address": None, "email": None},
    ),
    (
        GetFormResult,
        {"id": "abc123", "title": "Survey"},
        {"published_at": "2026-01-01T00:00:00Z", "thankyou_screens": [], "logic": []},
    ),
    (
        Metadata,
        {".tag": "file", "name": "a.txt"},
        {"parent_shared_folder_id": "84528192421", "media_info": {".tag": "pending"}},
    ),
    (
        FolderMetadata,
        {"name": "Docs", "id": "id:a4ayc_80_OEAAAAAAAAAXz"},
        {"shared_folder_id": "84528192421", "preview_url": "https://example.test/p"},
    ),
    (
        Domain,
        {"name": "example.com"},
        {"require_tls": True, "skip_verification": False, "use_automatic_sender_security": True},
    ),
    (
        Event,
        {"id": "czsjqFATSlC3QtAK-C80nw", "event": "opened", "timestamp": 1529704976.1},
        {
            "ip": "192.0.2.1",
            "geolocation": {"country": "US"},
            "client-info": {"client-os": "Linux"},
        },
    ),
]


@pytest.mark.parametrize(("model", "base", "vendor"), CASES, ids=[m.__name__ for m, _, _ in CASES])
def test_vendor_fields_are_declared_not_extra(
    model: type[BaseModel], base: dict[str, Any], vendor: dict[str, Any]
) -> None:
    parsed = model.model_validate({**base, **vendor})
    extra = parsed.model_extra or {}
    assert not set(vendor) & set(extra), (
        f"undeclared on {model.__name__}: {set(vendor) & set(extra)}"
    )
    dumped = parsed.model_dump(by_alias=True)
    for key in vendor:
        assert key in dumped
