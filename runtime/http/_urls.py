"""Where a request may go: URL templates whose placeholders cannot move the origin, and the
same-origin rule for URLs a vendor's response hands back (next pages, ``Link`` headers).

A base URL template fixes its origin. A placeholder may stand for a DNS label of the host
(``https://{subdomain}.zendesk.com``), a whole host from a spec-authored value map (Mailgun's
``https://{region}``), the whole origin (Salesforce's ``{instance_url}``, which must then be a
bare ``https://host[:port]``), or part of one path segment (Twilio's account SID); any other
place is a spec error. After rendering, the URL is parsed again and must have exactly the
scheme, host and port the template allows: a value like ``evil.test#`` or ``../../x`` is
refused, never sent.

The shape of a template is compiled once (cached); rendering happens once per executor plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

import httpx

from patchbay.runtime.http._templating import template_names

#: One DNS label: what a user-supplied value may be inside a host.
DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: A host name of DNS labels: what a spec-authored (mapped or enumerated) host value may be.
HOSTNAME = re.compile(rf"{DNS_LABEL.pattern}(?:\.{DNS_LABEL.pattern})*")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_SCHEME_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PLACEHOLDER = re.compile(r"(\{[^{}]*\})")

Place = Literal["origin", "host", "path"]


class UrlTemplateError(ValueError):
    """A URL template puts a placeholder where it could change the origin, or is no URL."""


@dataclass(frozen=True, slots=True)
class UrlShape:
    """Where each placeholder of a URL template sits, and the template's fixed origin parts.

    ``origin_var`` is set when the template starts with a placeholder that is the whole
    origin; then ``scheme``/``host``/``port`` are empty and the value supplies them.
    """

    template: str
    origin_var: str | None
    scheme: str
    host: str  # a template over host placeholders, lowercase literal text
    port: int | None
    rest: str  # path, query and fragment: a template over path placeholders only
    places: tuple[tuple[str, Place], ...]

    def place(self, name: str) -> Place | None:
        for each, where in self.places:
            if each == name:
                return where
        return None


@lru_cache(maxsize=1024)
def url_shape(template: str) -> UrlShape:
    """Compile a URL template; :class:`UrlTemplateError` says why a template is unsafe."""
    names = template_names(template)
    places: tuple[tuple[str, Place], ...]
    if template.startswith("{"):
        first = names[0]
        rest = template[len(first) + 2 :]
        if rest and rest[0] not in "/?#":
            raise UrlTemplateError(
                f"{{{first}}} starts the URL, so it must be the whole origin "
                "(followed by '/' or nothing)"
            )
        if first in template_names(rest):
            raise UrlTemplateError(f"{{{first}}} is the origin and cannot appear again")
        places = ((first, "origin"), *((n, "path") for n in template_names(rest)))
        shape = UrlShape(template, first, "", "", None, rest, places)
    else:
        match = _SCHEME_AUTHORITY.fullmatch(template)
        if match is None:
            raise UrlTemplateError("not an absolute http(s) URL")
        scheme, authority, rest = match.groups()
        scheme = scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise UrlTemplateError(f"scheme {scheme!r} is not http or https")
        if "@" in authority:
            raise UrlTemplateError("a user name or password in a URL template is not allowed")
        host, port = authority, None
        head, colon, tail = authority.rpartition(":")
        if colon and "}" not in tail:
            if not _PORT.fullmatch(tail):
                raise UrlTemplateError(f"port {tail!r} is not a number")
            host, port = head, int(tail)
        elif colon and "{" not in head:
            raise UrlTemplateError("a placeholder in the port is not allowed")
        literal = _PLACEHOLDER.sub("x", host)
        if not HOSTNAME.fullmatch(literal):
            raise UrlTemplateError(f"host {host!r} is not a host name template")
        host_names = template_names(host)
        path_names = template_names(rest)
        if set(host_names) & set(path_names):
            raise UrlTemplateError("a placeholder appears both in the host and the path")
        places = (
            *((n, "host") for n in host_names),
            *((n, "path") for n in path_names),
        )
        shape = UrlShape(template, None, scheme, _lower_literals(host), port, rest, places)
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut >= 0 and template_names(rest[cut:]):
        raise UrlTemplateError("placeholders are allowed in the host and path, not the query")
    return shape


def _lower_literals(host: str) -> str:
    parts = _PLACEHOLDER.split(host)
    return "".join(p if i % 2 else p.lower() for i, p in enumerate(parts))


def quote_segment(value: str) -> str:
    """Encode a value into one path segment; a value of only dots is encoded too, or URL
    normalisation would treat ``..`` as "parent" and send the request elsewhere."""
    if value and value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")


def https_origin(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` when ``value`` is exactly ``https://host[:port]``, else ``None``."""
    match = _SCHEME_AUTHORITY.fullmatch(value)
    if match is None or match.group(1) != "https" or match.group(3) not in ("", "/"):
        return None
    authority = match.group(2)
    host, colon, port = authority.rpartition(":")
    if not colon:
        host, port = authority, ""
    if not HOSTNAME.fullmatch(host) or (colon and not _PORT.fullmatch(port)):
        return None
    number = int(port) if port else None
    if number is not None and not 0 < number < 65536:
        return None
    return host.lower(), None if number in (None, 443) else number


Refuse = Callable[[str, str], Exception]


def render_url(
    template: str,
    values: Mapping[str, str],
    *,
    trusted: Callable[[str], bool],
    refuse: Refuse,
    missing: Callable[[str], Exception],
) -> str:
    """Render a URL template so its origin stays the template's.

    ``trusted(name)`` says a value is spec-authored (a value map or an enum): it may then be
    a whole host name. ``refuse(name, why)`` builds the error for a value that would move the
    request; ``missing(name)`` the one for an unset variable. Values are never in messages.
    """
    try:
        shape = url_shape(template)
    except UrlTemplateError as exc:
        raise refuse("", f"the URL template is unsafe: {exc}") from None

    def value_of(name: str) -> str:
        try:
            return values[name]
        except KeyError:
            raise missing(name) from None

    if shape.origin_var is not None:
        origin = value_of(shape.origin_var)
        parsed = https_origin(origin)
        if parsed is None:
            raise refuse(shape.origin_var, "must be an https origin (https://host[:port])")
        scheme, host, port = "https", parsed[0], parsed[1]
        head = origin.rstrip("/")
    else:
        host_values: dict[str, str] = {}
        for name in template_names(shape.host):
            value = value_of(name)
            rule = HOSTNAME if trusted(name) else DNS_LABEL
            if not rule.fullmatch(value):
                why = "must be a host name" if trusted(name) else "must be one DNS label"
                raise refuse(name, f"{why} ([A-Za-z0-9-], no dots, slashes or ports)")
            host_values[name] = value
        host = _render(shape.host, host_values).lower()
        scheme, port = shape.scheme, shape.port
        head = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    path_values: dict[str, str] = {}
    for name, where in shape.places:
        if where == "path":
            value = value_of(name)
            if value == "":
                raise refuse(name, "must not be empty (it is a path segment)")
            path_values[name] = quote_segment(value)
    url = head + _render(shape.rest, path_values)
    _confirm(url, scheme, host, port, refuse, shape)
    return url


def _render(template: str, values: Mapping[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace(f"{{{name}}}", value)
    return out


def _confirm(
    url: str, scheme: str, host: str, port: int | None, refuse: Refuse, shape: UrlShape
) -> None:
    """Parse the result as httpx will send it: same scheme, host and port, nobody's user info."""
    name = shape.places[0][0] if shape.places else ""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise refuse(name, "does not make a valid URL") from None
    expected_port = None if port == _DEFAULT_PORTS.get(scheme) else port
    if (
        parsed.scheme != scheme
        or parsed.host != host
        or parsed.port != expected_port
        or parsed.userinfo
    ):
        raise refuse(name, "would move the request to another origin")


# --------------------------------------------------------------------------- the same origin


Origin = tuple[str, str, int]


def origin_of(url: httpx.URL) -> Origin:
    """Scheme, host and effective port (80/443 filled in) of an absolute URL."""
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return url.scheme, url.host, port


def show_origin(origin: Origin) -> str:
    scheme, host, port = origin
    default = _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


@lru_cache(maxsize=256)
def allowed_origins(base_url: str, extra: tuple[str, ...] = ()) -> frozenset[Origin]:
    """The origins a response may send the client to: the base URL's, plus a spec's list."""
    found = {origin_of(httpx.URL(base_url))}
    for each in extra:
        found.add(origin_of(httpx.URL(each)))
    return frozenset(found)


def normalized(url: httpx.URL) -> str:
    """A URL as the loop guard compares it: no fragment, query parameters sorted."""
    pairs = sorted(url.params.multi_items())
    return str(url.copy_with(fragment=None, params=pairs or None))


def check_override(url: str, *, refuse: Callable[[str], Exception]) -> str:
    """A base URL the user chose (``--base-url``): trusted, but it must be an http(s) URL."""
    return _checked_override(url) or _raise(refuse(url))


@lru_cache(maxsize=64)
def _checked_override(url: str) -> str | None:
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host or parsed.fragment:
        return None
    return url.rstrip("/")


def _raise(error: Exception) -> str:
    raise error
