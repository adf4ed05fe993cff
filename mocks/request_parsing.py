"""Reading a request the way the vendor would: wire format -> the action's flat input.

The inverse of ``runtime.http._requests``: query strings and form fields are typed by the
parameter's schema, Stripe-style ``a[b][0]`` keys are folded back into objects and lists, JSON
bodies are unwrapped from their envelope. The mock then validates the result with the very same
input check the executor uses.
"""

from __future__ import annotations

import contextlib
import email.policy
import json
import re
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from patchbay.runtime.spec import Action, JsonSchema, resolve_schema

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def coerce(text: str, schema: JsonSchema, defs: dict[str, JsonSchema]) -> Any:
    """A wire string as the type its schema expects (left as text when it does not parse)."""
    schema = resolve_schema(schema, defs)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        if isinstance(branch, dict):
            kinds.append(resolve_schema(branch, defs).get("type"))
    if "integer" in kinds:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def _unfold(value: Any, param: Any, schema: JsonSchema, defs: dict[str, JsonSchema]) -> Any:
    """A query value split or decoded as its parameter's style says (comma, JSON, array)."""
    if param is None:
        return value
    if param.style == "comma" and isinstance(value, str):
        value = value.split(",") if value else []
    if param.style == "json" and isinstance(value, str):
        value = json.loads(value)
    if resolve_schema(schema, defs).get("type") == "array" and not isinstance(value, list):
        value = [value]
    return value


def _coerce_tree(value: Any, schema: JsonSchema, defs: dict[str, JsonSchema]) -> Any:
    schema = resolve_schema(schema, defs)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
            resolved = resolve_schema(branch, defs) if isinstance(branch, dict) else {}
            props = props or resolved.get("properties", {})
            extra = extra if extra is not None else resolved.get("additionalProperties")
        return {
            k: _coerce_tree(v, props.get(k, extra if isinstance(extra, dict) else {}), defs)
            for k, v in value.items()
        }
    if isinstance(value, list) and schema.get("type") == "object":
        # ``metadata[0]=x`` folds to a list, but the schema says it is an object keyed "0".
        return _coerce_tree({str(i): v for i, v in enumerate(value)}, schema, defs)
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_coerce_tree(v, items if isinstance(items, dict) else {}, defs) for v in value]
    if isinstance(value, str):
        return coerce(value, schema, defs)
    return value


def _child(schema: JsonSchema, part: str, defs: dict[str, JsonSchema]) -> JsonSchema:
    """The schema one bracket segment down (a property, a map value or a list item)."""
    schema = resolve_schema(schema, defs)
    props = schema.get("properties", {})
    if isinstance(props, dict) and part in props:
        return props[part] if isinstance(props[part], dict) else {}
    for key in ("additionalProperties", "items"):
        inner = schema.get(key)
        if isinstance(inner, dict):
            return inner
    return {}


def _is_object(schema: JsonSchema, defs: dict[str, JsonSchema]) -> bool:
    schema = resolve_schema(schema, defs)
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "object" in kinds or ("array" not in kinds and "additionalProperties" in schema)


def unflatten(
    pairs: list[tuple[str, str]],
    schema: JsonSchema | None = None,
    defs: dict[str, JsonSchema] | None = None,
) -> dict[str, Any]:
    """``a[b]=1``, ``c[0]=x``, ``d[]=y`` -> nested dicts and lists (Stripe form encoding).

    A numeric segment opens a list unless ``schema`` says that place is an object: Stripe's
    ``metadata[0]=x`` is the key ``"0"`` of a map, not the first item of a list.
    """
    defs = defs or {}
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_BRACKETS.findall(key[len(head) :])]
        node: Any = root
        where: JsonSchema = schema or {}
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            where = _child(where, part, defs) if where else {}
            numeric = nxt is not None and (nxt == "" or nxt.isdigit())
            container: Any = [] if numeric and not _is_object(where, defs) else {}
            if isinstance(node, list):
                if part == "" or not part.isdigit() or int(part) >= len(node):
                    node.append(value if last else container)
                    node = node[-1]
                else:
                    node = node[int(part)]
            else:
                if last:
                    if part in node:
                        current = node[part]
                        node[part] = (
                            [*current, value] if isinstance(current, list) else [current, value]
                        )
                    else:
                        node[part] = value
                else:
                    node = node.setdefault(part, container)
    return root


def multipart_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """``(name, value)`` of every part; a file part's value is its content as text."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    out = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            out.append((name, payload.decode(errors="replace")))
    return out


def decode_input(
    action: Action,
    path_params: dict[str, str],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    content_type: str,
    defs: dict[str, JsonSchema],
) -> dict[str, Any]:
    """The flat input the request carries; undeclared query keys are kept (and so rejected)."""
    data: dict[str, Any] = {}
    params = {p.name: p for p in action.parameters}
    for name, value in path_params.items():
        if name in params:
            data[name] = coerce(value, params[name].schema_, defs)
    # Declared names are taken as they are (Zendesk's "page[size]"); others fold (Stripe).
    direct = [(k, v) for k, v in query if k in params]
    query_schema: JsonSchema = {"properties": {n: p.schema_ for n, p in params.items()}}
    folded = unflatten([(k, v) for k, v in query if k not in params], query_schema, defs)
    for name, value in direct:
        if name in folded:
            continue
        current = folded.get(name)
        folded[name] = (
            value
            if current is None
            else [*current, value]
            if isinstance(current, list)
            else [current, value]
        )
    for name, item in folded.items():
        param = params.get(name)
        schema = param.schema_ if param is not None else {}
        data[name] = _coerce_tree(_unfold(item, param, schema, defs), schema, defs)
    lowered = {k.lower(): v for k, v in headers.items()}
    for param in action.parameters:
        if param.in_ == "header" and param.name.lower() in lowered:
            raw = lowered[param.name.lower()]
            data[param.name] = (
                json.loads(raw) if param.style == "json" else coerce(raw, param.schema_, defs)
            )
    spec_body = action.body
    if spec_body is None or not body:
        return data
    schema = spec_body.schema_
    if spec_body.encoding == "json" or "json" in content_type:
        decoded = json.loads(body)
        if spec_body.envelope is not None and isinstance(decoded, dict):
            decoded = decoded.get(spec_body.envelope, {})
        if isinstance(decoded, dict):
            data.update(decoded)
    elif spec_body.encoding == "form":
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        data.update(_coerce_tree(unflatten(pairs, schema, defs), schema, defs))
    elif spec_body.encoding == "multipart" or "multipart/form-data" in content_type:
        fields = multipart_fields(body, content_type)
        data.update(_coerce_tree(unflatten(fields, schema, defs), schema, defs))
    elif spec_body.encoding == "raw" and spec_body.raw_field is not None:
        data[spec_body.raw_field] = body.decode(errors="replace")
    return data


def form_as_object(body: bytes, schema: JsonSchema, defs: dict[str, JsonSchema]) -> dict[str, Any]:
    """A form body read for an action whose own body is JSON (Slack takes either): fields are
    typed by the schema, and list or object fields sent as JSON text are parsed."""
    data = unflatten(parse_qsl(body.decode(), keep_blank_values=True))
    props = resolve_schema(schema, defs).get("properties", {})
    for name, value in list(data.items()):
        sub = resolve_schema(props.get(name, {}), defs) if isinstance(props.get(name), dict) else {}
        if isinstance(value, str) and sub.get("type") in ("array", "object"):
            with contextlib.suppress(ValueError):
                data[name] = json.loads(value)
    return dict(_coerce_tree(data, schema, defs))
