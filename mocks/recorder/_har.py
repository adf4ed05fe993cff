"""HAR files (browser or proxy exports) as exchanges."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from patchbay.mocks.recorder._exchange import Exchange
from patchbay.mocks.recorder._files import _content_type
from patchbay.mocks.recorder._recorder import Recorder, RecordReport
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http import loads_json

if TYPE_CHECKING:
    pass


def exchanges_from_har(path: Path) -> list[Exchange]:
    """The entries of a HAR 1.2 file (browser devtools "Save all as HAR") as exchanges."""
    try:
        doc = loads_json(path.read_text(encoding="utf-8"))
        entries = doc["log"]["entries"]
        out = []
        for i, entry in enumerate(entries):
            try:
                out.append(_har_entry(entry))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"entry {i}: {exc!r}") from None
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"HAR file {path} is invalid: {exc}") from None


def _har_entry(entry: dict[str, Any]) -> Exchange:
    req, res = entry["request"], entry["response"]
    post = req.get("postData") or {}
    req_body = (post.get("text") or "").encode()
    if not req_body and post.get("params"):
        req_body = urlencode([(p["name"], p.get("value", "")) for p in post["params"]]).encode()
    content = res.get("content") or {}
    text = content.get("text") or ""
    res_body = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()

    def pairs(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
        return [(str(h["name"]), str(h["value"])) for h in items or []]

    req_headers = pairs(req.get("headers"))
    if post.get("mimeType") and not _content_type(req_headers):
        req_headers.append(("Content-Type", post["mimeType"]))
    res_headers = pairs(res.get("headers"))
    if content.get("mimeType") and not _content_type(res_headers):
        res_headers.append(("Content-Type", content["mimeType"]))
    return Exchange(
        str(req["method"]).upper(),
        str(req["url"]),
        req_headers,
        req_body,
        int(res["status"]),
        res_headers,
        res_body,
    )


def import_har(recorder: Recorder, path: Path) -> RecordReport:
    """Record every entry of a HAR file through ``recorder`` (same matching and redaction).
    Entries without a response (status 0: blocked or cancelled) are listed as skipped."""
    for ex in exchanges_from_har(path):
        if ex.status < 100:
            recorder.report.skipped.append(f"{ex.method} {ex.url}: no response in the HAR")
            continue
        recorder.record(ex)
    return recorder.report
