"""What is scrubbed before a fixture is written; the redactor that learns secrets from auth
carriers."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from patchbay.mocks.recorder._exchange import Exchange
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http import (
    MIN_SECRET_LENGTH,
    REDACTED,
    SENSITIVE_FIELDS,
    SENSITIVE_HEADERS,
    SENSITIVE_PARAMS,
    Redactor,
)
from patchbay.runtime.spec import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    OAuth2Auth,
)

if TYPE_CHECKING:
    pass

#: Placeholder inside URL paths: brackets would be percent-encoded by clients.
PATH_REDACTED = "REDACTED"

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

        def lower(key: str) -> set[str]:
            return {str(v).lower() for v in doc.get(key, [])}

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
