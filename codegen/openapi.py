"""An OpenAPI 3.1.0 document derived from a connector spec.

Mock servers and schemathesis fuzzing read ``generated/<connector>/openapi.json``, so the document
describes what the executor really puts on the wire: parameters in their wire style, bodies in
their real media type, pager-set parameters and continue endpoints, every auth variant as a
security alternative. What OpenAPI cannot say (paging, templated headers, retry rules) is kept
in ``x-patchbay-*`` extensions rather than dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from patchbay.runtime.http import parse_path, template_names
from patchbay.runtime.spec import (
    Action,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    Body,
    ConnectorSpec,
    ContinueEndpointPagination,
    CursorPagination,
    JsonSchema,
    OAuth2Auth,
    OffsetPagination,
    PagePagination,
    Parameter,
    Variable,
    Webhook,
    resolve_schema,
)

OPENAPI_VERSION = "3.1.0"

_DEFS_PREFIX = "#/$defs/"
_COMPONENTS_PREFIX = "#/components/schemas/"
# Component names must match ^[a-zA-Z0-9._-]+$ (OpenAPI 3.1 components object).
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# Keys whose values are data (not schemas) or maps of name -> schema (names are not keywords).
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples", "example"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_BINARY: JsonSchema = {"type": "string", "contentMediaType": "application/octet-stream"}
_ERROR_SCHEMA: JsonSchema = {
    "description": "The vendor's error body; the connector maps it to a normalized error code "
    "with its error rules (status, headers, body)."
}


def openapi_document(spec: ConnectorSpec) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of ``spec``; the same spec always gives an equal dict.

    Raises ``ValueError`` when two actions share a method and path (OpenAPI has one operation
    per method of a path item, so the document could not tell them apart).
    """
    return _Builder(spec).document()


class _Builder:
    """Holds what every part of the document needs: the spec, $defs renames, auth requirements."""

    def __init__(self, spec: ConnectorSpec) -> None:
        self.spec = spec
        self.def_names = _unique_names(sorted(spec.defs))
        self.schemes, self.requirements = _security(spec)

    # ------------------------------------------------------------------------------ document

    def document(self) -> dict[str, Any]:
        spec = self.spec
        info: dict[str, Any] = {"title": spec.title, "version": spec.version}
        if spec.description:
            info["description"] = spec.description
        doc: dict[str, Any] = {
            "openapi": OPENAPI_VERSION,
            "info": info,
            "servers": [_server(spec, spec.connection.base_url)],
        }
        if spec.docs_url:
            doc["externalDocs"] = {"url": spec.docs_url}
        doc["paths"] = self.paths()
        webhooks = self.webhooks()
        if webhooks:
            doc["webhooks"] = webhooks
        components: dict[str, Any] = {}
        if spec.defs:
            components["schemas"] = {
                self.def_names[name]: self.schema(spec.defs[name]) for name in sorted(spec.defs)
            }
        components["securitySchemes"] = self.schemes
        doc["components"] = components
        doc["security"] = [self.requirements[variant.name] for variant in spec.auth]
        if spec.connection.headers:
            doc["x-patchbay-headers"] = dict(sorted(spec.connection.headers.items()))
        return doc

    def schema(self, schema: Any) -> Any:
        """A deep copy with every ``#/$defs/X`` reference pointing into components.schemas."""
        if isinstance(schema, list):
            return [self.schema(item) for item in schema]
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = self._ref(value)
            elif key in _DATA_KEYWORDS:
                out[key] = _copy(value)
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: self.schema(sub) for name, sub in value.items()}
            else:
                out[key] = self.schema(value)
        return out

    def _ref(self, ref: str) -> str:
        if not ref.startswith(_DEFS_PREFIX):
            return ref
        token, sep, rest = ref[len(_DEFS_PREFIX) :].partition("/")
        name = token.replace("~1", "/").replace("~0", "~")
        if name not in self.def_names:
            return ref  # spec_checks reports it; leave it visible rather than guess
        return f"{_COMPONENTS_PREFIX}{self.def_names[name]}{sep}{rest}"

    # --------------------------------------------------------------------------------- paths

    def paths(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        owners: dict[tuple[str, str], str] = {}
        spellings: dict[str, tuple[str, str]] = {}
        for action in self.spec.actions:
            path = _openapi_path(action.path)
            key = (action.method, _path_shape(path))
            if key in owners:
                raise ValueError(
                    f"actions {owners[key]!r} and {action.name!r} are both "
                    f"{action.method} {action.path}: an OpenAPI path item has one operation "
                    "per method"
                )
            owners[key] = action.name
            spelled = spellings.setdefault(_path_shape(path), (path, action.name))
            if spelled[0] != path:
                # OpenAPI: templated paths differing only in variable names are identical and
                # MUST NOT both exist; renaming inputs here would break the flat input names.
                raise ValueError(
                    f"actions {spelled[1]!r} ({spelled[0]}) and {action.name!r} ({path}) name "
                    "the same path's variables differently; use the same names"
                )
            paths.setdefault(path, {})[action.method.lower()] = self.operation(action)
        # Continue endpoints are real requests of the pager: describe them unless an action
        # already does (then that action's operation is the faithful one).
        for action in self.spec.actions:
            pag = action.pagination
            if not isinstance(pag, ContinueEndpointPagination):
                continue
            path = _openapi_path(pag.continue_path)
            key = (pag.continue_method, _path_shape(path))
            if key in owners:
                continue
            owners[key] = f"{action.name} (continue endpoint)"
            op = self.continue_operation(action, pag)
            paths.setdefault(path, {})[pag.continue_method.lower()] = op
        return paths

    def operation(self, action: Action) -> dict[str, Any]:
        op: dict[str, Any] = {"operationId": action.name}
        if action.title:
            op["summary"] = action.title
        if action.description:
            op["description"] = action.description
        if action.base_url is not None:
            op["servers"] = [_server(self.spec, action.base_url)]
        parameters = self.parameters(action)
        if parameters:
            op["parameters"] = parameters
        if action.body is not None:
            op["requestBody"] = self.request_body(action, action.body)
        op["responses"] = self.responses(action)
        if action.auth is not None:
            op["security"] = [self.requirements[name] for name in action.auth]
        headers = self.fixed_headers(action)
        if headers:
            op["x-patchbay-headers"] = headers
        op["x-patchbay-idempotent"] = action.is_idempotent
        if action.pagination is not None:
            op["x-patchbay-pagination"] = action.pagination.model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
        return op

    def continue_operation(self, action: Action, pag: ContinueEndpointPagination) -> dict[str, Any]:
        """The follow-up request of a continue-endpoint pager: a JSON body with the cursor."""
        op: dict[str, Any] = {
            "operationId": _free_operation_id(f"{action.name}_continue", self.spec),
            "summary": f"Next page of {action.name}",
            "description": f"Sent by the pager of {action.name!r} with the cursor from "
            f"{pag.cursor_path!r} of the previous page.",
        }
        if action.base_url is not None:
            op["servers"] = [_server(self.spec, action.base_url)]
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {pag.cursor_field: {"type": "string"}},
                        "required": [pag.cursor_field],
                    }
                }
            },
        }
        op["responses"] = self.responses(action)
        if action.auth is not None:
            op["security"] = [self.requirements[name] for name in action.auth]
        headers = self.fixed_headers(action)
        if headers:
            op["x-patchbay-headers"] = headers
        return op

    def fixed_headers(self, action: Action) -> dict[str, str]:
        """Action headers (templates allowed); connection headers are at the document level.

        They are not parameters: the caller never sets them, and OpenAPI ignores parameters
        named Content-Type/Accept/Authorization anyway.
        """
        return dict(sorted(action.headers.items()))

    # ---------------------------------------------------------------------------- parameters

    def parameters(self, action: Action) -> list[dict[str, Any]]:
        out = [self.parameter(p) for p in action.parameters]
        declared = {p.name for p in action.parameters if p.in_ == "path"}
        variables = self.spec.connection.variables
        for name in template_names(action.path):
            if name in declared:
                continue
            # A connection variable in the path (Twilio {account_sid}): still a path parameter
            # in OpenAPI, or the document does not validate.
            out.append(_variable_parameter(name, variables.get(name)))
        out += self.pager_parameters(action)
        return out

    def parameter(self, param: Parameter) -> dict[str, Any]:
        name = param.name
        out: dict[str, Any] = {"name": name, "in": param.in_}
        if param.description:
            out["description"] = param.description
        if param.required or param.in_ == "path":
            out["required"] = True
        schema = self.schema(param.schema_)
        if param.style == "json":
            # JSON text in one value (Dropbox-API-Arg): OpenAPI's content-based parameter.
            out["content"] = {"application/json": {"schema": schema}}
            return out
        out["schema"] = schema
        if param.in_ != "query":
            # Path and header parameters only have style "simple" in OpenAPI, which matches
            # the builder: one scalar per path segment or header.
            return out
        style = param.style
        resolved = resolve_schema(param.schema_, self.spec.defs)
        if style == "comma":
            out["style"], out["explode"] = "form", False
        elif style == "deep_object":
            out["style"], out["explode"] = "deepObject", True
        elif style == "brackets" and _types(resolved, self.spec.defs) == {"array"}:
            # OpenAPI has no key[]=a&key[]=b style. The usual convention is to put the brackets
            # in the parameter name with form/explode: any generator (schemathesis included)
            # then sends exactly those pairs, and validators read them back as one list.
            # (Stripe's own document says deepObject, which OpenAPI leaves undefined for
            # arrays.) x-patchbay-input keeps the input name for code that maps back.
            out["name"] = f"{name}[]"
            out["style"], out["explode"] = "form", True
            out["x-patchbay-input"] = name
        elif style == "brackets" and "object" in _types(resolved, self.spec.defs):
            out["style"], out["explode"] = "deepObject", True  # key[sub]=v, as the builder does
        else:
            out["style"], out["explode"] = "form", True
        return out

    def pager_parameters(self, action: Action) -> list[dict[str, Any]]:
        """Query parameters the pager sets that the action does not declare itself."""
        taken = {p.name for p in action.parameters} | _body_properties(action.body)
        out: list[dict[str, Any]] = []
        for name, where, schema, what in _pager_fields(action):
            if where != "query" or name in taken:
                continue
            taken.add(name)
            out.append(
                {
                    "name": name,
                    "in": "query",
                    "description": f"Set by the pager ({what}).",
                    "schema": schema,
                    "style": "form",
                    "explode": True,
                    "x-patchbay-pager": True,
                }
            )
        return out

    # ---------------------------------------------------------------------------------- body

    def request_body(self, action: Action, body: Body) -> dict[str, Any]:
        header_type = _content_type(action.headers) or _content_type(self.spec.connection.headers)
        if body.encoding == "raw":
            media = header_type or body.content_type or "application/octet-stream"
            raw: JsonSchema = {"type": "string", "contentMediaType": media}
            props = body.schema_.get("properties", {})
            field = props.get(body.raw_field or "") if isinstance(props, dict) else None
            if isinstance(field, dict) and isinstance(field.get("description"), str):
                raw["description"] = field["description"]
            return {"required": True, "content": {media: {"schema": raw}}}
        schema: JsonSchema = self.schema(body.schema_)
        for name, where, field_schema, _ in _pager_fields(action):
            if where == "body" and name not in _body_properties(body):
                schema.setdefault("properties", {})[name] = field_schema
        media_type: dict[str, Any] = {}
        if body.encoding == "json":
            media = header_type or "application/json"
        elif body.encoding == "form":
            media = header_type or "application/x-www-form-urlencoded"
            encoding = self.form_encoding(body.schema_)
            if encoding:
                media_type["encoding"] = encoding
        else:
            # multipart: httpx writes the Content-Type with its boundary, a header cannot win.
            media = "multipart/form-data"
            props = schema.get("properties", {})
            for name in body.files:
                file_schema = dict(_BINARY)
                old = props.get(name)
                if isinstance(old, dict) and isinstance(old.get("description"), str):
                    file_schema["description"] = old["description"]
                props[name] = file_schema
        if body.envelope is not None:
            schema = {
                "type": "object",
                "properties": {body.envelope: schema},
                "required": [body.envelope],
            }
            # encoding names top-level properties: now only the envelope, sent as env[a]=1
            media_type.pop("encoding", None)
            if body.encoding == "form":
                media_type["encoding"] = {body.envelope: {"style": "deepObject", "explode": True}}
        media_type["schema"] = schema
        return {"required": True, "content": {media: media_type}}

    def form_encoding(self, schema: JsonSchema) -> dict[str, Any]:
        """Stripe-style a[b]=1 for object/array fields: OpenAPI's deepObject, exploded.

        (The builder indexes lists, c[0]=x; deepObject leaves arrays undefined, as Stripe's own
        document does.)
        """
        props = schema.get("properties", {})
        if not isinstance(props, dict):
            return {}
        return {
            name: {"style": "deepObject", "explode": True}
            for name, sub in props.items()
            if isinstance(sub, dict) and _types(sub, self.spec.defs) & {"object", "array"}
        }

    # ----------------------------------------------------------------------------- responses

    def body_errors_in_2xx(self) -> list[dict[str, Any]]:
        """Schemas of the error bodies the spec's rules recognise in a 2xx response."""
        shapes: list[dict[str, Any]] = []
        for rule in self.spec.errors.rules:
            statuses = rule.when.status
            in_2xx = statuses is None or any(
                (isinstance(s, int) and 200 <= s < 300) or s == "2xx" for s in statuses
            )
            if not in_2xx or not rule.when.body:
                continue
            shape: dict[str, Any] = {"type": "object"}
            for cond in rule.when.body:
                if "equals" in cond.model_fields_set and "." not in cond.path and cond.path:
                    shape.setdefault("properties", {})[cond.path] = {"const": cond.equals}
                    shape.setdefault("required", []).append(cond.path)
            if "properties" in shape and shape not in shapes:
                shapes.append(shape)
        return shapes

    def responses(self, action: Action) -> dict[str, Any]:
        output = action.output
        ok: dict[str, Any] = {"description": action.title or f"Result of {action.name}."}
        if action.method != "HEAD":
            if output.format == "json":
                success = self.schema(output.schema_)
                errors = self.body_errors_in_2xx()
                if errors and success:
                    # Vendors that report errors inside a 200 (Slack's ok: false) send either.
                    success = {"anyOf": [success, *errors]}
                ok["content"] = {"application/json": {"schema": success}}
            elif output.format == "text":
                text = self.schema(output.schema_) or {"type": "string"}
                ok["content"] = {"text/plain": {"schema": text}}
            else:
                ok["content"] = {"application/octet-stream": {"schema": dict(_BINARY)}}
        if action.pagination is not None and action.pagination.style == "link_header":
            ok["headers"] = {
                "Link": {
                    "description": f"RFC 8288 links; rel={action.pagination.rel!r} is the next "
                    "page.",
                    "schema": {"type": "string"},
                }
            }
        error = {
            "description": "An error response.",
            "content": {"application/json": {"schema": dict(_ERROR_SCHEMA)}},
        }
        responses: dict[str, Any] = {"200": ok}
        # The vendor's own success status where the spec declares one (201 creates, 204
        # deletes without a body), beside the 200 every action documents.
        status = action.mock.status if action.mock and action.mock.status else 200
        if status != 200:
            declared = {k: v for k, v in ok.items() if status != 204 or k != "content"}
            responses[str(status)] = declared
        return {**responses, "default": error}

    # ------------------------------------------------------------------------------ webhooks

    def webhooks(self) -> dict[str, Any]:
        """One POST per (webhook, event type), keyed "<webhook>.<event>".

        Action names cannot contain dots, so these operation ids never clash with actions.
        """
        out: dict[str, Any] = {}
        for hook in self.spec.triggers.webhooks:
            events: list[str | None] = list(sorted(hook.events)) or [None]
            for event in events:
                key = hook.name if event is None else f"{hook.name}.{event}"
                schema = self.schema(hook.events[event]) if event is not None else {}
                op = self.webhook_operation(hook_key=key, event=event, hook=hook)
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schema}},
                }
                out[key] = {"post": op}
            handshake = hook.handshake
            key = f"{hook.name}.{handshake.type_value}" if handshake is not None else ""
            if handshake is not None and key not in out:
                body = _nested(handshake.type_path, {"const": handshake.type_value})
                challenge = _nested(handshake.challenge_path, {"type": "string"})
                if body is not None and challenge is not None:
                    op = self.webhook_operation(hook_key=key, event=None, hook=hook)
                    op["summary"] = f"{hook.title or hook.name}: {handshake.type_value} handshake"
                    op["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": {"allOf": [body, challenge]}}},
                    }
                    media = "text/plain" if handshake.respond_with == "text" else "application/json"
                    op["responses"] = {
                        "200": {
                            "description": "The challenge, echoed.",
                            "content": {media: {"schema": {}}},
                        }
                    }
                    out[key] = {"post": op}
        return out

    def webhook_operation(
        self, *, hook_key: str, event: str | None, hook: Webhook
    ) -> dict[str, Any]:
        ver = hook.verification
        prefix = f", prefixed {ver.signature_prefix!r}" if ver.signature_prefix else ""
        wanted: list[tuple[str | None, str, bool]] = [
            (
                ver.signature_header,
                f"{ver.scheme} signature ({ver.algorithm}, {ver.encoding}) of "
                f"{ver.signed_payload!r}{prefix}.",
                True,
            ),
            (ver.timestamp_header, "Signing timestamp.", True),
            (hook.event_type_header, "The event type.", True),
            (hook.delivery_id_header, "Delivery id (dedupe).", False),
            (hook.retry_header, "Marks a redelivery.", False),
        ]
        params: list[dict[str, Any]] = []
        seen: set[str] = set()
        for name, description, required in wanted:
            # One header may carry several things (Stripe-Signature: t=...,v1=...).
            if name is None or name.lower() in seen:
                continue
            seen.add(name.lower())
            param = _header(name, description, required=required)
            if name == hook.event_type_header and event is not None:
                param["schema"] = {"type": "string", "const": event}
            params.append(param)
        notes = [hook.description] if hook.description else []
        if event is not None and hook.event_type_path is not None:
            notes.append(f"The event type {event!r} is at {hook.event_type_path!r}.")
        op: dict[str, Any] = {
            "operationId": hook_key,
            "summary": f"{hook.title or hook.name}: {event}" if event else hook.title or hook.name,
        }
        if notes:
            op["description"] = _join(*notes)
        op["parameters"] = params
        op["responses"] = {"200": {"description": "Delivery accepted."}}
        return op


# --------------------------------------------------------------------------------- servers


def _server(spec: ConnectorSpec, template: str) -> dict[str, Any]:
    """A server with one OpenAPI variable per ``{var}`` of the template, in template order."""
    server: dict[str, Any] = {"url": template}
    names = template_names(template)
    if names:
        server["variables"] = {
            name: _server_variable(template, name, spec.connection.variables.get(name))
            for name in names
        }
    return server


def _server_variable(template: str, name: str, var: Variable | None) -> dict[str, Any]:
    notes = [var.description] if var is not None and var.description else []
    out: dict[str, Any] = {}
    values = _variable_values(var)
    default = _variable_default(var)
    if default is None:
        default = _placeholder(template, name)
        notes.append(f"No default: {default!r} is a placeholder to replace.")
    out["default"] = default
    if values:
        out["enum"] = values
    if var is not None and var.map:
        pairs = ", ".join(f"{k} -> {v}" for k, v in var.map.items())
        notes.append(f"The connection value is mapped before use ({pairs}).")
    if var is not None and var.pattern and not var.map:
        notes.append(f"Must match {var.pattern}.")
    if notes:
        out["description"] = _join(*notes)
    return out


def _variable_values(var: Variable | None) -> list[str]:
    """The values that reach the URL: the enum, after ``map`` (OpenAPI substitutes directly)."""
    if var is None:
        return []
    chosen = list(var.enum) if var.enum is not None else list(var.map or [])
    mapped = [(var.map or {}).get(v, v) for v in chosen]
    return list(dict.fromkeys(mapped))


def _variable_default(var: Variable | None) -> str | None:
    if var is None:
        return None
    default = var.default
    if default is None and var.enum:
        default = var.enum[0]
    if default is None:
        return None
    return (var.map or {}).get(default, default)


def _placeholder(template: str, name: str) -> str:
    """An obviously fake value: a whole origin when the variable starts the URL, else a name."""
    if template.startswith(f"{{{name}}}"):
        return f"https://{name.replace('_', '-')}.placeholder.invalid"
    return f"{name.replace('_', '-')}-placeholder"


def _variable_parameter(name: str, var: Variable | None) -> dict[str, Any]:
    schema: JsonSchema = {"type": "string"}
    values = _variable_values(var)
    if values:
        schema["enum"] = values
    default = _variable_default(var)
    if default is not None:
        schema["default"] = default
    if var is not None and var.pattern and not var.map:
        schema["pattern"] = var.pattern
    description = "Connection variable, filled in from the connection."
    if var is not None and var.description:
        description = f"{var.description} (connection variable)"
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "x-patchbay-connection-variable": True,
    }


def _render_url(spec: ConnectorSpec, template: str) -> tuple[str, list[str]]:
    """A URL template made concrete for OpenAPI (which wants a URI), and what was invented."""
    notes: list[str] = []
    out = template
    for name in template_names(template):
        value = _variable_default(spec.connection.variables.get(name))
        if value is None:
            value = _placeholder(template, name)
            notes.append(f"{{{name}}} has no default and is shown as {value!r}")
        out = out.replace(f"{{{name}}}", value)
    if not urlsplit(out).scheme and template != spec.connection.base_url:
        base, more = _render_url(spec, spec.connection.base_url)
        out = urljoin(base.rstrip("/") + "/", out.lstrip("/"))
        notes += more
    return out, notes


# -------------------------------------------------------------------------------- security


def _security(
    spec: ConnectorSpec,
) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    """Security schemes, and per auth variant the requirement (schemes ANDed) it stands for."""
    schemes: dict[str, Any] = {}
    requirements: dict[str, dict[str, list[str]]] = {}

    def add(wanted: str, scheme: dict[str, Any]) -> str:
        name = _safe_name(wanted)
        base, n = name, 2
        while name in schemes:
            name, n = f"{base}_{n}", n + 1
        schemes[name] = scheme
        return name

    for variant in spec.auth:
        intro = " ".join(t for t in (variant.title, variant.description) if t)
        if isinstance(variant, BearerAuth):
            if variant.header.lower() == "authorization" and variant.prefix == "Bearer ":
                scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
                note = ""
            else:
                scheme = {"type": "apiKey", "in": "header", "name": variant.header}
                note = f"Sent as {variant.header}: {variant.prefix}<token>."
            scheme["description"] = _join(intro, note) or "Bearer token."
            requirements[variant.name] = {add(variant.name, scheme): []}
        elif isinstance(variant, BasicAuth):
            note = f"User {variant.username!r}, password {variant.password!r} (templates)."
            scheme = {"type": "http", "scheme": "basic", "description": _join(intro, note)}
            requirements[variant.name] = {add(variant.name, scheme): []}
        elif isinstance(variant, ApiKeyAuth):
            requirement: dict[str, list[str]] = {}
            for param in variant.params:
                note = f"Value {param.prefix}{param.value}."
                if len(variant.params) > 1:
                    others = [p.name for p in variant.params if p is not param]
                    note += f" Sent together with {', '.join(others)}."
                scheme = {
                    "type": "apiKey",
                    "in": variant.in_,
                    "name": param.name,
                    "description": _join(intro, note),
                }
                requirement[add(f"{variant.name}_{param.name}", scheme)] = []
            requirements[variant.name] = requirement
        else:
            scheme = _oauth2_scheme(spec, variant, intro)
            requirements[variant.name] = {add(variant.name, scheme): list(variant.scopes)}
    return schemes, requirements


def _oauth2_scheme(spec: ConnectorSpec, variant: OAuth2Auth, intro: str) -> dict[str, Any]:
    notes: list[str] = []
    flow: dict[str, Any] = {}
    if variant.grant == "authorization_code":
        if variant.authorize_url is None:
            raise ValueError(
                f"auth variant {variant.name!r}: authorization_code needs authorize_url"
            )
        url, more = _render_url(spec, variant.authorize_url)
        flow["authorizationUrl"] = url
        notes += more
    token_url, more = _render_url(spec, variant.token_url)
    flow["tokenUrl"] = token_url
    notes += more
    if variant.refresh_url is not None:
        refresh_url, more = _render_url(spec, variant.refresh_url)
        flow["refreshUrl"] = refresh_url
        notes += more
    flow["scopes"] = {scope: "" for scope in variant.scopes}
    flow_name = (
        "authorizationCode" if variant.grant == "authorization_code" else "clientCredentials"
    )
    details: list[str] = []
    if notes:
        details.append("URL placeholders: " + "; ".join(dict.fromkeys(notes)) + ".")
    if variant.pkce:
        details.append("Uses PKCE (S256).")
    if variant.scope_separator != " ":
        details.append(f"Scopes are joined with {variant.scope_separator!r}.")
    if variant.authorize_params:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(variant.authorize_params.items()))
        details.append(f"Extra authorize parameters: {pairs}.")
    if variant.revoke_url is not None:
        details.append(f"Revoke URL: {variant.revoke_url}.")
    if variant.header.lower() != "authorization" or variant.prefix != "Bearer ":
        details.append(f"The token is sent as {variant.header}: {variant.prefix}<token>.")
    scheme: dict[str, Any] = {"type": "oauth2", "flows": {flow_name: flow}}
    description = _join(intro, " ".join(details))
    if description:
        scheme["description"] = description
    return scheme


# ------------------------------------------------------------------------------- helpers


def _safe_name(name: str) -> str:
    return _UNSAFE_NAME.sub("_", name) or "_"


def _unique_names(names: Iterable[str]) -> dict[str, str]:
    """Spec $defs name -> a valid, unique component name (usually the same)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        safe = base = _safe_name(name)
        n = 2
        while safe in used:
            safe, n = f"{base}_{n}", n + 1
        used.add(safe)
        out[name] = safe
    return out


def _free_operation_id(wanted: str, spec: ConnectorSpec) -> str:
    names = {a.name for a in spec.actions}
    candidate, n = wanted, 2
    while candidate in names:
        candidate, n = f"{wanted}_{n}", n + 1
    return candidate


def _openapi_path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


def _path_shape(path: str) -> str:
    """/a/{x} and /a/{y} are the same OpenAPI path: compare with the names blanked out."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _types(schema: JsonSchema, defs: Mapping[str, JsonSchema], depth: int = 0) -> set[str]:
    """The JSON types a schema may take, looking through $ref and anyOf/oneOf/allOf."""
    schema = resolve_schema(schema, dict(defs))
    found: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found |= {k for k in kind if isinstance(k, str)}
    elif "properties" in schema or "additionalProperties" in schema:
        found.add("object")
    elif "items" in schema or "prefixItems" in schema:
        found.add("array")
    if depth < 8:
        for combinator in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(combinator, []):
                if isinstance(branch, dict):
                    found |= _types(branch, defs, depth + 1)
    return found


def _body_properties(body: Body | None) -> set[str]:
    if body is None:
        return set()
    props = body.schema_.get("properties", {})
    return set(props) if isinstance(props, dict) else set()


def _pager_fields(action: Action) -> list[tuple[str, str, JsonSchema, str]]:
    """(name, "query"|"body", schema, what) of every field the pager sets on a request."""
    pag = action.pagination
    if pag is None:
        return []
    out: list[tuple[str, str, JsonSchema, str]] = []
    if isinstance(pag, CursorPagination):
        out.append((pag.cursor_param, pag.cursor_in, {"type": "string"}, "cursor"))
    elif isinstance(pag, OffsetPagination):
        schema: JsonSchema = {"type": "integer", "minimum": 0}
        out.append((pag.offset_param, pag.param_in, schema, "offset"))
    elif isinstance(pag, PagePagination):
        schema = {"type": "integer", "minimum": pag.start}
        out.append((pag.page_param, pag.param_in, schema, "page number"))
    size = pag.page_size
    if size is not None:
        schema = {"type": "integer", "minimum": 1}
        if size.max is not None:
            schema["maximum"] = size.max
        out.append((size.param, size.in_, schema, "page size"))
    return out


def _content_type(headers: Mapping[str, str]) -> str | None:
    """The media type a spec's fixed Content-Type header sends, without parameters."""
    for key, value in headers.items():
        if key.lower() == "content-type" and "{" not in value:
            media = value.split(";", 1)[0].strip().lower()
            return media or None
    return None


def _nested(path: str, leaf: JsonSchema) -> JsonSchema | None:
    """{"a": {"b": leaf}} as a schema for path a.b; None for paths with list indexes."""
    try:
        segments = parse_path(path)
    except ValueError:
        return None
    if not segments or any(isinstance(s, int) for s in segments):
        return None
    schema = leaf
    for segment in reversed(segments):
        schema = {"type": "object", "properties": {segment: schema}, "required": [segment]}
    return schema


def _header(name: str, description: str, *, required: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "header", "description": description}
    if required:
        out["required"] = True
    out["schema"] = {"type": "string"}
    return out


def _join(*parts: str) -> str:
    """Sentences joined into one description, each ending with a full stop."""
    out = []
    for part in parts:
        part = part.strip()
        if part:
            out.append(part if part[-1] in ".!?" else f"{part}.")
    return " ".join(out)


def _copy(value: Any) -> Any:
    """A deep copy of JSON data, so the document never aliases the (frozen) spec's dicts."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
