"""Building requests from an action and its input: URL, path, query, headers and body.

An action's input is one flat object; each property goes where the spec declares it (path,
query, header, body). :class:`RequestParts` keeps the body *unencoded* until the last moment so
paging can put a cursor in a body and retries can rebuild the same request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import httpx

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http._templating import render
from patchbay.runtime.http._urls import quote_segment
from patchbay.runtime.spec._model import Action, Body, Parameter


def wire_scalar(value: Any) -> str:
    """A scalar as vendors expect it on the wire: lowercase booleans, no ``None``."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten_brackets(prefix: str, value: Any, *, index_lists: bool = True) -> list[tuple[str, str]]:
    """Stripe-style nesting: ``{"a": {"b": 1}, "c": [x]}`` -> ``a[b]=1``, ``c[0]=x``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        out: list[tuple[str, str]] = []
        for key, sub in value.items():
            out += flatten_brackets(f"{prefix}[{key}]", sub, index_lists=index_lists)
        return out
    if isinstance(value, list | tuple):
        out = []
        for i, sub in enumerate(value):
            out += flatten_brackets(
                f"{prefix}[{i if index_lists else ''}]", sub, index_lists=index_lists
            )
        return out
    return [(prefix, wire_scalar(value))]


def encode_param(param: Parameter, value: Any) -> list[tuple[str, str]]:
    """Query pairs for one parameter value, following the parameter's ``style``."""
    name = param.name
    style = param.style
    if style == "json":
        return [(name, json.dumps(value, separators=(",", ":")))]
    if isinstance(value, list | tuple):
        if style == "comma":
            return [(name, ",".join(wire_scalar(v) for v in value))] if value else []
        if style == "brackets":
            return [(f"{name}[]", wire_scalar(v)) for v in value]
        if style == "deep_object":
            return flatten_brackets(name, list(value), index_lists=False)
        return [(name, wire_scalar(v)) for v in value]
    if isinstance(value, Mapping):
        if style == "form":
            return [(k, wire_scalar(v)) for k, v in value.items()]
        return flatten_brackets(name, value)
    return [(name, wire_scalar(value))]


def encode_form(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A form body with nested objects and lists in bracket notation (Stripe)."""
    out: list[tuple[str, str]] = []
    for key, value in fields.items():
        out += flatten_brackets(key, value)
    return out


@dataclass(slots=True)
class RequestParts:
    """A request before encoding: retried and paged requests are rebuilt from this."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Body | None = None
    body_fields: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> RequestParts:
        return replace(
            self,
            params=list(self.params),
            headers=dict(self.headers),
            body_fields=dict(self.body_fields),
        )

    def to_request(
        self,
        timeout: httpx.Timeout | None,
        *,
        headers: dict[str, str] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> httpx.Request:
        """Encode the request; ``headers``/``params`` replace the stored ones (signed copies)."""
        extensions = {"timeout": timeout.as_dict()} if timeout is not None else None
        headers = self.headers if headers is None else headers
        params = self.params if params is None else params
        return self._encode(headers, tuple(params) if params else None, extensions)

    def _encode(
        self,
        base_headers: dict[str, str],
        params: tuple[tuple[str, str], ...] | None,
        extensions: dict[str, Any] | None,
    ) -> httpx.Request:
        body = self.body
        headers = base_headers
        content: bytes | None = None
        if body is not None:
            fields = self.body_fields
            if body.envelope is not None:
                fields = {body.envelope: fields}
            if body.encoding == "json":
                content = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
                headers = _with_content_type(base_headers, "application/json")
            elif body.encoding == "form":
                content = urlencode(encode_form(fields)).encode()
                headers = _with_content_type(base_headers, "application/x-www-form-urlencoded")
            elif body.encoding == "multipart":
                return self._multipart(body, fields, base_headers, params, extensions)
            else:
                raw = self.body_fields.get(body.raw_field or "", b"")
                content = raw if isinstance(raw, bytes) else str(raw).encode()
                if body.content_type is not None:
                    headers = _with_content_type(base_headers, body.content_type)
        return httpx.Request(
            self.method,
            self.url,
            params=params,
            headers=headers,
            content=content,
            extensions=extensions,
        )

    def _multipart(
        self,
        body: Body,
        fields: dict[str, Any],
        headers: dict[str, str],
        params: tuple[tuple[str, str], ...] | None,
        extensions: dict[str, Any] | None,
    ) -> httpx.Request:
        """httpx writes the boundary and parts; files become (name, bytes, type) tuples."""
        # Plain fields go as parts without a filename, so the body is multipart even when no
        # file is attached (httpx would fall back to a urlencoded form).
        parts: list[tuple[str, tuple[str | None, bytes | str, str | None]]] = []
        for key, value in fields.items():
            if key in body.files:
                parts.append((key, _file_tuple(key, value)))
            else:
                parts += [(k, (None, v, None)) for k, v in encode_form({key: value})]
        return httpx.Request(
            self.method,
            self.url,
            params=params,
            headers=headers,
            files=parts,
            extensions=extensions,
        )


def _with_content_type(headers: dict[str, str], value: str) -> dict[str, str]:
    """Add a default Content-Type unless the spec or caller set one (in any letter case)."""
    if any(k.lower() == "content-type" for k in headers):
        return headers
    return {"Content-Type": value, **headers}


def _file_tuple(name: str, value: Any) -> tuple[str, bytes, str]:
    if isinstance(value, Mapping):
        content = value.get("content", b"")
        data = content if isinstance(content, bytes) else str(content).encode()
        return (
            str(value.get("filename", name)),
            data,
            str(value.get("content_type", "application/octet-stream")),
        )
    data = value if isinstance(value, bytes) else str(value).encode()
    return (name, data, "application/octet-stream")


class RequestBuilder:
    """Turns validated input into :class:`RequestParts` for one action (compiled once)."""

    __slots__ = ("_action", "_base_url", "_body_props", "_headers", "_params", "_variables")

    def __init__(
        self,
        action: Action,
        *,
        base_url: str,
        headers: Mapping[str, str],
        variables: Mapping[str, str],
    ) -> None:
        self._action = action
        self._base_url = base_url.rstrip("/")
        self._headers = {**headers}
        self._params = {p.name: p for p in action.parameters}
        body = action.body
        props = body.schema_.get("properties", {}) if body is not None else {}
        self._body_props = frozenset(props) if isinstance(props, dict) else frozenset()
        self._variables = dict(variables)

    @property
    def base_url(self) -> str:
        return self._base_url

    def build(self, data: Mapping[str, Any]) -> RequestParts:
        action = self._action
        path_values: dict[str, str] = dict(self._variables)
        params: list[tuple[str, str]] = []
        headers = dict(self._headers)
        body_fields: dict[str, Any] = {}
        for key, value in data.items():
            param = self._params.get(key)
            if param is None:
                if key in self._body_props:
                    body_fields[key] = value
                continue
            if value is None:
                continue
            if param.in_ == "path":
                path_values[key] = wire_scalar(value)
            elif param.in_ == "query":
                params += encode_param(param, value)
            elif param.style == "json":
                headers[param.name] = json.dumps(value, separators=(",", ":"))
            else:
                headers[param.name] = wire_scalar(value)

        def missing(name: str) -> ConfigError:
            return ConfigError(f"path variable {name!r} has no value", action=action.name)

        path = render(action.path, path_values, missing=missing, quote=quote_segment)
        return RequestParts(
            method=action.method,
            url=self._base_url + path,
            params=params,
            headers=headers,
            body=action.body,
            body_fields=body_fields,
        )
