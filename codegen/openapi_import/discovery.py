"""Google Discovery documents (Drive, Calendar, ...) rewritten into the OpenAPI 3.0 layout.

Discovery says the same things in its own words: ``rootUrl`` + ``servicePath`` is the server,
nested ``resources`` hold ``methods`` (``id`` is the operation id, ``path`` is relative to the
service path, ``{+name}`` is a reserved expansion), ``parameters`` carry ``location`` and
``repeated``, ``request``/``response`` name schemas by id, and numbers and booleans in
``default``/``minimum``/``maximum`` are strings. The OAuth endpoints are not in the document:
they are Google's published ones (recorded in VENDOR-FACTS.md). Media-upload variants and the
API-wide system parameters (alt, fields, prettyPrint, ...) are left out.
"""

from __future__ import annotations

import re
from typing import Any

GOOGLE_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"

TODO_KEY = "x-patchbay-todo"  # open points the importer adds to the action's TODO lines
_SCHEMA_DROP = frozenset({"id", "annotations", "enumDescriptions", "location", "repeated"})
_NUMERIC = ("minimum", "maximum")


def _typed(value: Any, kind: Any) -> Any:
    """A Discovery string default/bound as the JSON value its type means."""
    if not isinstance(value, str):
        return value
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    kind = node.get("type")
    for key, value in node.items():
        if key in _SCHEMA_DROP or (key == "required" and isinstance(value, bool)):
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = f"#/components/schemas/{value}"
        elif key == "type" and value == "any":
            continue
        elif key in ("default", *_NUMERIC):
            out[key] = _typed(value, kind)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        else:
            out[key] = _schema(value)
    return out


def _parameter(name: str, param: dict[str, Any]) -> dict[str, Any]:
    schema = _schema({k: v for k, v in param.items() if k not in ("description", "required")})
    if param.get("repeated"):
        schema = {"type": "array", "items": schema}
    out: dict[str, Any] = {"name": name, "in": param.get("location", "query"), "schema": schema}
    if param.get("required") or out["in"] == "path":
        out["required"] = True
    if isinstance(param.get("description"), str):
        out["description"] = param["description"]
    return out


def _operation(method: dict[str, Any], api: str) -> dict[str, Any]:
    op_id = str(method.get("id", ""))
    if op_id.startswith(f"{api}."):
        op_id = op_id[len(api) + 1 :]  # drive.files.list -> files.list
    op: dict[str, Any] = {"operationId": op_id}
    if isinstance(method.get("description"), str):
        op["description"] = method["description"]
    params = method.get("parameters") or {}
    order = [n for n in method.get("parameterOrder") or [] if n in params]
    order += [n for n in params if n not in order]
    if order:
        op["parameters"] = [_parameter(n, params[n]) for n in order]
    request = method.get("request")
    if isinstance(request, dict) and "$ref" in request:
        schema = {"$ref": f"#/components/schemas/{request['$ref']}"}
        op["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    response = method.get("response")
    if isinstance(response, dict) and "$ref" in response:
        schema = {"$ref": f"#/components/schemas/{response['$ref']}"}
        op["responses"] = {
            "200": {"description": "", "content": {"application/json": {"schema": schema}}}
        }
    else:
        op["responses"] = {"204": {"description": ""}}
    scopes = method.get("scopes")
    if isinstance(scopes, list):
        op["security"] = [{"oauth2": scopes}]
    return op


def _walk(resources: dict[str, Any], api: str, paths: dict[str, Any]) -> None:
    for resource in resources.values():
        for method in (resource.get("methods") or {}).values():
            raw = str(method.get("path", ""))
            path = "/" + raw.replace("{+", "{")
            verb = str(method.get("httpMethod", "GET")).lower()
            op = _operation(method, api)
            reserved = re.findall(r"\{\+([^}]+)\}", raw)
            if reserved:
                op[TODO_KEY] = [
                    f"path parameter {name!r} is a reserved expansion and may hold slashes; "
                    "the spec sends it as one encoded segment"
                    for name in reserved
                ]
            paths.setdefault(path, {})[verb] = op
        _walk(resource.get("resources") or {}, api, paths)


def from_discovery(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.0 shape of a Discovery ``restDescription``."""
    api = str(doc.get("name", ""))
    root = str(doc.get("rootUrl", "")) + str(doc.get("servicePath", ""))
    out: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": doc.get("title", api), "version": str(doc.get("version", ""))},
        "servers": [{"url": root.rstrip("/")}],
    }
    if isinstance(doc.get("documentationLink"), str):
        out["externalDocs"] = {"url": doc["documentationLink"]}
    scopes = ((doc.get("auth") or {}).get("oauth2") or {}).get("scopes") or {}
    components: dict[str, Any] = {
        "schemas": {name: _schema(s) for name, s in (doc.get("schemas") or {}).items()}
    }
    if scopes:
        flow = {
            "authorizationUrl": GOOGLE_AUTHORIZE_URL,
            "tokenUrl": GOOGLE_TOKEN_URL,
            "scopes": {scope: "" for scope in scopes},
        }
        components["securitySchemes"] = {
            "oauth2": {"type": "oauth2", "flows": {"authorizationCode": flow}}
        }
    out["components"] = components
    paths: dict[str, Any] = {}
    _walk(doc.get("resources") or {}, api, paths)
    out["paths"] = paths
    return out
