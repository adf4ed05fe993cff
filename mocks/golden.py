"""Golden fixtures: loading, validating and matching request/response pairs.

The format is described in ``golden/README.md``. A broken fixture file is reported with its
path; the mock server never answers from a fixture that did not load.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from patchbay.mocks.request_parsing import multipart_fields
from patchbay.runtime.errors import ConfigError

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixtureRequest(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    path: str
    query: dict[str, list[str]] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class FixtureResponse(_Model):
    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    body_encoding: Literal["json", "text", "base64"] = Field(
        default="json",
        description="How body holds the response: decoded JSON, text as sent (CSV, XML), or "
        "base64 of the raw bytes (a file download).",
    )

    def wire(self) -> tuple[dict[str, str], bytes]:
        """Headers and body bytes to answer with (a content type added when none was kept)."""
        headers = dict(self.headers)
        given = {k.lower() for k in headers}
        if self.body_encoding == "base64":
            raw, default = base64.b64decode(self.body or ""), "application/octet-stream"
        elif self.body_encoding == "text":
            raw, default = str(self.body or "").encode(), "text/plain; charset=utf-8"
        else:
            raw = json.dumps(self.body).encode() if self.body is not None else b""
            default = "application/json"
        if "content-type" not in given:
            headers["Content-Type"] = default
        return headers, raw


class Fixture(_Model):
    description: str
    source: Literal["documented", "recorded", "mock"]
    source_url: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    request: FixtureRequest
    response: FixtureResponse


def load_fixture(path: Path) -> Fixture:
    try:
        return Fixture.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise ConfigError(f"golden fixture {path} is invalid: {exc}") from None


def fixtures_for(
    connector: str, action: str, root: Path = GOLDEN_DIR
) -> list[tuple[Path, Fixture]]:
    folder = root / connector / action
    return [(p, load_fixture(p)) for p in sorted(folder.glob("*.json"))]


def all_fixtures(connector: str, root: Path = GOLDEN_DIR) -> dict[str, list[tuple[Path, Fixture]]]:
    base = root / connector
    if not base.is_dir():
        return {}
    return {
        d.name: fixtures_for(connector, d.name, root) for d in sorted(base.iterdir()) if d.is_dir()
    }


def _subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


def matches(
    fixture: Fixture, method: str, path: str, query: dict[str, list[str]], body: Any
) -> bool:
    """Method and path equal; every query key and body field the fixture names is equal."""
    req = fixture.request
    if req.method != method or req.path != path or not _subset(req.query, query):
        return False
    if isinstance(req.body, dict):
        return isinstance(body, dict) and _subset(req.body, body)
    return req.body is None or req.body == body


def multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Query or form pairs as the fixture format keeps them: key -> list of values."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def decode_body(body: bytes, content_type: str) -> Any:
    """A body as the fixture format stores it: JSON, form fields as key -> list, text, or null."""
    if not body:
        return None
    if "x-www-form-urlencoded" in content_type:
        return multi(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    if "multipart/form-data" in content_type:
        return multi(multipart_fields(body, content_type))
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def encode_response(raw: bytes, content_type: str) -> tuple[Any, str]:
    """A response body as a fixture keeps it, and how: JSON (when it says so, or says nothing
    and parses) decoded; text types (text/*, XML, CSV) as text; any other bytes in base64."""
    if not raw:
        return None, "json"
    kind = content_type.lower()
    if "json" in kind or not kind:
        try:
            return json.loads(raw), "json"
        except ValueError:
            pass
    textual = not kind or any(t in kind for t in ("json", "text", "xml", "csv", "yaml"))
    if textual:
        try:
            return raw.decode("utf-8"), "text"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode(), "base64"


def dump_fixture(fixture: Fixture) -> str:
    return json.dumps(fixture.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
