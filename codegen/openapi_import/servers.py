"""Servers with variables into the spec's base URL and connection variables.

Every variable gets a pattern (a security rule: a connection value must never move the origin):
one inside the host may only be a DNS label, one elsewhere only one path segment's characters.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from patchbay.codegen.openapi_import.document import DescriptionError, Document
from patchbay.runtime.http import template_names

DNS_LABEL = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
PATH_SEGMENT = r"^[A-Za-z0-9._~-]+$"


def host_part(url: str) -> str:
    """The authority part of a URL template (between ``://`` and the next ``/``)."""
    _, sep, rest = url.partition("://")
    return rest.split("/", 1)[0] if sep else ""


def server_variables(url: str, declared: dict[str, Any], todo: list[str]) -> dict[str, Any]:
    """Connection variables for the ``{names}`` of a server URL, each with its pattern."""
    host = host_part(url)
    out: dict[str, Any] = {}
    for name in template_names(url):
        given = declared.get(name) if isinstance(declared.get(name), dict) else {}
        assert isinstance(given, dict)
        var: dict[str, Any] = {}
        if isinstance(given.get("default"), str):
            var["default"] = given["default"]
        enum = [v for v in given.get("enum", []) if isinstance(v, str)]
        if enum:
            var["enum"] = enum
        pattern = DNS_LABEL if f"{{{name}}}" in host else PATH_SEGMENT
        var["pattern"] = pattern
        bad = [v for v in [var.get("default"), *enum] if v is not None and not re.match(pattern, v)]
        if bad:
            todo.append(
                f"connection/variables/{name}: documented values {bad} do not fit the pattern "
                f"{pattern}; split the variable or list the hosts in a map"
            )
        out[name] = var
    return out


def choose_server(doc: Document, base_url: str | None) -> tuple[str, dict[str, Any]]:
    """The base URL template and its declared variables: ``base_url`` wins, else servers[0]."""
    servers = [s for s in doc.data.get("servers") or [] if isinstance(s, dict) and "url" in s]
    if base_url is not None:
        for server in servers:
            if server["url"].rstrip("/") == base_url.rstrip("/"):
                return base_url.rstrip("/"), server.get("variables") or {}
        return base_url.rstrip("/"), {}
    if not servers:
        raise DescriptionError(f"{doc.source}: no servers; give --base-url")
    server = servers[0]
    url = str(server["url"]).rstrip("/")
    if not urlsplit(url).scheme and not url.startswith("{"):
        raise DescriptionError(f"{doc.source}: server {url!r} is relative; give --base-url")
    return url, server.get("variables") or {}
