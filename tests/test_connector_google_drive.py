"""Google Drive: simple upload on the upload URL, metadata update with parent moves, delete,
sharing, and the changes feed (start token, then pages) against the spec-driven mock."""

from __future__ import annotations

import json

import httpx
from connector_support import mock_executor, pages_read, spec_of

from patchbay.mocks.server import MockOptions, MockServer
from patchbay.runtime import Connection, GenericExecutor, PatchbayError, StaticTokenProvider


def _executor() -> tuple[GenericExecutor, list[httpx.Request]]:
    spec = spec_of("google_drive")
    server = MockServer(spec, MockOptions(golden_root=None))
    inner = server.transport()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return inner.handle_request(request)

    token = StaticTokenProvider(server.options.access_tokens[0])
    connection = Connection("google_drive", auth="oauth2", token_provider=token)
    return GenericExecutor(spec, connection, transport=httpx.MockTransport(handler)), seen


def test_upload_sends_raw_bytes_to_the_upload_url() -> None:
    ex, seen = _executor()
    with ex:
        created = ex.call("upload_file", {"uploadType": "media", "content": b"\x00\x01bytes"})
    request = seen[0]
    assert (request.url.host, request.url.path) == ("www.googleapis.com", "/upload/drive/v3/files")
    assert request.url.params["uploadType"] == "media"
    assert request.content == b"\x00\x01bytes"
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert created["id"]


def test_update_moves_between_folders_with_query_parents() -> None:
    ex, seen = _executor()
    with ex:
        ex.call(
            "update_file",
            {"fileId": "F1", "addParents": "new", "removeParents": "old", "name": "renamed"},
        )
    request = seen[0]
    assert (request.method, request.url.path) == ("PATCH", "/drive/v3/files/F1")
    assert request.url.params["addParents"] == "new"
    assert request.url.params["removeParents"] == "old"
    assert json.loads(request.content) == {"name": "renamed"}


def test_permission_needs_role_and_type() -> None:
    ex, seen = _executor()
    with ex:
        try:
            ex.call("create_permission", {"fileId": "F1", "role": "writer"})
        except PatchbayError as exc:
            assert exc.code == "validation"
        else:
            raise AssertionError("a permission without a type was sent")
    assert seen == []


def test_delete_then_get_is_not_found() -> None:
    with mock_executor("google_drive", golden=False) as (ex, _):
        created = ex.call("create_file", {"name": "scratch"})
        ex.call("delete_file", {"fileId": created["id"]})
        try:
            ex.call("get_file", {"fileId": created["id"]})
        except PatchbayError as exc:
            assert exc.code == "not_found"
        else:
            raise AssertionError("a deleted file was still found")


def test_changes_feed_from_the_documented_start_token() -> None:
    with mock_executor("google_drive") as (ex, _):
        token = ex.call("get_changes_start_page_token", {})["startPageToken"]
        page = ex.call("list_changes", {"pageToken": token, "pageSize": 2})
    assert page["newStartPageToken"] == "1003"
    assert [c["removed"] for c in page["changes"]] == [False, True]


def test_changes_are_read_over_every_page() -> None:
    pages = pages_read("google_drive", "list_changes", {"pageToken": "1"})
    assert len(pages) >= 3 and sum(pages) == 9
