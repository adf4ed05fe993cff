"""Redaction of secrets in anything that leaves Patchbay: errors, logs, reprs, recorded fixtures.

Two layers, both applied by :meth:`Redactor.text`:

* **By name.** Auth headers, key query parameters, token fields of JSON and form bodies are
  replaced whatever their value, and so are the same names inside free text:
  ``api_key=…``, ``"access_token": "…"``, ``Authorization: …`` and ``Bearer …``. A name match
  does not care how long the value is, so even a two-character key is hidden.
* **By value.** Every secret the redactor knows (the connection's credentials, the rendered
  auth header, a token fetched mid-flight) is scrubbed from free text in every form it
  travels in: as is; percent-encoded the way ``quote`` or ``quote_plus`` write it, with upper- or
  lower-case hex, or encoded twice; form-encoded; JSON- or ``repr``-escaped; and base64,
  standard or URL-safe, padded or not, and (for secrets of 7 bytes or more, whose fragments
  are long enough not to occur by chance) at any offset inside a longer base64 blob, which is
  how ``Basic base64(user:secret)`` hides a password.

The length rule: a value shorter than :data:`MIN_SECRET_LENGTH` characters is never scrubbed
*by value*, because replacing every ``ab`` in a message would mangle ordinary text (and prove
nothing). Short values are hidden by name only, and the connection layer refuses credential
values that short, so a real credential is always long enough to be scrubbed by value as well.

Cost: a secret's forms are worked out once, when it is added. They are merged into one
trie-shaped regular expression (common prefixes shared, so a scan costs about one character
test per position however many forms there are), compiled the first time text needs
scrubbing: building a redactor per executor costs nothing until an error or a log line.
"""

from __future__ import annotations

import base64
import functools
import re
import string
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

REDACTED = "[REDACTED]"

#: Values shorter than this are scrubbed by name only (see the module docstring).
MIN_SECRET_LENGTH = 4

#: Shortest base64 run scrubbed for a secret sitting at an unknown offset inside a larger
#: base64 blob; shorter runs would be too likely to occur by chance in ordinary text.
MIN_BASE64_FRAGMENT = 8

SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-api-token",
        "api-key",
        "x-auth-token",
    }
)

#: Any name ending so (after dropping case, "-", "_" and trailing digits) is sensitive: the
#: vendors' webhook signature headers (Stripe-Signature, X-Hub-Signature-256,
#: X-Slack-Signature, webhook-signature, ...) without naming a vendor here.
_SIGNATURE = "signature"

SENSITIVE_FIELDS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "api_token",
        "secret",
        "client_secret",
        "password",
        "auth_token",
        "signing_secret",
        "code_verifier",
    }
)

#: Query parameters are named more tersely than body fields (Trello ``key``/``token``).
SENSITIVE_PARAMS: frozenset[str] = SENSITIVE_FIELDS | {"token", "key", "sig", "signature"}

#: Auth schemes that may precede a credential after a header name in free text.
_SCHEMES = r"(?:Bearer|Basic|Token|Bot|Digest|OAuth|Key)\s+"
#: A name match never replaces what is already a redaction marker (plain or percent-encoded).
_NOT_REDACTED = r"(?!\[REDACTED\]|%5BREDACTED%5D)"
#: Characters that end an unquoted value in ``name=value`` text (URLs, form bodies, prose).
_VALUE_END = "\\s&;,\"'<>(){}\\[\\]"

_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
#: ``name=value``: the value runs to the next delimiter of query strings, form bodies and prose.
_ASSIGN = re.compile(rf"=\s*{_NOT_REDACTED}(?P<v>[^{_VALUE_END}]+)")
#: ``Header: value`` lines quoted in free text, with an optional auth scheme.
_HEADER_LINE = re.compile(rf":[ \t]*{_NOT_REDACTED}(?P<v>(?:{_SCHEMES})?[^\s,;\"']+)")
#: ``"name": "value"`` (JSON text) and ``'name': 'value'`` (Python reprs).
_QUOTED = re.compile(
    r"(?P<q>[\"'])(?P<n>[\w-]+)(?P=q)(?P<s>\s*:\s*)(?P<v>[\"'])"
    rf"{_NOT_REDACTED}(?:\\.|(?!(?P=v))[^\\])*(?P=v)"
)
#: A bearer credential wherever it is quoted.
_BEARER = re.compile(rf"(?P<n>\bBearer\s+){_NOT_REDACTED}[\w\-.~+/]+=*")

_LITERAL = frozenset(string.ascii_letters + string.digits)
_UNRESERVED = frozenset("-._~")
_END = ""  # trie key marking the end of a form (atoms are never empty)


def _hex(nibble: int) -> str:
    digit = "0123456789ABCDEF"[nibble]
    return digit if digit.isdigit() else f"[{digit}{digit.lower()}]"


@functools.lru_cache(maxsize=4096)
def _atom(char: str) -> str:
    """A regex for one character of a secret written in any of the text encodings it may be
    found in: as is, percent-encoded (either hex case, possibly twice), ``+`` for a space,
    JSON / ``repr`` escapes, or its UTF-8 bytes read as Latin-1 (a raw body decoded bytewise).
    """
    if char in _LITERAL:
        return char
    if char in _UNRESERVED:
        return re.escape(char)
    forms = [re.escape(char)]
    forms.append(
        "".join(
            f"%(?:25)?{_hex(b >> 4)}{_hex(b & 15)}" for b in char.encode("utf-8", "surrogatepass")
        )
    )
    code = ord(char)
    if char == " ":
        forms.append(r"\+")
    if char in "\"\\/'":
        forms.append(re.escape("\\" + char))
    if code < 0x20 or code >= 0x7F:
        units = (
            [code]
            if code < 0x10000
            else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
        )
        forms.append(
            "".join(r"\\u" + "".join(_hex((u >> s) & 15) for s in (12, 8, 4, 0)) for u in units)
        )
        if code < 0x100:
            forms.append(r"\\x" + _hex(code >> 4) + _hex(code & 15))
        short = {"\n": r"\\n", "\r": r"\\r", "\t": r"\\t", "\b": r"\\b", "\f": r"\\f"}
        if char in short:
            forms.append(short[char])
        if code >= 0x80:
            forms.append(re.escape(char.encode("utf-8", "surrogatepass").decode("latin-1")))
    return "(?:" + "|".join(forms) + ")"


def secret_forms(secret: str) -> list[str]:
    """The literal strings ``secret`` may be carried as, before text encodings: itself, and its
    base64 forms (standard and URL-safe, padded and not), plus the runs of base64 characters
    that encode only the secret when it starts 1 or 2 bytes into a larger blob."""
    raw = secret.encode("utf-8", "surrogatepass")
    forms = [secret]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(raw).decode()
        forms += [full, full.rstrip("=")]
        for offset in (0, 1, 2):
            blob = encode(b"\0" * offset + raw).decode()
            # Character i covers bits [6i, 6i + 6); keep the ones inside the secret's bits.
            start, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
            if end - start >= MIN_BASE64_FRAGMENT:
                forms.append(blob[start:end])
    return forms


def _trie_regex(node: dict[str, Any]) -> str:
    """One alternation per branching point; single-child chains are emitted without nesting.
    A form that ends where a longer one continues makes the continuation an optional group,
    and greedy matching then prefers the longer form."""
    alternatives = []
    for atom, child in node.items():
        if atom == _END:
            continue
        chain = [atom]
        while len(child) == 1 and _END not in child:
            ((atom, child),) = child.items()
            chain.append(atom)
        alternatives.append("".join(chain) + _trie_regex(child))
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if _END in node else body


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _sensitive(normal: str, names: frozenset[str]) -> bool:
    """Whether a normalized name is in ``names`` or names a signature (see ``_SIGNATURE``)."""
    return normal in names or normal.rstrip("0123456789").endswith(_SIGNATURE)


class Redactor:
    """Scrubs known secret values (in all their encodings) and sensitive names.

    Adding a secret already known is a set lookup (the executor does it on every attempt that
    carries an OAuth token); everything costly happens on the first :meth:`text` after a
    change, never per request.
    """

    __slots__ = (
        "_data_names",
        "_fields",
        "_forms",
        "_header_names",
        "_headers",
        "_lock",
        "_param_names",
        "_params",
        "_pattern",
        "_secrets",
        "_text_names",
    )

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        headers: Iterable[str] = (),
        fields: Iterable[str] = (),
        params: Iterable[str] = (),
    ) -> None:
        self._headers = SENSITIVE_HEADERS | {h.lower() for h in headers}
        self._fields = SENSITIVE_FIELDS | {f.lower() for f in fields}
        self._params = SENSITIVE_PARAMS | {p.lower() for p in params}
        # Name lookups ignore case, "-" and "_": X-Api-Key, api_key and apiKey are one name.
        self._header_names = frozenset(map(_normal, self._headers))
        self._param_names = frozenset(map(_normal, self._params))
        self._text_names = frozenset(map(_normal, self._fields | self._params | self._headers))
        self._data_names = frozenset(map(_normal, self._fields | self._headers))
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._forms: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    @property
    def secrets(self) -> frozenset[str]:
        """The values scrubbed by value (those long enough to be)."""
        return self._secrets

    def add(self, secret: str) -> None:
        """Also scrub ``secret`` from now on (an access token fetched mid-flight)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._lock:
            if secret not in self._secrets:
                self._forms = (*self._forms, *secret_forms(secret))
                self._secrets = self._secrets | {secret}
                self._pattern = None

    def _values(self) -> re.Pattern[str] | None:
        pattern = self._pattern
        if pattern is None and self._secrets:
            with self._lock:
                trie: dict[str, Any] = {}
                for form in self._forms:
                    node = trie
                    for char in form:
                        node = node.setdefault(_atom(char), {})
                    node[_END] = {}
                pattern = self._pattern = re.compile(_trie_regex(trie))
        return pattern

    def _scrub_names(self, value: str) -> str:
        """Replace the values of sensitive names in free text. Each scan is anchored on a
        literal (``=``, ``:``, a quote, ``Bearer``) so text without those costs a substring
        test; the name in front of a separator is read backwards and looked up in a set."""
        if "=" in value:
            value = self._after_names(value, _ASSIGN, self._text_names)
        if ":" in value:
            value = self._after_names(value, _HEADER_LINE, self._header_names)
            if '"' in value or "'" in value:
                value = _QUOTED.sub(self._quoted, value)
        if "Bearer" in value:
            value = _BEARER.sub(rf"\g<n>{REDACTED}", value)
        return value

    @staticmethod
    def _after_names(value: str, separator: re.Pattern[str], names: frozenset[str]) -> str:
        out: list[str] = []
        done = pos = 0
        while (m := separator.search(value, pos)) is not None:
            pos = m.start() + 1  # a value that is not replaced may hold another name=value
            end = m.start()
            while end > 0 and value[end - 1] in " \t":
                end -= 1
            start = end
            while start > 0 and value[start - 1] in _NAME_CHARS:
                start -= 1
            if start == end or not _sensitive(_normal(value[start:end]), names):
                continue
            if start > 0 and value[start - 1] == ".":
                continue  # obj.key=…: an attribute path, not a parameter
            out += [value[done : m.start("v")], REDACTED]
            done = pos = m.end()
        if not out:
            return value
        out.append(value[done:])
        return "".join(out)

    def _quoted(self, m: re.Match[str]) -> str:
        if not _sensitive(_normal(m["n"]), self._text_names):
            return m[0]
        return f"{m['q']}{m['n']}{m['q']}{m['s']}{m['v']}{REDACTED}{m['v']}"

    def leaks(self, value: str) -> bool:
        """Whether ``value`` still holds a known secret in any form (a last check before
        something is written)."""
        pattern = self._values()
        return pattern is not None and pattern.search(value) is not None

    def text(self, value: str) -> str:
        """``value`` with every known secret (any encoding) and every sensitive
        ``name=value`` / ``"name": "value"`` / header-line value replaced."""
        pattern = self._values()
        if pattern is not None:
            value = pattern.sub(REDACTED, value)
        return self._scrub_names(value)

    def headers(self, headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
        """Headers with sensitive ones replaced by name and secrets scrubbed from the rest."""
        names = self._header_names
        return {
            k: (REDACTED if _sensitive(_normal(k), names) else self.text(v))
            for k, v in headers.items()
        }

    def url(self, url: httpx.URL | str) -> str:
        """A URL with sensitive query parameters replaced by name and secrets scrubbed."""
        if isinstance(url, str):
            try:
                parsed = httpx.URL(url)
            except httpx.InvalidURL:  # redaction must never raise: scrub it as text
                return self.text(url)
            url = parsed
        if url.query:
            names = self._param_names
            params = [
                (k, REDACTED if _sensitive(_normal(k), names) else v)
                for k, v in url.params.multi_items()
            ]
            url = url.copy_with(params=params)
        return self.text(str(url))

    def data(self, value: Any) -> Any:
        """A deep copy of JSON-like data: fields with a sensitive name (a body field or a
        header name, so a logged header dict is covered) replaced, secrets scrubbed."""
        return self._data(value, self._data_names)

    def _data(self, value: Any, names: frozenset[str]) -> Any:
        if isinstance(value, dict):
            return {
                k: (REDACTED if _sensitive(_normal(str(k)), names) else self._data(v, names))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._data(v, names) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value
