"""An API description read from disk and brought into one shape: OpenAPI 3.x.

Google Discovery documents are rewritten by :mod:`.discovery`.
Swagger 2.0 documents are rewritten into the 3.x layout here (servers from host/basePath,
``components`` from ``definitions``/``parameters``/``responses``, body and formData parameters
into ``requestBody``, produces into response content), so every later step reads one layout.
Local ``$ref``s are resolved on demand through :meth:`Document.resolve`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchbay.runtime.errors import ConfigError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

_SWAGGER_REF_MOVES = (
    ("#/definitions/", "#/components/schemas/"),
    ("#/parameters/", "#/components/parameters/"),
    ("#/responses/", "#/components/responses/"),
)


class DescriptionError(ConfigError):
    """A description that cannot be imported (unreadable, not OpenAPI, a missing reference)."""


@dataclass
class Document:
    """A normalized OpenAPI 3.x document and where it came from."""

    data: dict[str, Any]
    source: str
    version: str
    original_version: str
    notes: list[str] = field(default_factory=list)

    @property
    def is_31(self) -> bool:
        return self.version.startswith("3.1")

    def pointer(self, ref: str) -> Any:
        """The node a local ``#/...`` reference names."""
        if not ref.startswith("#"):
            raise DescriptionError(f"{self.source}: external $ref {ref!r} is not supported")
        node: Any = self.data
        for raw in ref[1:].split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise DescriptionError(f"{self.source}: $ref {ref!r} does not resolve")
        return node

    def resolve(self, node: Any, depth: int = 0) -> Any:
        """Follow a ``$ref`` chain (parameters, responses, bodies, examples, headers)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 32:
            node = self.pointer(node["$ref"])
            depth += 1
        return node

    def operations(self) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        """(path, method, operation, path item) in document order."""
        out = []
        paths = self.data.get("paths") or {}
        for path, item in paths.items():
            item = self.resolve(item)
            if not isinstance(item, dict):
                continue
            for method in HTTP_METHODS:
                op = item.get(method)
                if isinstance(op, dict):
                    out.append((path, method, op, item))
        return out


def load_document(path: str | Path) -> Document:
    """Read a JSON or YAML description from a local file and normalize it to OpenAPI 3.x."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DescriptionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DescriptionError(f"{path} is not UTF-8: {exc.reason}") from exc
    return parse_document(text, str(path))


def parse_document(text: str, source: str = "<document>") -> Document:
    """Parse JSON (fast path) or YAML text into a normalized :class:`Document`."""
    data = parse_text(text, source)
    if not isinstance(data, dict):
        raise DescriptionError(f"{source}: not an OpenAPI document (the top level is no object)")
    data = _string_keys(data)
    if isinstance(data.get("openapi"), str) and data["openapi"].startswith("3."):
        return Document(data, source, data["openapi"], data["openapi"])
    if str(data.get("swagger", "")).startswith("2."):
        return Document(_from_swagger(data), source, "3.0.3", str(data["swagger"]))
    if data.get("kind") == "discovery#restDescription":
        from patchbay.codegen.openapi_import.discovery import from_discovery

        return Document(from_discovery(data), source, "3.0.3", "discovery")
    raise DescriptionError(f"{source}: no 'openapi: 3.x', 'swagger: 2.0' or Discovery 'kind' field")


def load_examples(path: str | Path) -> dict[str, Any]:
    """Example objects per component name from a JSON or YAML file; a top-level 'resources'
    object (Stripe's fixtures3.json) is unwrapped."""
    data = parse_text(Path(path).read_text(encoding="utf-8"), str(path))
    if not isinstance(data, dict):
        raise DescriptionError(f"{path}: examples must be an object of component -> example")
    inner = data.get("resources")
    return inner if len(data) == 1 and isinstance(inner, dict) else data


def parse_text(text: str, source: str) -> Any:
    """JSON (the fast path) or YAML text as data."""
    try:
        return json.loads(text)
    except ValueError:
        import yaml

        try:
            return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise DescriptionError(f"{source}: neither JSON nor YAML: {exc}") from exc


def _string_keys(node: Any) -> Any:
    """YAML may give int keys (response codes 200); OpenAPI means strings."""
    if isinstance(node, dict):
        return {str(k): _string_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


# ------------------------------------------------------------------------------ swagger 2.0


def _move_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for old, new in _SWAGGER_REF_MOVES:
                    if value.startswith(old):
                        value = new + value[len(old) :]
                out[key] = value
            else:
                out[key] = _move_refs(value)
        return out
    if isinstance(node, list):
        return [_move_refs(v) for v in node]
    return node


def _swagger_schema(node: Any) -> Any:
    """Swagger's schema dialect into 3.0's: ``type: file`` and ``x-nullable``."""
    if isinstance(node, list):
        return [_swagger_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _swagger_schema(v) for k, v in node.items()}
    if out.get("type") == "file":
        out = {**out, "type": "string", "format": "binary"}
    if out.pop("x-nullable", False) is True:
        out["nullable"] = True
    return out


_PARAM_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
)

_COLLECTION_FORMATS = {
    "csv": ("form", False),
    "multi": ("form", True),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "tsv": ("tsv", False),
}


def _swagger_param(param: dict[str, Any]) -> dict[str, Any]:
    """A non-body Swagger parameter in 3.0 form (schema, style, explode)."""
    if "$ref" in param:
        return param
    out = {k: v for k, v in param.items() if k not in _PARAM_SCHEMA_KEYS}
    out.pop("collectionFormat", None)
    schema = {k: param[k] for k in _PARAM_SCHEMA_KEYS if k in param}
    out["schema"] = _swagger_schema(schema)
    if param.get("type") == "array":
        style, explode = _COLLECTION_FORMATS.get(param.get("collectionFormat", "csv"), ("form", 0))
        if param.get("in") in ("query", "formData"):
            out["style"], out["explode"] = style, bool(explode)
    return out


def _from_swagger(doc: dict[str, Any]) -> dict[str, Any]:
    doc = _move_refs(doc)
    out: dict[str, Any] = {"openapi": "3.0.3", "info": doc.get("info", {})}
    if "externalDocs" in doc:
        out["externalDocs"] = doc["externalDocs"]
    host = doc.get("host")
    if host:
        scheme = "https" if "https" in doc.get("schemes", ["https"]) else doc["schemes"][0]
        out["servers"] = [{"url": f"{scheme}://{host}{doc.get('basePath', '')}".rstrip("/")}]
    elif doc.get("basePath"):
        out["servers"] = [{"url": doc["basePath"]}]
    consumes = doc.get("consumes", ["application/json"])
    produces = doc.get("produces", ["application/json"])
    shared_params = doc.get("parameters", {})
    components: dict[str, Any] = {
        "schemas": _swagger_schema(doc.get("definitions", {})),
        "parameters": {
            name: _swagger_param(p)
            for name, p in shared_params.items()
            if p.get("in") not in ("body", "formData")
        },
        "responses": {
            name: _swagger_response(r, produces) for name, r in doc.get("responses", {}).items()
        },
        "securitySchemes": {
            name: _swagger_security(s) for name, s in doc.get("securityDefinitions", {}).items()
        },
    }
    out["components"] = components
    if "security" in doc:
        out["security"] = doc["security"]
    paths: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        new_item: dict[str, Any] = {}
        item_params = item.get("parameters", [])
        for key, value in item.items():
            if key in HTTP_METHODS and isinstance(value, dict):
                new_item[key] = _swagger_operation(
                    value, item_params, shared_params, consumes, produces
                )
        paths[path] = new_item
    out["paths"] = paths
    return out


def _swagger_operation(
    op: dict[str, Any],
    item_params: list[dict[str, Any]],
    shared: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    out = {
        k: v
        for k, v in op.items()
        if k not in ("parameters", "responses", "consumes", "produces", "schemes")
    }

    def real(p: dict[str, Any]) -> dict[str, Any]:
        ref = p.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
            found = shared.get(ref.rsplit("/", 1)[1], {})
            if found.get("in") in ("body", "formData"):
                return dict(found)
        return p

    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for p in [*item_params, *op.get("parameters", [])]:
        p = real(p)
        merged[(str(p.get("in")), str(p.get("name", p.get("$ref"))))] = p
    params = []
    body_schema: dict[str, Any] | None = None
    form_props: dict[str, Any] = {}
    form_required: list[str] = []
    for p in merged.values():
        where = p.get("in")
        if where == "body":
            body_schema = _swagger_schema(p.get("schema", {}))
        elif where == "formData":
            converted = _swagger_param(p)
            form_props[p["name"]] = converted["schema"]
            if p.get("required"):
                form_required.append(p["name"])
        else:
            params.append(_swagger_param(p))
    if params:
        out["parameters"] = params
    media_types = op.get("consumes", consumes)
    if body_schema is not None:
        media = next((m for m in media_types if "json" in m), media_types[0])
        out["requestBody"] = {"required": True, "content": {media: {"schema": body_schema}}}
    elif form_props:
        files = any(s.get("format") == "binary" for s in form_props.values())
        media = "multipart/form-data" if files else "application/x-www-form-urlencoded"
        if not files and "multipart/form-data" in media_types and len(media_types) == 1:
            media = "multipart/form-data"
        schema: dict[str, Any] = {"type": "object", "properties": form_props}
        if form_required:
            schema["required"] = form_required
        out["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
    out["responses"] = {
        str(code): _swagger_response(r, op.get("produces", produces))
        for code, r in op.get("responses", {}).items()
    }
    return out


def _swagger_response(resp: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    if "$ref" in resp:
        return resp
    out: dict[str, Any] = {"description": resp.get("description", "")}
    if "headers" in resp:
        out["headers"] = {
            name: {"schema": _swagger_schema({k: v for k, v in h.items() if k != "description"})}
            for name, h in resp["headers"].items()
        }
    if "schema" in resp:
        media = next((m for m in produces if "json" in m), produces[0] if produces else None)
        content: dict[str, Any] = {"schema": _swagger_schema(resp["schema"])}
        examples = resp.get("examples", {})
        if media in examples:
            content["example"] = examples[media]
        out["content"] = {media or "application/json": content}
    return out


def _swagger_security(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "apiKey":
        return {"type": "apiKey", "in": scheme.get("in"), "name": scheme.get("name")}
    if kind == "oauth2":
        flow_names = {
            "accessCode": "authorizationCode",
            "implicit": "implicit",
            "password": "password",
            "application": "clientCredentials",
        }
        flow: dict[str, Any] = {"scopes": scheme.get("scopes", {})}
        if "authorizationUrl" in scheme:
            flow["authorizationUrl"] = scheme["authorizationUrl"]
        if "tokenUrl" in scheme:
            flow["tokenUrl"] = scheme["tokenUrl"]
        return {"type": "oauth2", "flows": {flow_names.get(scheme.get("flow", ""), "x"): flow}}
    return dict(scheme)
