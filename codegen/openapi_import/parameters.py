"""Operation parameters and request bodies into the spec's parameters and body.

OpenAPI's serialization (style, explode, content) maps onto the spec's wire styles: exploded
form repeats the key, unexploded form joins with commas, deepObject is Stripe's brackets
(``expand[]=a`` for arrays, ``created[gt]=1`` for objects), a JSON-content parameter is sent as
JSON text. Bodies keep their media type's encoding; an action's input is one flat object, so a
body must be an object whose properties become inputs beside the parameters.
"""

from __future__ import annotations

from typing import Any

from patchbay.codegen.openapi_import.document import Document
from patchbay.codegen.openapi_import.schemas import SchemaConverter

# Headers OpenAPI itself ignores as parameters: the executor sets them.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_JSON_TYPES = ("application/json",)


def _types(conv: SchemaConverter, schema: Any, depth: int = 0) -> set[str]:
    node = conv.resolved(schema)
    kind = node.get("type")
    found = {kind} if isinstance(kind, str) else {k for k in kind or [] if isinstance(k, str)}
    if not found and "properties" in node:
        found.add("object")
    if depth < 6:
        for combinator in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(combinator) or []:
                found |= _types(conv, branch, depth + 1)
    return found


def merged_parameters(doc: Document, op: dict[str, Any], item: dict[str, Any]) -> list[Any]:
    """Path-item parameters overridden by the operation's own (same name and place)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        param = doc.resolve(raw)
        if isinstance(param, dict) and "name" in param:
            merged[(str(param.get("in")), str(param["name"]))] = param
    return list(merged.values())


def _style(conv: SchemaConverter, param: dict[str, Any], where: str, todo: list[str]) -> str:
    if "content" in param:
        return "json"
    if param.get("in") != "query":
        return "form"
    style = param.get("style", "form")
    explode = param.get("explode", style == "form")
    if style == "form":
        return "form" if explode else "comma"
    if style == "deepObject":
        return "brackets" if _types(conv, param.get("schema")) == {"array"} else "deep_object"
    todo.append(f"{where}: style {style!r} has no spec equivalent; sent as repeated keys")
    return "form"


def parameters(
    doc: Document,
    conv: SchemaConverter,
    op: dict[str, Any],
    item: dict[str, Any],
    where: str,
    todo: list[str],
) -> list[dict[str, Any]]:
    """The spec parameters of one operation, in document order."""
    out: list[dict[str, Any]] = []
    for param in merged_parameters(doc, op, item):
        name, place = str(param["name"]), param.get("in")
        if place == "cookie":
            todo.append(f"{where}: cookie parameter {name!r} is not supported and was left out")
            continue
        if place == "header" and name.lower() in _IGNORED_HEADERS:
            continue
        if place not in ("path", "query", "header"):
            continue
        if "content" in param and isinstance(param["content"], dict) and param["content"]:
            media = next(iter(param["content"].values()))
            schema = conv.convert((media or {}).get("schema", {}))
        else:
            schema = conv.convert(param.get("schema", {"type": "string"}))
        spec_param: dict[str, Any] = {"name": name, "in": place}
        if param.get("required") or place == "path":
            spec_param["required"] = True
        if conv.keep_descriptions and isinstance(param.get("description"), str):
            spec_param["description"] = param["description"]
        style = _style(conv, param, f"{where}/parameters/{name}", todo)
        if style != "form":
            spec_param["style"] = style
        spec_param["schema"] = schema or {"type": "string"}
        out.append(spec_param)
    return out


def _rank(media: str) -> int:
    base = media.split(";")[0].strip().lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        return 0
    if base == "application/x-www-form-urlencoded":
        return 1
    return 2 if base == "multipart/form-data" else 3


def _media(content: dict[str, Any]) -> str | None:
    """The media type to use: JSON first, then forms, then anything (document order on ties)."""
    return min(content, key=_rank) if content else None


def _object_parts(
    conv: SchemaConverter, schema: Any, depth: int = 0
) -> tuple[dict[str, Any], list[str]] | None:
    """Top-level properties and required names of an object schema (through $ref and allOf)."""
    node = conv.resolved(schema)
    props: dict[str, Any] = {}
    required: list[str] = []
    for branch in node.get("allOf") or []:
        if depth > 6:
            return None
        parts = _object_parts(conv, branch, depth + 1)
        if parts is None:
            return None
        props.update(parts[0])
        required += parts[1]
    own = node.get("properties")
    if isinstance(own, dict):
        props.update(own)
    required += [r for r in node.get("required") or [] if isinstance(r, str)]
    if not props:
        return None
    return props, list(dict.fromkeys(required))


def _is_file(conv: SchemaConverter, schema: Any) -> bool:
    node = conv.resolved(schema)
    if node.get("type") == "array":
        node = conv.resolved(node.get("items"))
    return node.get("format") in ("binary", "base64") or "contentMediaType" in node


def request_body(
    doc: Document,
    conv: SchemaConverter,
    op: dict[str, Any],
    taken: set[str],
    where: str,
    todo: list[str],
) -> dict[str, Any] | None:
    """The spec body of one operation, or None; ``taken`` holds the parameter names."""
    body = doc.resolve(op.get("requestBody"))
    if not isinstance(body, dict):
        return None
    content = body.get("content") or {}
    media = _media(content)
    if media is None:
        return None
    raw_schema = (content.get(media) or {}).get("schema", {})
    base = media.split(";")[0].strip().lower()
    if base.startswith("multipart/form-data"):
        encoding = "multipart"
    elif base == "application/x-www-form-urlencoded":
        encoding = "form"
    elif base in _JSON_TYPES or base.endswith("+json"):
        encoding = "json"
    else:
        encoding = "raw"
    parts = _object_parts(conv, raw_schema) if encoding != "raw" else None
    resolved = conv.resolved(raw_schema)
    empty = _types(conv, raw_schema) <= {"object"} and not resolved.get("additionalProperties")
    if parts is None and encoding != "raw" and empty:
        return None  # an empty object body (Stripe's GETs declare one): nothing to send
    if parts is None:
        if encoding != "raw":
            todo.append(
                f"{where}/body: the {media} body is not an object with properties; it is "
                "taken as raw text in the input 'body'"
            )
        return {
            "encoding": "raw",
            "content_type": media,
            "raw_field": "body",
            "schema": {
                "type": "object",
                "properties": {"body": {"type": "string"}},
                "required": ["body"],
            },
        }
    props, required = parts
    properties: dict[str, Any] = {}
    files: list[str] = []
    for name, sub in props.items():
        if name in taken:
            todo.append(f"{where}/body: property {name!r} has a parameter's name and was left out")
            continue
        if encoding == "multipart" and _is_file(conv, sub):
            files.append(name)
            properties[name] = {"type": "string"}
            continue
        properties[name] = conv.convert(sub)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    kept = [r for r in required if r in properties]
    if kept:
        schema["required"] = kept
    out: dict[str, Any] = {"encoding": encoding, "schema": schema}
    if files:
        out["files"] = files
    return out
