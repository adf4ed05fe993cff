"""The recorder: matches exchanges to actions, redacts them and writes fixtures."""

from __future__ import annotations

import base64
import difflib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from patchbay.mocks.golden import (
    GOLDEN_DIR,
    Fixture,
    decode_body,
    dump_fixture,
    encode_response,
    matches,
    multi,
)
from patchbay.mocks.recorder._exchange import Exchange
from patchbay.mocks.recorder._files import _content_type, scan_fixtures, write_atomic
from patchbay.mocks.recorder._redaction import (
    FixtureRedactor,
    RedactionRules,
    check_rules,
    rules_for,
)
from patchbay.mocks.request_parsing import decode_input, form_as_object
from patchbay.mocks.routing import RouteMatch, Router
from patchbay.runtime.errors import ConfigError, ValidationFailed
from patchbay.runtime.http import (
    REDACTED,
    InputCheck,
)
from patchbay.runtime.spec import (
    Action,
    ConnectorSpec,
    LinkHeaderPagination,
    resolve_schema,
)

if TYPE_CHECKING:
    pass

Mode = Literal["none", "once", "new", "all"]
MODES: tuple[Mode, ...] = ("none", "once", "new", "all")
#: Where URLs of a local stand-in point in a recording (the origin synthesized URLs carry).
STAND_IN_ORIGIN = "https://example.test"
#: Response headers worth keeping besides the spec's own: rate limits and request ids.
_RELEVANT_RESPONSE = re.compile(r"rate-?limit|retry-after|^x-request-id$|^request-id$", re.I)


@dataclass
class RecordReport:
    written: list[Path] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"wrote {p}" for p in self.written]
        out += [f"already recorded: {d}" for d in self.duplicates]
        out += [f"skipped: {s}" for s in self.skipped]
        if self.unmatched:
            out.append(f"{len(self.unmatched)} request(s) matched no action:")
            out += [f"  {u}" for u in self.unmatched]
        out += [f"problem: {p}" for p in self.problems]
        return out


def _canonical(
    spec: ConnectorSpec,
    action: Action,
    method: str,
    query: list[tuple[str, str]],
    body: bytes,
    content_type: str,
) -> tuple[str, list[tuple[str, str]], bytes, str, str]:
    """A request in the form the mock matches fixtures on, where the spec's ``mock`` block says
    the vendor reads other forms alike (Slack: GET or POST, query, form or JSON): input sent in
    the body of an action without one becomes the action's method with those fields as query
    pairs; a form body of a JSON action becomes the JSON object. The mock applies the same
    equivalence to every request, so a recording of an SDK's form POST replays for a client
    sending the canonical request. Returns (method, query, body, content type, note)."""
    from patchbay.mocks.server import input_pairs  # the mock's own reading (needs [mock])

    mock = action.mock
    if mock is None or not mock.encodings or not body:
        return method, query, body, content_type, ""
    known = {action.method, *mock.methods}
    if action.body is None and method in known:
        extra = input_pairs(body, content_type, mock.encodings)
        if extra:
            note = f" Kept as the equivalent {action.method} with its body fields as the query."
            return action.method, [*query, *extra], b"", "", note
    elif (
        action.body is not None
        and action.body.encoding == "json"
        and "form" in mock.encodings
        and "application/x-www-form-urlencoded" in content_type
    ):
        data = form_as_object(body, action.body.schema_, spec.defs)
        note = " Its form body is kept as the equivalent JSON object."
        return method, query, json.dumps(data).encode(), "application/json", note
    return method, query, body, content_type, ""


class Recorder:
    """Turns exchanges into redacted fixture files for one connector.

    ``mode`` follows VCR: ``none`` records nothing (refused), ``once`` records only when the
    connector has no recordings yet, ``new`` records requests no recording matches yet, ``all``
    records every request.
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        *,
        root: Path = GOLDEN_DIR,
        rules: RedactionRules | None = None,
        variant: str | None = None,
        mode: Mode = "new",
        stand_ins: Iterable[str] = (),
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown record mode {mode!r} (have: {', '.join(MODES)})")
        self.rules = rules if rules is not None else rules_for(spec)
        check_rules(spec, self.rules, variant)
        self.spec = spec
        self.root = root
        self.mode = mode
        self.matcher = Router(spec, stand_ins)
        self.redactor = FixtureRedactor(spec, self.rules)
        self.report = RecordReport()
        self._lock = threading.Lock()
        found, problems = scan_fixtures(spec.name, root, recorded_only=True)
        self.report.problems += problems
        self.recorded: dict[str, list[tuple[Path, Fixture]]] = found
        if mode == "none":
            raise ConfigError("record mode 'none' records nothing; use once, new or all")
        if mode == "once" and any(found.values()):
            raise ConfigError(
                f"record mode 'once': {spec.name} already has recordings under {root}; "
                "use --mode new or all to add to them"
            )

    def fixture_for(self, ex: Exchange, match: RouteMatch) -> Fixture:
        """The redacted fixture of an exchange (nothing is written here)."""
        spec, action, red = self.spec, match.action, self.redactor
        red.learn(ex)
        parts = urlsplit(ex.url)
        path = red.path(unquote(parts.path))
        method, pairs, raw_body, req_type, canonical = _canonical(
            spec,
            action,
            ex.method.upper(),
            parse_qsl(parts.query, keep_blank_values=True),
            ex.request_body,
            _content_type(ex.request_headers),
        )
        query = red.query(pairs)
        req_body = red.data(decode_body(raw_body, req_type))
        keep = {p.name.lower() for p in action.parameters if p.in_ == "header"}
        keep |= {h.lower() for h in (*action.headers, *spec.connection.headers)}
        keep -= self.rules.headers
        headers = {k: red.text(v) for k, v in ex.request_headers if k.lower() in keep}
        # The input the executor would have been given: decoded from the *redacted* request.
        params = {k: red.path(v) for k, v in match.path_params.items()}
        input_data, note = self._input(action, params, query, headers, req_body, req_type)
        res_type = _content_type(ex.response_headers)
        res_body, res_encoding = encode_response(ex.response_body, res_type)
        if res_encoding == "json":
            res_body = self._neutral(red.data(res_body))
        elif res_encoding == "text":
            res_body = self._neutral(red.text(res_body))
        else:  # raw bytes: secrets are scrubbed byte for byte (latin-1 maps bytes 1:1)
            raw = base64.b64decode(res_body).decode("latin-1")
            res_body = base64.b64encode(red.text(raw).encode("latin-1")).decode()
        res_headers = {
            k: (REDACTED if k.lower() in self.rules.headers else self._neutral(red.text(v)))
            for k, v in ex.response_headers
            if self._relevant_response_header(k)
        }
        description = f"Recorded {ex.method} {path} -> {ex.status}." + canonical + note
        return Fixture.model_validate(
            {
                "description": description,
                "source": "recorded",
                "input": input_data,
                "request": {
                    "method": method,
                    "path": path,
                    "query": multi(query),
                    "headers": headers,
                    "body": req_body,
                },
                "response": {
                    "status": ex.status,
                    "headers": res_headers,
                    "body": res_body,
                    "body_encoding": res_encoding,
                },
            }
        )

    def _neutral(self, value: Any) -> Any:
        """URLs of a local stand-in (the mock behind the proxy, the proxy itself) answered in a
        recording point at ``STAND_IN_ORIGIN`` instead: its port means nothing after the run."""
        if isinstance(value, str):
            for host in self.matcher.stand_ins:
                for scheme in ("http://", "https://"):
                    value = value.replace(scheme + host, STAND_IN_ORIGIN)
            return value
        if isinstance(value, dict):
            return {k: self._neutral(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._neutral(v) for v in value]
        return value

    def _relevant_response_header(self, name: str) -> bool:
        low = name.lower()
        if low in ("set-cookie", "cookie"):
            return False
        rl, errs = self.spec.rate_limits, self.spec.errors
        named = {
            h.lower()
            for h in (
                rl.retry_after_header,
                rl.reset_header,
                rl.remaining_header,
                errs.request_id_header,
                errs.should_retry_header,
            )
            if h
        }
        if any(isinstance(a.pagination, LinkHeaderPagination) for a in self.spec.actions):
            named.add("link")
        return (
            low in named
            or low in self.rules.keep_response_headers
            or _RELEVANT_RESPONSE.search(low) is not None
        )

    def _input(
        self,
        action: Action,
        path_params: dict[str, str],
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        content_type: str,
    ) -> tuple[dict[str, Any], str]:
        raw = b""
        if isinstance(body, dict) and "x-www-form-urlencoded" in content_type:
            raw = urlencode([(k, v) for k, vs in body.items() for v in vs]).encode()
        elif body is not None and "json" in content_type:
            raw = json.dumps(body).encode()
        try:
            data = decode_input(
                action, path_params, query, headers, raw, content_type, self.spec.defs
            )
        except (ValueError, UnicodeDecodeError):
            data = dict(path_params)
        declared = {p.name for p in action.parameters}
        body_props = (
            resolve_schema(action.body.schema_, self.spec.defs).get("properties")
            if action.body
            else None
        )
        data = {
            k: v
            for k, v in data.items()
            if k in declared or (action.body is not None and (not body_props or k in body_props))
        }
        try:
            InputCheck(self.spec.name, action, self.spec.defs).check(data)
        except ValidationFailed as exc:
            return data, f" The derived input fails the input check: {exc.message}"
        return data, ""

    def record(self, ex: Exchange) -> Path | None:
        """Redact and write one exchange; unmatched traffic is listed in the report."""
        match = self.matcher.match(ex.method, ex.url)
        if match is None:
            with self._lock:
                self.report.unmatched.append(ex.summary())
            return None
        if match.continuation:
            with self._lock:
                self.report.skipped.append(
                    f"{ex.method} {urlsplit(ex.url).path}: a continuation page of "
                    f"{match.action.name}, not a standalone fixture"
                )
            return None
        fixture = self.fixture_for(ex, match)
        text = dump_fixture(fixture)
        folder = self.root / self.spec.name / match.action.name
        self.redactor.assert_clean(text, str(folder))
        with self._lock:
            if self.mode != "all" and self._already(match.action.name, fixture):
                self.report.duplicates.append(f"{fixture.request.method} {fixture.request.path}")
                return None
            path = write_atomic(folder, text)
            self.recorded.setdefault(match.action.name, []).append((path, fixture))
            self.report.written.append(path)
        return path

    def _already(self, action: str, fixture: Fixture) -> bool:
        req = fixture.request
        return any(
            matches(old, req.method, req.path, req.query, req.body)
            and matches(
                fixture, old.request.method, old.request.path, old.request.query, old.request.body
            )
            for _, old in self.recorded.get(action, [])
        )


def closest(signature: str, candidates: list[tuple[str, str]]) -> str | None:
    """The candidate label whose signature reads most like ``signature`` (difflib ratio)."""
    best, score = None, -1.0
    for sig, label in candidates:
        ratio = difflib.SequenceMatcher(None, signature, sig).ratio()
        if ratio > score:
            best, score = label, ratio
    return best
