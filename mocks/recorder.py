"""The recorder: real HTTP traffic in, redacted golden fixtures out.

Every exchange (a mitmproxy flow, a HAR entry, or a request the replay transport forwarded) is
matched to a spec action by :class:`mocks.routing.Router` (method, base URL and path
templates; the same routes the mock server answers on), redacted *in memory* (auth carriers,
cookies, key query parameters, token fields, configured JSON paths and regexes, and every secret
value seen on an auth carrier, wherever it reappears), and only then written, atomically, as
``golden/<connector>/<action>/recorded-<n>.json`` in the format of :mod:`mocks.golden`. So the
mock servers and the contract suite pick recordings up like any other fixture.

mitmproxy is imported only when a proxy is started: replaying needs none of it.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
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
    load_fixture,
    matches,
    multi,
)
from patchbay.mocks.routing import RouteMatch, Router
from patchbay.mocks.wire import decode_input, form_as_object
from patchbay.runtime.errors import ConfigError, ValidationFailed
from patchbay.runtime.limits import loads_json
from patchbay.runtime.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    SENSITIVE_FIELDS,
    SENSITIVE_HEADERS,
    SENSITIVE_PARAMS,
    Redactor,
)
from patchbay.runtime.spec import (
    Action,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    LinkHeaderPagination,
    OAuth2Auth,
)
from patchbay.runtime.spec_checks import resolve_schema
from patchbay.runtime.validation import InputCheck

if TYPE_CHECKING:
    from mitmproxy import http
    from mitmproxy.tools.dump import DumpMaster

Mode = Literal["none", "once", "new", "all"]
MODES: tuple[Mode, ...] = ("none", "once", "new", "all")
RECORDED_PREFIX = "recorded-"
#: Placeholder inside URL paths: brackets would be percent-encoded by clients.
PATH_REDACTED = "REDACTED"
#: Where URLs of a local stand-in point in a recording (the origin synthesized URLs carry).
STAND_IN_ORIGIN = "https://example.test"

#: Default value patterns: (name, regex, replacement). Replacements are obviously fake and
#: stable, so a replayed request redacted the same way still matches its fixture.
DEFAULT_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (
        "email",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        "redacted@example.test",
    ),
    ("phone_e164", r"(?<![\w+])\+[1-9]\d{7,14}\b", "+15550000000"),
    ("phone_us", r"(?<!\w)\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b", "555-000-0000"),
)
#: Response headers worth keeping besides the spec's own: rate limits and request ids.
_RELEVANT_RESPONSE = re.compile(r"rate-?limit|retry-after|^x-request-id$|^request-id$", re.I)


# ------------------------------------------------------------------------------------ exchanges


@dataclass(frozen=True)
class Exchange:
    """One request/response pair, whatever captured it (proxy flow, HAR entry, transport)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes

    def summary(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


def exchange_from_flow(flow: http.HTTPFlow) -> Exchange | None:
    """A finished mitmproxy flow as an exchange (bodies decoded from gzip/br/zstd)."""
    if flow.response is None:
        return None
    req, res = flow.request, flow.response
    return Exchange(
        req.method,
        req.pretty_url,
        list(req.headers.items(multi=True)),
        req.get_content(strict=False) or b"",
        res.status_code,
        list(res.headers.items(multi=True)),
        res.get_content(strict=False) or b"",
    )


# ---------------------------------------------------------------------------------- redaction


@dataclass
class RedactionRules:
    """What is scrubbed before anything is written. Names are case-insensitive."""

    headers: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    json_paths: list[str] = field(default_factory=list)
    patterns: list[tuple[str, str, str]] = field(default_factory=lambda: list(DEFAULT_PATTERNS))
    secrets: set[str] = field(default_factory=set)
    keep_response_headers: set[str] = field(default_factory=set)
    #: Auth query parameters: dropped from the fixture's query (never matched on).
    auth_params: set[str] = field(default_factory=set)

    def merged(self, other: RedactionRules) -> RedactionRules:
        return RedactionRules(
            self.headers | other.headers,
            self.params | other.params,
            self.fields | other.fields,
            [*self.json_paths, *other.json_paths],
            [*self.patterns, *(p for p in other.patterns if p not in self.patterns)],
            self.secrets | other.secrets,
            self.keep_response_headers | other.keep_response_headers,
            self.auth_params | other.auth_params,
        )


def rules_for(spec: ConnectorSpec) -> RedactionRules:
    """The rules every auth variant of ``spec`` needs: where it carries credentials, which body
    fields hold tokens (credential names, OAuth token-response fields), plus the defaults."""
    rules = RedactionRules(
        headers={h.lower() for h in SENSITIVE_HEADERS},
        params={p.lower() for p in SENSITIVE_PARAMS},
        fields={f.lower() for f in SENSITIVE_FIELDS},
    )
    # The spec's own webhook signature headers (a vendor's names come from its spec).
    rules.headers |= {w.verification.signature_header.lower() for w in spec.triggers.webhooks}
    for variant in spec.auth:
        rules.fields |= {name.lower() for name, f in variant.fields.items() if f.secret}
        if isinstance(variant, BearerAuth | OAuth2Auth):
            rules.headers.add(variant.header.lower())
        elif isinstance(variant, BasicAuth):
            rules.headers.add("authorization")
        elif isinstance(variant, ApiKeyAuth):
            names = {p.name.lower() for p in variant.params}
            if variant.in_ == "header":
                rules.headers |= names
            else:
                rules.params |= names
                rules.auth_params |= names
        if isinstance(variant, OAuth2Auth):
            tr = variant.token_response
            for path in (tr.access_token, tr.refresh_token):
                if path:
                    rules.fields.add(re.split(r"[.\[]", path)[-1].lower())
    return rules


def load_rules(path: Path) -> RedactionRules:
    """Extra rules from a JSON file: ``headers``, ``params``, ``fields``, ``json_paths``,
    ``secrets``, ``keep_response_headers`` (lists) and ``patterns`` (name -> regex, or name ->
    {"regex", "replacement"})."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
        patterns = []
        for name, value in (doc.get("patterns") or {}).items():
            regex, repl = (
                (value, REDACTED)
                if isinstance(value, str)
                else (
                    value["regex"],
                    value.get("replacement", REDACTED),
                )
            )
            re.compile(regex)
            patterns.append((str(name), str(regex), str(repl)))
        lower = lambda key: {str(v).lower() for v in doc.get(key, [])}  # noqa: E731
        return RedactionRules(
            headers=lower("headers"),
            params=lower("params"),
            fields=lower("fields"),
            json_paths=[str(p) for p in doc.get("json_paths", [])],
            patterns=[*DEFAULT_PATTERNS, *patterns],
            secrets={str(s) for s in doc.get("secrets", [])},
            keep_response_headers=lower("keep_response_headers"),
        )
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        raise ConfigError(f"redaction rules {path} are invalid: {exc}") from None


def check_rules(spec: ConnectorSpec, rules: RedactionRules, variant: str | None = None) -> None:
    """Refuse to record when a credential carrier of the auth variant (all variants by default)
    has no redaction rule: a recording would otherwise write that credential to disk."""
    try:
        variants = [spec.auth_variant(variant)] if variant else list(spec.auth)
    except KeyError:
        known = ", ".join(v.name for v in spec.auth)
        raise ConfigError(f"{spec.name} has no auth variant {variant!r} (have: {known})") from None
    missing = []
    for v in variants:
        if isinstance(v, BearerAuth | OAuth2Auth) and v.header.lower() not in rules.headers:
            missing.append(f"{v.name}: header {v.header}")
        elif isinstance(v, BasicAuth) and "authorization" not in rules.headers:
            missing.append(f"{v.name}: header Authorization")
        elif isinstance(v, ApiKeyAuth):
            pool = rules.headers if v.in_ == "header" else rules.params
            missing += [
                f"{v.name}: {v.in_} {p.name}" for p in v.params if p.name.lower() not in pool
            ]
    if missing:
        raise ConfigError(
            f"recording {spec.name} refused: no redaction rule for " + "; ".join(missing)
        )


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^{}]+\})", template)
    return re.compile(
        "^"
        + "".join(f"(?P<{p[1:-1]}>.*?)" if p.startswith("{") else re.escape(p) for p in parts)
        + "$",
        re.S,
    )


def _path_tokens(path: str) -> list[str]:
    """``a.b[0].c`` / ``data[*].email`` -> ``["a", "b", "0", "c"]``; ``*`` matches any step."""
    return [t for t in re.split(r"\.|\[|\]", path) if t != ""]


def _blanked(value: Any) -> Any:
    """A sensitive field's value redacted whole: a scalar becomes the placeholder; an object or
    a list keeps its keys and length with every leaf replaced, so the recording still has the
    shape the output schema describes (Zendesk's ``signing_secret: {algorithm, secret}``)."""
    if isinstance(value, dict):
        return {k: _blanked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blanked(v) for v in value]
    return value if value is None else REDACTED


class FixtureRedactor:
    """Applies :class:`RedactionRules` to one connector's traffic; learns secret values from
    auth carriers so they are scrubbed wherever they reappear (echoed bodies, URLs, cookies)."""

    def __init__(self, spec: ConnectorSpec, rules: RedactionRules) -> None:
        self.spec = spec
        self.rules = rules
        self._scrub = Redactor(rules.secrets, fields=rules.fields)
        self._patterns = [(re.compile(rx), repl) for _, rx, repl in rules.patterns]
        self._paths = [_path_tokens(p) for p in rules.json_paths]
        self._lock = threading.Lock()
        self.learned: set[str] = set(rules.secrets)

    # ------------------------------------------------------------------------- learning

    def _learn(self, value: str) -> None:
        value = value.strip()
        if len(value) >= MIN_SECRET_LENGTH and value not in self.learned:
            self.learned.add(value)
            self._scrub.add(value)

    def _learn_template(self, template: str, value: str, secret_names: set[str]) -> None:
        m = _template_regex(template).match(value)
        if m is None:
            self._learn(value)
            return
        for name, found in m.groupdict().items():
            if name in secret_names or name not in self._field_names:
                self._learn(found)

    @property
    def _field_names(self) -> set[str]:
        return {n for v in self.spec.auth for n in v.fields}

    def learn(self, ex: Exchange) -> None:
        """Collect the secret values this exchange carries, before redacting anything."""
        with self._lock:
            headers = {k.lower(): v for k, v in ex.request_headers}
            query = parse_qsl(urlsplit(ex.url).query, keep_blank_values=True)
            secret_names = {n for v in self.spec.auth for n, f in v.fields.items() if f.secret}
            for variant in self.spec.auth:
                if isinstance(variant, BearerAuth | OAuth2Auth):
                    got = headers.get(variant.header.lower(), "")
                    token = got.removeprefix(variant.prefix)
                    if got:
                        if isinstance(variant, BearerAuth):
                            self._learn_template(variant.token, token, secret_names)
                        self._learn(token)
                elif isinstance(variant, BasicAuth):
                    got = headers.get("authorization", "")
                    if got.lower().startswith("basic "):
                        with contextlib.suppress(ValueError):
                            pair = base64.b64decode(got[6:]).decode()
                            user, _, pw = pair.partition(":")
                            # The pair as a whole too: its base64 forms are the header itself.
                            self._learn(pair)
                            self._learn_template(variant.username, user, secret_names)
                            self._learn_template(variant.password, pw, secret_names)
                elif isinstance(variant, ApiKeyAuth):
                    source = headers if variant.in_ == "header" else dict(query)
                    key = str.lower if variant.in_ == "header" else str
                    for p in variant.params:
                        got = source.get(key(p.name), "")
                        if got:
                            self._learn_template(p.value, got.removeprefix(p.prefix), secret_names)
            # Any other sensitive header or parameter: the credential part is secret.
            for name, value in ex.request_headers:
                low = name.lower()
                if low == "cookie":
                    for part in value.split(";"):
                        self._learn(part.partition("=")[2])
                elif low in self.rules.headers and low != "authorization":
                    self._learn(value)
                elif low == "authorization" and " " in value:
                    self._learn(value.partition(" ")[2])
            for name, value in query:
                if name.lower() in self.rules.params:
                    self._learn(value)
            for name, value in ex.response_headers:
                if name.lower() == "set-cookie":
                    self._learn(value.split(";", 1)[0].partition("=")[2])

    # ------------------------------------------------------------------------ redacting

    def text(self, value: str) -> str:
        value = self._scrub.text(value)
        for rx, repl in self._patterns:
            value = rx.sub(repl, value)
        return value

    def path(self, path: str) -> str:
        return "/".join(self.text(seg).replace(REDACTED, PATH_REDACTED) for seg in path.split("/"))

    def data(self, value: Any, at: tuple[str, ...] = ()) -> Any:
        if any(self._path_hit(p, at) for p in self._paths):
            return REDACTED
        if isinstance(value, dict):
            return {
                k: (
                    _blanked(v)
                    if str(k).lower() in self.rules.fields and v not in (None, "")
                    else self.data(v, (*at, str(k)))
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(v, (*at, str(i))) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.text(value)
        return value

    @staticmethod
    def _path_hit(pattern: list[str], at: tuple[str, ...]) -> bool:
        return len(pattern) == len(at) and all(
            p in ("*", a) for p, a in zip(pattern, at, strict=True)
        )

    def query(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for k, v in pairs:
            low = k.lower()
            leaf = re.split(r"[\[\]]+", low.rstrip("]"))[-1]
            if low in self.rules.auth_params or low in self.rules.params:
                continue  # a credential: neither kept nor matched on
            out.append((k, REDACTED if leaf in self.rules.fields else self.text(v)))
        return out

    def assert_clean(self, text: str, where: str) -> None:
        """The last line of defence: a learned secret in output text, in any of its encodings
        (percent, form, JSON escapes, base64), aborts the write."""
        if self._scrub.leaks(text):
            raise ConfigError(f"refusing to write {where}: a secret survived redaction")


# ------------------------------------------------------------------------------- fixture files


def _content_type(headers: Iterable[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def write_atomic(folder: Path, text: str, prefix: str = RECORDED_PREFIX) -> Path:
    """Write ``text`` as the next free ``<prefix><n>.json`` in ``folder``: a temporary file is
    flushed to disk, then hard-linked into place (never clobbers, never half-written)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        taken = {p.name for p in folder.glob(f"{prefix}*.json")}
        n = 1
        while True:
            target = folder / f"{prefix}{n}.json"
            if target.name not in taken:
                try:
                    os.link(tmp, target)
                    return target
                except FileExistsError:
                    pass
            n += 1
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def scan_fixtures(
    connector: str, root: Path, *, recorded_only: bool = False
) -> tuple[dict[str, list[tuple[Path, Fixture]]], list[str]]:
    """Every fixture of ``connector`` by action, and one problem line (with the file's path) per
    corrupt or partial file instead of an exception: one bad file must not hide the others."""
    found: dict[str, list[tuple[Path, Fixture]]] = {}
    problems: list[str] = []
    base = root / connector
    if not base.is_dir():
        return found, problems
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.json")):
            try:
                fixture = load_fixture(path)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            if recorded_only and fixture.source != "recorded":
                continue
            found.setdefault(folder.name, []).append((path, fixture))
    return found, problems


# ----------------------------------------------------------------------------------- recorder


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
    from patchbay.mocks.server import _as_pairs  # the mock's own reading (needs [mock])

    mock = action.mock
    if mock is None or not mock.encodings or not body:
        return method, query, body, content_type, ""
    known = {action.method, *mock.methods}
    if action.body is None and method in known:
        extra = _as_pairs(body, content_type, mock.encodings)
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


# -------------------------------------------------------------------------------- HAR import


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
    pairs = lambda items: [(h["name"], h["value"]) for h in items or []]  # noqa: E731
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


# --------------------------------------------------------------------------------- drift check


@dataclass(frozen=True)
class Drift:
    action: str
    path: str
    kind: Literal["new_field", "changed_type", "invalid"]
    detail: str
    fixture: Path

    def line(self, connector: str) -> str:
        where = self.path or "(body)"
        return f"{connector}.{self.action}: {self.kind.replace('_', ' ')} at {where}: {self.detail}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _branches(schema: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(schema, dict):
        return []
    schema = resolve_schema(schema, defs)
    subs = [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, [])]
    if not subs:
        return [schema]
    out = [schema] if ("type" in schema or "properties" in schema) else []
    for sub in subs:
        out += _branches(sub, defs)
    return out


def _types(branches: list[dict[str, Any]]) -> set[str] | None:
    """The JSON types the branches allow; None when any branch allows everything."""
    kinds: set[str] = set()
    for b in branches:
        t = b.get("type")
        if t is None:
            if "properties" in b:
                kinds.add("object")
                continue
            if "enum" in b or "const" in b:
                vals = b.get("enum", [b.get("const")])
                kinds |= {_json_type(v) for v in vals}
                continue
            return None
        kinds |= set(t) if isinstance(t, list) else {t}
    return kinds


def _walk_drift(
    value: Any, schema: Any, defs: dict[str, Any], at: str
) -> Iterator[tuple[str, str, str]]:
    branches = _branches(schema, defs)
    if not branches:
        return
    kinds = _types(branches)
    actual = _json_type(value)
    if kinds is not None:
        ok = actual in kinds or (actual == "integer" and "number" in kinds)
        if not ok:
            yield at, "changed_type", f"the spec says {'|'.join(sorted(kinds))}, recorded {actual}"
            return
    if isinstance(value, dict):
        props: dict[str, Any] = {}
        closed = False
        for b in branches:
            props.update(b.get("properties", {}))
            closed = closed or "properties" in b or b.get("additionalProperties") is False
        extra = next(
            (
                b["additionalProperties"]
                for b in branches
                if isinstance(b.get("additionalProperties"), dict)
            ),
            None,
        )
        for key, sub in value.items():
            where = f"{at}.{key}" if at else key
            if key in props:
                yield from _walk_drift(sub, props[key], defs, where)
            elif extra is not None:
                yield from _walk_drift(sub, extra, defs, where)
            elif closed:
                yield where, "new_field", f"{_json_type(sub)} not in the output schema"
    elif isinstance(value, list):
        items = next((b["items"] for b in branches if isinstance(b.get("items"), dict)), None)
        if items is not None:
            seen: set[tuple[str, str, str]] = set()
            for i, item in enumerate(value):
                for found in _walk_drift(item, items, defs, f"{at}[{i}]"):
                    key = (re.sub(r"\[\d+\]", "[*]", found[0]), found[1], found[2])
                    if key not in seen:
                        seen.add(key)
                        yield key


def drift(spec: ConnectorSpec, fixtures: dict[str, list[tuple[Path, Fixture]]]) -> list[Drift]:
    """What recorded 2xx responses carry that the action's output schema lacks (new fields) or
    types differently; each finding once per action, naming the first fixture that shows it."""
    out: list[Drift] = []
    for action_name, found in sorted(fixtures.items()):
        try:
            action = spec.action(action_name)
        except KeyError:
            out += [
                Drift(action_name, "", "invalid", "the spec has no such action", p)
                for p, _ in found[:1]
            ]
            continue
        if action.output.format != "json" or not action.output.schema_:
            continue
        seen: set[tuple[str, str]] = set()
        for path, fixture in found:
            if fixture.source != "recorded" or not 200 <= fixture.response.status < 300:
                continue
            for where, kind, detail in _walk_drift(
                fixture.response.body, action.output.schema_, spec.defs, ""
            ):
                if (where, kind) not in seen:
                    seen.add((where, kind))
                    out.append(Drift(action_name, where, kind, detail, path))  # type: ignore[arg-type]
    return out


# ------------------------------------------------------------------------------------ proxying


class RecorderAddon:
    """A mitmproxy addon: each finished flow goes through :meth:`Recorder.record`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def response(self, flow: http.HTTPFlow) -> None:
        ex = exchange_from_flow(flow)
        if ex is not None:
            self.recorder.record(ex)

    def error(self, flow: http.HTTPFlow) -> None:
        msg = flow.error.msg if flow.error else "unknown error"
        with self.recorder._lock:
            self.recorder.report.skipped.append(
                f"{flow.request.method} {flow.request.pretty_url}: {msg}"
            )


@dataclass
class RunningProxy:
    """A mitmproxy instance serving on a loopback port from a background thread."""

    host: str
    port: int
    confdir: Path
    _master: DumpMaster
    _thread: threading.Thread
    errors: list[BaseException]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca_cert(self) -> Path:
        """The CA clients must trust (``verify=`` / ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``)."""
        return self.confdir / "mitmproxy-ca-cert.pem"

    def stop(self, timeout: float = 10.0) -> None:
        self._master.shutdown()
        self._thread.join(timeout)

    def __enter__(self) -> RunningProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(
    recorder: Recorder,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    confdir: Path | None = None,
    upstream_ca: Path | None = None,
    insecure: bool = False,
    timeout: float = 15.0,
    reverse_to: str | None = None,
) -> RunningProxy:
    """Run mitmproxy (``DumpMaster``: mitmdump without its console output) with a
    :class:`RecorderAddon`. ``port=0`` picks a free port. ``upstream_ca`` is the CA the proxy
    trusts for the vendor side (a self-signed stand-in); ``insecure`` skips that check.
    ``reverse_to`` (an origin, ``http://127.0.0.1:8765``) runs it as a reverse proxy in front
    of that server: a client is pointed at the proxy's URL as its base address instead of
    being configured to use a proxy (what an SDK that only takes a base URL needs); the
    recorder then sees the proxy's own host, so list it among its stand-ins."""
    import asyncio

    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    confdir = (confdir or Path("~/.mitmproxy")).expanduser()
    confdir.mkdir(parents=True, exist_ok=True)
    ready = threading.Event()
    state: dict[str, Any] = {}
    errors: list[BaseException] = []

    class _Ready:
        def running(self) -> None:
            ready.set()

    def serve() -> None:
        async def main() -> None:
            opts = options.Options(
                listen_host=host,
                listen_port=port,
                confdir=str(confdir),
                ssl_insecure=insecure,
            )
            if upstream_ca is not None:
                opts.update(ssl_verify_upstream_trusted_ca=str(upstream_ca))
            master = DumpMaster(opts, with_termlog=False, with_dumper=False)
            if reverse_to is not None:  # (keep_host_header exists once the addons are loaded)
                # The client's Host reaches the server, so the absolute URLs it answers with
                # (next links, resource urls) point back through the proxy.
                opts.update(mode=[f"reverse:{reverse_to}"], keep_host_header=True)
            master.addons.add(RecorderAddon(recorder), _Ready())
            state["master"] = master
            await master.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the caller, not lost in the thread
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=serve, name="patchbay-mitmproxy", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    if not ready.wait(timeout) or errors or "master" not in state:
        raise ConfigError(f"mitmproxy did not start on {host}:{port}: {errors or 'timeout'}")
    master: DumpMaster = state["master"]
    addrs = master.addons.get("proxyserver").listen_addrs()
    while not addrs and time.monotonic() < deadline:
        time.sleep(0.05)
        addrs = master.addons.get("proxyserver").listen_addrs()
    if not addrs:
        master.shutdown()
        raise ConfigError(f"mitmproxy is not listening on {host}:{port}")
    return RunningProxy(host, int(addrs[0][1]), confdir, master, thread, errors)


def closest(signature: str, candidates: list[tuple[str, str]]) -> str | None:
    """The candidate label whose signature reads most like ``signature`` (difflib ratio)."""
    best, score = None, -1.0
    for sig, label in candidates:
        ratio = difflib.SequenceMatcher(None, signature, sig).ratio()
        if ratio > score:
            best, score = label, ratio
    return best
