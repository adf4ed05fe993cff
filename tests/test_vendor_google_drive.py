"""Drive's File and About, as Drive v3 sends them, parse into the spec's full shapes.

The payloads carry fields the Drive v3 Discovery document declares and an earlier spec did not;
each must land in a typed attribute (not in ``model_extra``), and a field no description
declares must still come through as extra.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from patchbay.connectors.google_drive import GoogleDriveClient, GoogleDriveOauth2Credentials
from patchbay.connectors.google_drive.models import About, ContentRestriction, File
from patchbay.runtime.http._connection import StaticTokenProvider


def _file() -> dict[str, Any]:
    return {
        "kind": "drive#file",
        "id": "1FakeFileIdFakeFileIdFakeFile",
        "name": "Q3 plan",
        "mimeType": "application/vnd.google-apps.document",
        "trashed": True,
        "trashedTime": "2026-03-12T15:00:00.000Z",
        "trashingUser": {"kind": "drive#user", "displayName": "Alice", "me": True},
        "contentRestrictions": [
            {"readOnly": True, "type": "globalContentRestriction", "ownerRestricted": False}
        ],
        "downloadRestrictions": {
            "itemDownloadRestriction": {"restrictedForReaders": True, "restrictedForWriters": False}
        },
        "imageMediaMetadata": {"width": 640, "height": 480, "location": {"latitude": 47.37}},
        "labelInfo": {"labels": [{"kind": "drive#label", "id": "lbl1", "revisionId": "2"}]},
        "linkShareMetadata": {"securityUpdateEligible": True, "securityUpdateEnabled": True},
        "permissions": [{"id": "perm1", "type": "user", "role": "owner"}],
        "copyRequiresWriterPermission": False,
        "inheritedPermissionsDisabled": False,
        "thumbnailVersion": "3",
        "notInAnyDescription": {"x": 1},
    }


def test_file_fields_from_the_description_are_typed() -> None:
    f = File.model_validate(_file())
    assert f.trashing_user is not None and f.trashing_user.display_name == "Alice"
    assert f.trashed_time is not None and f.trashed_time.year == 2026
    assert f.content_restrictions is not None and f.content_restrictions[0].read_only is True
    restriction = f.download_restrictions
    assert restriction is not None and restriction.item_download_restriction is not None
    assert restriction.item_download_restriction.restricted_for_readers is True
    assert f.image_media_metadata is not None and f.image_media_metadata.width == 640
    assert f.label_info is not None and f.label_info.labels is not None
    assert f.label_info.labels[0].revision_id == "2"
    assert f.permissions is not None and f.permissions[0].role == "owner"
    assert f.link_share_metadata is not None
    assert f.thumbnail_version == "3"
    assert f.model_extra == {"notInAnyDescription": {"x": 1}}


def test_file_list_items_keep_their_full_shape() -> None:
    # The page envelope is no model (nothing returns it: list_files yields File items).
    item = File.model_validate(_file())
    assert item.content_restrictions is not None
    assert item.model_extra == {"notInAnyDescription": {"x": 1}}


def test_about_declares_drive_themes() -> None:
    about = About.model_validate(
        {
            "kind": "drive#about",
            "driveThemes": [{"id": "abacus", "backgroundImageLink": "https://example.test/t.jpg"}],
            "canCreateDrives": True,
        }
    )
    assert about.drive_themes is not None and about.drive_themes[0].id == "abacus"
    assert not about.model_extra


def test_create_file_sends_the_newly_declared_body_fields() -> None:
    """A locked file (contentRestrictions, a body field the description declares) goes out."""
    sent: list[httpx.Request] = []

    def google(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=_file())

    client = GoogleDriveClient(
        GoogleDriveOauth2Credentials(token_provider=StaticTokenProvider("fake-token")),
        transport=httpx.MockTransport(google),
    )
    with client:
        created = client.create_file(
            name="Q3 plan",
            content_restrictions=[ContentRestriction(read_only=True, reason="final")],
            writers_can_share=False,
            ocr_language="de",
        )
    body = json.loads(sent[0].content)
    assert body["contentRestrictions"] == [{"readOnly": True, "reason": "final"}]
    assert body["writersCanShare"] is False
    assert sent[0].url.params["ocrLanguage"] == "de"
    assert created.content_restrictions is not None
