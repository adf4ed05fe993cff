"""Dropbox: upload and download on the content host with the Dropbox-API-Arg JSON header, move,
delete and search (continue_v2 paging) against the spec-driven mock, and the fault scenarios."""

from __future__ import annotations

import json

import httpx
from connector_support import connection_under, mock_executor, pages_read, spec_of

from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime import Connection, GenericExecutor


class _Seen(httpx.BaseTransport):
    """Forwards to the mock and keeps each request's full URL and headers."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.requests = inner, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


def _seen_executor() -> tuple[GenericExecutor, _Seen]:
    spec = spec_of("dropbox")
    server = MockServer(spec, MockOptions(golden_root=None))
    seen = _Seen(server.transport())
    creds = default_credentials(spec)
    connection = Connection(
        "dropbox", auth="access_token", credentials={"access_token": creds["access_token"]}
    )
    return GenericExecutor(spec, connection, transport=seen), seen


def test_upload_goes_to_the_content_host_with_a_json_arg_header() -> None:
    ex, seen = _seen_executor()
    with ex:
        meta = ex.call(
            "upload_file",
            {"Dropbox-API-Arg": {"path": "/Docs/ä.txt", "mode": "overwrite"}, "content": b"hello"},
        )
    request = seen.requests[0]
    assert request.url.host == "content.dropboxapi.com"
    assert request.url.path == "/2/files/upload"
    arg = request.headers["Dropbox-API-Arg"]
    assert arg.isascii()  # non-ASCII escaped, as Dropbox requires of this header
    assert json.loads(arg) == {"path": "/Docs/ä.txt", "mode": "overwrite"}
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.content == b"hello"
    assert isinstance(meta["size"], int)


def test_download_answers_the_files_bytes() -> None:
    with mock_executor("dropbox") as (ex, server):
        data = ex.call(
            "download_file", {"Dropbox-API-Arg": {"path": "/Homework/math/Matrices.txt"}}
        )
    assert data == b"1 0\n0 1\n"
    assert server.requests[0].headers.get("dropbox-api-arg") or server.requests[0].headers.get(
        "Dropbox-API-Arg"
    )


def test_metadata_calls_stay_on_the_api_host() -> None:
    ex, seen = _seen_executor()
    with ex:
        ex.call("move", {"from_path": "/a.txt", "to_path": "/b.txt"})
        ex.call("delete", {"path": "/b.txt"})
    assert [(r.url.host, r.url.path) for r in seen.requests] == [
        ("api.dropboxapi.com", "/2/files/move_v2"),
        ("api.dropboxapi.com", "/2/files/delete_v2"),
    ]
    assert json.loads(seen.requests[1].content) == {"path": "/b.txt"}


def test_move_from_the_documented_example() -> None:
    with mock_executor("dropbox") as (ex, _):
        moved = ex.call(
            "move",
            {
                "from_path": "/Homework/math/Matrices.txt",
                "to_path": "/Homework/archive/Matrices-2026.txt",
                "autorename": False,
            },
        )
    assert moved["path_display"] == "/Homework/archive/Matrices-2026.txt"


def test_search_follows_continue_v2_over_pages() -> None:
    # search_v2 takes its page size inside options, so the mock's default size (10) applies.
    pages = pages_read("dropbox", "search", {"query": "plan"}, page_size=None, records=31)
    assert len(pages) >= 3 and sum(pages) == 31


def test_expired_access_token_ends_in_an_auth_error() -> None:
    result = connection_under("dropbox", "expired_token")
    assert result.error is not None and result.error.code in ("auth_expired", "auth_invalid")
