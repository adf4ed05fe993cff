"""Semantic checks of a connector spec: rules that need the whole document.

The JSON Schema (and the pydantic model) say what a document may look like; these checks say
whether it makes sense: every template variable is declared, names are unique, pagination and
trigger paths exist in the response schemas they point into, references resolve. Each problem is
returned as ``(json_pointer, message)`` so the CLI can name the exact place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from patchbay.runtime.http._paths import parse_path
from patchbay.runtime.http._templating import string_leaves, template_names
from patchbay.runtime.http._urls import HOSTNAME, UrlTemplateError, url_shape
from patchbay.runtime.spec._model import (
    Action,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    ContinueEndpointPagination,
    CursorPagination,
    JsonSchema,
    NextUrlPagination,
    OAuth2Auth,
    OffsetPagination,
    PagePagination,
    PollingTrigger,
    WebhookCall,
    WebhookRegistration,
)
from patchbay.runtime.spec._values import compiled_pattern, url_templates, value_problem

Problem = tuple[str, str]

_MISSING_SCHEMA: JsonSchema = {}


def check_semantics(spec: ConnectorSpec) -> list[Problem]:
    """Every semantic problem of ``spec``; an empty list means the spec makes sense."""
    problems: list[Problem] = []
    problems += _check_unique(spec)
    problems += _check_templates(spec)
    problems += _check_schemas(spec)
    for index, action in enumerate(spec.actions):
        problems += _check_action(spec, action, f"/actions/{index}")
        if action.resource is not None:
            problems += _check_resource(spec, action, f"/actions/{index}/resource")
    problems += _check_triggers(spec)
    problems += _check_origins(spec)
    return problems


def _check_resource(spec: ConnectorSpec, action: Action, where: str) -> list[Problem]:
    """The inputs a resource effect names exist, an id is given where one item is meant, the
    item's place is in the output schema, and only a paginated action lists."""
    effect = action.resource
    assert effect is not None
    out: list[Problem] = []
    inputs = set(input_names(action))
    for part, name in effect.scope.items():
        if name not in inputs:
            out.append((f"{where}/scope/{_esc(part)}", f"{name!r} is not an input of this action"))
    if effect.op in ("get", "update", "delete"):
        if effect.id is None:
            out.append((f"{where}/id", f"a {effect.op} needs the input naming the item"))
        elif effect.id not in inputs:
            out.append((f"{where}/id", f"{effect.id!r} is not an input of this action"))
    if effect.op == "list" and action.pagination is None:
        out.append((f"{where}/op", "list needs a paginated action"))
    if effect.op != "list" and effect.item_path:
        result = schema_at_path(action.output.schema_, action.output.result_path, spec.defs)
        if result is None or schema_at_path(result, effect.item_path, spec.defs) is None:
            out.append((f"{where}/item_path", f"{effect.item_path!r} is not in the output"))
    return out


# -------------------------------------------------------------------------------- uniqueness


def _duplicates(names: Iterable[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield index, name
        seen.add(name)


def _check_unique(spec: ConnectorSpec) -> list[Problem]:
    out: list[Problem] = []
    for i, name in _duplicates(a.name for a in spec.actions):
        out.append((f"/actions/{i}/name", f"duplicate action name {name!r}"))
    for i, name in _duplicates(a.name for a in spec.auth):
        out.append((f"/auth/{i}/name", f"duplicate auth variant name {name!r}"))
    for i, name in _duplicates(t.name for t in spec.triggers.polling):
        out.append((f"/triggers/polling/{i}/name", f"duplicate trigger name {name!r}"))
    for i, name in _duplicates(w.name for w in spec.triggers.webhooks):
        out.append((f"/triggers/webhooks/{i}/name", f"duplicate webhook name {name!r}"))
    return out


# --------------------------------------------------------------------------------- templates


def _undeclared(template: str, declared: Iterable[str], pointer: str, what: str) -> list[Problem]:
    known = set(declared)
    return [
        (pointer, f"{what} uses {{{name}}}, which is not declared")
        for name in template_names(template)
        if name not in known
    ]


def _check_templates(spec: ConnectorSpec) -> list[Problem]:
    variables = set(spec.connection.variables)
    out = _undeclared(spec.connection.base_url, variables, "/connection/base_url", "base_url")
    for header, value in spec.connection.headers.items():
        out += _undeclared(value, variables, f"/connection/headers/{_esc(header)}", "header")
    out += _undeclared(spec.test_connection.path, variables, "/test_connection/path", "path")
    for name, var in spec.connection.variables.items():
        where = f"/connection/variables/{_esc(name)}"
        if var.enum is not None and var.default is not None and var.default not in var.enum:
            out.append((f"{where}/default", f"default {var.default!r} is not in enum"))
        if var.map is not None and var.enum is not None and set(var.map) != set(var.enum):
            out.append((f"{where}/map", "map keys must be exactly the enum values"))
    for index, variant in enumerate(spec.auth):
        where = f"/auth/{index}"
        declared = variables | set(variant.fields)
        if isinstance(variant, BearerAuth):
            out += _undeclared(variant.token, declared, f"{where}/token", "token")
        elif isinstance(variant, ApiKeyAuth):
            for j, param in enumerate(variant.params):
                out += _undeclared(param.value, declared, f"{where}/params/{j}/value", "value")
        elif isinstance(variant, BasicAuth):
            out += _undeclared(variant.username, declared, f"{where}/username", "username")
            out += _undeclared(variant.password, declared, f"{where}/password", "password")
        elif isinstance(variant, OAuth2Auth):
            for key in ("authorize_url", "token_url", "refresh_url", "revoke_url"):
                url = getattr(variant, key)
                if url is not None:
                    out += _undeclared(url, variables, f"{where}/{key}", key)
            for var_name in variant.variables_from_token:
                if var_name not in variables:
                    out.append(
                        (
                            f"{where}/variables_from_token/{_esc(var_name)}",
                            f"variable {var_name!r} is not declared in connection.variables",
                        )
                    )
            if variant.grant == "authorization_code" and variant.authorize_url is None:
                out.append((where, "authorization_code grant needs authorize_url"))
    return out


# ----------------------------------------------------------------------------------- origins


def _check_origins(spec: ConnectorSpec) -> list[Problem]:
    """Every URL template keeps its origin whatever a variable holds: placeholders only in
    the host, the path or as the whole origin; a variable in a host declares what it may be
    (a pattern, an enum or a value map, whose hosts must be host names); a whole-origin
    variable declares a pattern; patterns compile and examples and defaults pass them."""
    out: list[Problem] = []
    variables = spec.connection.variables
    placed: dict[tuple[str, str], str] = {}  # (variable, place) -> first template using it
    for pointer, template in url_templates(spec):
        try:
            shape = url_shape(template)
        except UrlTemplateError as exc:
            out.append((pointer, f"unsafe URL template: {exc}"))
            continue
        for name, where_in in shape.places:
            placed.setdefault((name, where_in), pointer)
    for (name, place), pointer in placed.items():
        var = variables.get(name)
        if var is None:
            continue  # undeclared names are reported with the templates
        where = f"/connection/variables/{_esc(name)}"
        if place == "origin" and var.pattern is None:
            out.append((where, f"{{{name}}} is the whole origin of {pointer}: it needs a pattern"))
        elif place == "host" and var.pattern is None and var.enum is None and var.map is None:
            out.append(
                (where, f"{{{name}}} is in the host of {pointer}: it needs a pattern, enum or map")
            )
        if place == "host":
            for key, host in (var.map or {}).items():
                if not HOSTNAME.fullmatch(host):
                    out.append((f"{where}/map/{_esc(key)}", f"{host!r} is not a host name"))
    for name, var in variables.items():
        where = f"/connection/variables/{_esc(name)}"
        out += _check_value_rules(var.pattern, var.format, where)
        for key in ("default", "example"):
            value = getattr(var, key)
            if value is not None and var.map is None and var.enum is None:
                problem = value_problem(value, pattern=var.pattern, format=var.format)
                if problem is not None:
                    out.append((f"{where}/{key}", f"the {key} {problem}"))
    for i, variant in enumerate(spec.auth):
        for name, cred in variant.fields.items():
            where = f"/auth/{i}/fields/{_esc(name)}"
            out += _check_value_rules(cred.pattern, cred.format, where)
            if cred.example is not None:
                problem = value_problem(cred.example, pattern=cred.pattern, format=cred.format)
                if problem is not None:
                    out.append((f"{where}/example", f"the example {problem}"))
    return out


def _check_value_rules(pattern: str | None, format: str | None, where: str) -> list[Problem]:
    if pattern is None:
        return []
    try:
        compiled_pattern(pattern)
    except re.error as exc:
        return [(f"{where}/pattern", f"not a valid regular expression: {exc}")]
    return []


# ----------------------------------------------------------------------------------- schemas


def _iter_schemas(spec: ConnectorSpec) -> Iterator[tuple[str, JsonSchema]]:
    for name, schema in spec.defs.items():
        yield f"/$defs/{_esc(name)}", schema
    for i, action in enumerate(spec.actions):
        for j, param in enumerate(action.parameters):
            yield f"/actions/{i}/parameters/{j}/schema", param.schema_
        if action.body is not None:
            yield f"/actions/{i}/body/schema", action.body.schema_
        yield f"/actions/{i}/output/schema", action.output.schema_
    for i, hook in enumerate(spec.triggers.webhooks):
        for event, schema in hook.events.items():
            yield f"/triggers/webhooks/{i}/events/{_esc(event)}", schema


def _refs(schema: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield f"{pointer}/$ref", value
            elif key not in ("const", "enum", "default", "examples"):
                yield from _refs(value, f"{pointer}/{_esc(key)}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _refs(value, f"{pointer}/{i}")


def _check_schemas(spec: ConnectorSpec) -> list[Problem]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    out: list[Problem] = []
    gate = _metaschema_gate()
    for pointer, schema in _iter_schemas(spec):
        # jsonschema-rs answers "valid?" some 300x faster; Python's jsonschema runs only to
        # explain a schema that fails it (or holds a pattern Python's re would refuse).
        if not (gate.is_valid(schema) and _patterns_compile(schema)):
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                sub = "/".join(_esc(str(p)) for p in exc.path)
                out.append((f"{pointer}/{sub}".rstrip("/"), f"invalid JSON Schema: {exc.message}"))
        for ref_pointer, ref in _refs(schema, pointer):
            if not ref.startswith("#/$defs/") or ref[len("#/$defs/") :] not in spec.defs:
                out.append((ref_pointer, f"$ref {ref!r} does not name an entry of /$defs"))
    return out


@cache
def _metaschema_gate() -> Any:
    """The draft 2020-12 metaschema compiled once by jsonschema-rs (formats checked)."""
    import jsonschema_rs
    from jsonschema import Draft202012Validator

    return jsonschema_rs.Draft202012Validator(
        Draft202012Validator.META_SCHEMA, validate_formats=True
    )


def _patterns_compile(node: Any) -> bool:
    """Whether every ``pattern`` and ``patternProperties`` key compiles with Python's ``re``
    (the metaschema's "regex" format as Python's jsonschema reads it; Rust's engine accepts
    more, e.g. ``\\p{L}``)."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        keys = node.get("patternProperties")
        regexes = [pattern] if isinstance(pattern, str) else []
        regexes += list(keys) if isinstance(keys, dict) else []
        for regex in regexes:
            try:
                re.compile(regex)
            except re.error:
                return False
        return all(_patterns_compile(v) for v in node.values())
    if isinstance(node, list):
        return all(_patterns_compile(v) for v in node)
    return True


def resolve_schema(schema: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """Follow local ``#/$defs/...`` references (a bounded number of hops)."""
    for _ in range(32):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return schema
        schema = defs.get(ref[len("#/$defs/") :], _MISSING_SCHEMA)
    return schema


def schema_at_path(
    schema: JsonSchema, path: str, defs: dict[str, JsonSchema], *, resolve: bool = True
) -> JsonSchema | None:
    """The sub-schema a JSON path lands on, or ``None`` when the schema does not declare it.

    With ``resolve=False`` a final ``$ref`` is returned as is (code generation keeps the name).
    """
    current = schema
    for segment in parse_path(path):
        found = _step(current, segment, defs)
        if found is None:
            return None
        current = found
    return resolve_schema(current, defs) if resolve else current


def _step(schema: JsonSchema, segment: str | int, defs: dict[str, JsonSchema]) -> JsonSchema | None:
    schema = resolve_schema(schema, defs)
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(combinator, []):
            if isinstance(branch, dict):
                found = _step(branch, segment, defs)
                if found is not None:
                    return found
    if isinstance(segment, int):
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    props = schema.get("properties", {})
    if isinstance(props, dict) and segment in props and isinstance(props[segment], dict):
        child: JsonSchema = props[segment]
        return child
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) and extra else None


def _is_array(schema: JsonSchema) -> bool:
    kind = schema.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


# ----------------------------------------------------------------------------------- actions


def input_names(action: Action) -> list[str]:
    """The flat input property names of an action: parameters, then body properties."""
    names = [p.name for p in action.parameters]
    if action.body is not None:
        props = action.body.schema_.get("properties", {})
        if isinstance(props, dict):
            names += list(props)
    return names


def _check_action(spec: ConnectorSpec, action: Action, where: str) -> list[Problem]:
    out: list[Problem] = []
    variables = set(spec.connection.variables)
    if action.base_url is not None:
        out += _undeclared(action.base_url, variables, f"{where}/base_url", "base_url")
    for header, value in action.headers.items():
        out += _undeclared(value, variables, f"{where}/headers/{_esc(header)}", "header")
    path_vars = set(template_names(action.path))
    path_params = {p.name for p in action.parameters if p.in_ == "path"}
    for name in sorted(path_vars - path_params - variables):
        out.append(
            (f"{where}/path", f"path variable {{{name}}} is not declared as a path parameter")
        )
    for j, param in enumerate(action.parameters):
        if param.in_ == "path" and param.name not in path_vars:
            out.append(
                (f"{where}/parameters/{j}", f"path parameter {param.name!r} is not in the path")
            )
        if param.in_ == "path" and not param.required:
            out.append((f"{where}/parameters/{j}/required", "path parameters must be required"))
    for _, name in _duplicates(input_names(action)):
        out.append((where, f"input name {name!r} is declared twice (inputs are one flat object)"))
    if action.auth is not None:
        known = {v.name for v in spec.auth}
        for j, name in enumerate(action.auth):
            if name not in known:
                out.append((f"{where}/auth/{j}", f"auth variant {name!r} does not exist"))
    body = action.body
    if body is not None:
        props = body.schema_.get("properties", {})
        if body.encoding == "raw" and (body.raw_field is None or body.raw_field not in props):
            out.append(
                (f"{where}/body/raw_field", "a raw body needs raw_field naming a body property")
            )
        for j, name in enumerate(body.files):
            if name not in props:
                out.append(
                    (f"{where}/body/files/{j}", f"file field {name!r} is not a body property")
                )
        if body.files and body.encoding != "multipart":
            out.append((f"{where}/body/files", "files need the multipart encoding"))
    out += _check_pagination(spec, action, where)
    output = action.output
    if (
        output.result_path
        and output.format == "json"
        and schema_at_path(output.schema_, output.result_path, spec.defs) is None
    ):
        out.append(
            (
                f"{where}/output/result_path",
                f"{output.result_path!r} is not in the output schema",
            )
        )
    return out


def _check_pagination(spec: ConnectorSpec, action: Action, where: str) -> list[Problem]:
    pag = action.pagination
    if pag is None:
        return []
    out: list[Problem] = []
    here = f"{where}/pagination"
    schema = action.output.schema_

    def need(path: str | None, key: str) -> JsonSchema | None:
        if path is None:
            return None
        try:
            parse_path(path)
        except ValueError as exc:
            out.append((f"{here}/{key}", str(exc)))
            return None
        found = schema_at_path(schema, path, spec.defs)
        if found is None:
            out.append(
                (f"{here}/{key}", f"{path!r} is not in the output schema of {action.name!r}")
            )
        return found

    items = need(pag.items_path, "items_path")
    if items is not None and not _is_array(items):
        out.append(
            (f"{here}/items_path", f"{pag.items_path!r} is not an array in the output schema")
        )
    need(pag.has_more_path, "has_more_path")
    if isinstance(pag, CursorPagination):
        need(pag.next_cursor_path, "next_cursor_path")
        if pag.cursor_from_last_item is not None and items is not None:
            item_schema = items.get("items")
            if (
                not isinstance(item_schema, dict)
                or schema_at_path(item_schema, pag.cursor_from_last_item, spec.defs) is None
            ):
                out.append(
                    (
                        f"{here}/cursor_from_last_item",
                        f"{pag.cursor_from_last_item!r} is not in the item schema",
                    )
                )
        if pag.cursor_in == "body" and (action.body is None or action.body.encoding == "raw"):
            out.append((f"{here}/cursor_in", "a body cursor needs a json, form or multipart body"))
    elif isinstance(pag, OffsetPagination):
        need(pag.next_offset_path, "next_offset_path")
        need(pag.total_path, "total_path")
    elif isinstance(pag, PagePagination):
        need(pag.total_pages_path, "total_pages_path")
    elif isinstance(pag, NextUrlPagination):
        need(pag.next_url_path, "next_url_path")
    elif isinstance(pag, ContinueEndpointPagination):
        need(pag.cursor_path, "cursor_path")
    if pag.page_size is not None and pag.page_size.in_ == "body" and action.body is None:
        out.append((f"{here}/page_size/in", "page size in the body needs an action body"))
    return out


# ---------------------------------------------------------------------------------- triggers


def item_schema(spec: ConnectorSpec, action: Action) -> JsonSchema | None:
    """The schema of one item an action returns: a page item if it pages, else its result."""
    if action.pagination is not None:
        items = schema_at_path(action.output.schema_, action.pagination.items_path, spec.defs)
        inner = items.get("items") if items is not None else None
        return resolve_schema(inner, spec.defs) if isinstance(inner, dict) else None
    return schema_at_path(action.output.schema_, action.output.result_path, spec.defs)


def _check_triggers(spec: ConnectorSpec) -> list[Problem]:
    out: list[Problem] = []
    actions = {a.name: a for a in spec.actions}
    for i, trig in enumerate(spec.triggers.polling):
        where = f"/triggers/polling/{i}"
        action = actions.get(trig.action)
        if action is None:
            out.append((f"{where}/action", f"action {trig.action!r} does not exist"))
            continue
        out += _check_polling_trigger(spec, trig, action, actions, where)
    for i, hook in enumerate(spec.triggers.webhooks):
        where = f"/triggers/webhooks/{i}"
        if hook.api_registration is not None:
            out += _check_registration(spec, hook.api_registration, f"{where}/registration")
        for j, event in enumerate(hook.ack_only_events):
            if hook.events and event not in hook.events:
                msg = f"ack-only event {event!r} is not one of this webhook's events"
                out.append((f"{where}/ack_only_events/{j}", msg))
        ver = hook.verification
        if "{timestamp}" in ver.signed_payload and ver.timestamp_header is None:
            out.append(
                (f"{where}/verification", "signed_payload uses {timestamp} but no timestamp_header")
            )
    return out


def _check_polling_trigger(
    spec: ConnectorSpec,
    trig: PollingTrigger,
    action: Action,
    actions: dict[str, Action],
    where: str,
) -> list[Problem]:
    """Inputs exist on the action that gets them, templates use only the names the runner
    fills, and the paths the runner reads are in the schemas of every action it polls."""
    out: list[Problem] = []
    cursor = trig.cursor
    later = action
    if cursor.action is not None:
        found = actions.get(cursor.action)
        if found is None:
            out.append((f"{where}/cursor/action", f"action {cursor.action!r} does not exist"))
        else:
            later = found
    polled = [action] if later is action else [action, later]
    for key in trig.input:
        if key not in input_names(action):
            out.append(
                (f"{where}/input/{_esc(key)}", f"{key!r} is not an input of {action.name!r}")
            )
    for key, value in cursor.input.items():
        if value is None:  # a removal: of an input the trigger sets for its first request
            if key not in trig.input:
                msg = f"null removes {key!r}, but the trigger's input does not set it"
                out.append((f"{where}/cursor/input/{_esc(key)}", msg))
        elif key not in input_names(later):
            msg = f"{key!r} is not an input of {later.name!r}"
            out.append((f"{where}/cursor/input/{_esc(key)}", msg))
    for template, at, allowed in (
        (trig.input, f"{where}/input", {"now"}),
        (cursor.input, f"{where}/cursor/input", {"now", "cursor"}),
    ):
        for pointer, name, _head in template_uses(template, at):
            if name not in allowed:
                fills = " and ".join(f"{{{n}}}" for n in sorted(allowed))
                out.append((pointer, f"{{{name}}} is not filled here (only {fills})"))
    if cursor.param is not None:
        try:
            head = parse_path(cursor.param)[0] if cursor.param else ""
        except ValueError as exc:
            out.append((f"{where}/cursor/param", str(exc)))
        else:
            if head not in input_names(later):
                msg = f"{cursor.param!r} is not an input of {later.name!r}"
                out.append((f"{where}/cursor/param", msg))
    # Items come from the action polled with a cursor; a first action of its own (Dropbox's
    # get_latest_cursor) may only hand out the token.
    for polled_action in [later]:
        item = item_schema(spec, polled_action)
        paths = [("dedupe_key", trig.dedupe_key), ("cursor/field", cursor.field)]
        paths += [(f"where/{n}/path", c.path) for n, c in enumerate(trig.where)]
        for key, path in paths:
            if path is None:
                continue
            if item is None or schema_at_path(item, path, spec.defs) is None:
                msg = f"{path!r} is not in the item schema of {polled_action.name!r}"
                out.append((f"{where}/{key}", msg))
    if cursor.kind == "sync_token":
        if cursor.token_path is None:
            out.append((f"{where}/cursor/token_path", "a sync_token cursor needs token_path"))
        else:
            for polled_action in polled:
                output = polled_action.output.schema_
                if schema_at_path(output, cursor.token_path, spec.defs) is None:
                    msg = f"token_path is not in the output schema of {polled_action.name!r}"
                    out.append((f"{where}/cursor/token_path", msg))
    else:
        if cursor.field is None:
            out.append((f"{where}/cursor/field", f"a {cursor.kind} cursor needs field"))
        if cursor.stale_status or cursor.stale_codes:
            out.append((f"{where}/cursor", "only a sync_token cursor can be declared stale"))
    if cursor.write_as != "stored" and cursor.format == "opaque":
        out.append((f"{where}/cursor/write_as", "converting needs a timestamp format"))
    if trig.start == "now" and (cursor.kind != "timestamp" or cursor.format == "opaque"):
        out.append((f"{where}/start", "starting at 'now' needs a timestamp cursor with a format"))
    return out


# ---------------------------------------------------------------------- webhook registration


def _check_call(
    spec: ConnectorSpec, call: WebhookCall, where: str
) -> tuple[Action | None, list[Problem]]:
    """The called action (None when it does not exist) and problems of the call's input keys."""
    action = next((a for a in spec.actions if a.name == call.action), None)
    if action is None:
        return None, [(f"{where}/action", f"action {call.action!r} does not exist")]
    inputs = set(input_names(action))
    return action, [
        (f"{where}/input/{_esc(key)}", f"{key!r} is not an input of {action.name!r}")
        for key in call.input
        if key not in inputs
    ]


def _result_schema(spec: ConnectorSpec, action: Action | None) -> JsonSchema | None:
    if action is None:
        return None
    return schema_at_path(action.output.schema_, action.output.result_path, spec.defs)


def template_uses(template: Any, where: str = "") -> Iterator[tuple[str, str, str]]:
    """(pointer of the string, placeholder name, its first path segment or '' if malformed)."""
    for location, text in string_leaves(template):
        pointer = where + "".join(f"/{_esc(str(step))}" for step in location)
        for name in template_names(text):
            try:
                head = parse_path(name)[0]
            except (ValueError, IndexError):
                head = ""
            yield pointer, name, str(head)


def _check_registration(spec: ConnectorSpec, reg: WebhookRegistration, where: str) -> list[Problem]:
    """Actions exist and take the inputs given; every template name can be resolved when the
    template is filled; result paths are in the create result's schema; the secret is sent
    when Patchbay makes it and never kept in the clear registration info."""
    generated = reg.secret_path is None
    create, out = _check_call(spec, reg.create, f"{where}/create")
    created = _result_schema(spec, create)

    def names(template: Any, at: str, context: str) -> list[Problem]:
        found: list[Problem] = []
        for pointer, name, head in template_uses(template, at):
            problem = None
            if not head:
                problem = f"{{{name}}} is not a valid name"
            elif context == "delete":
                if head not in reg.info and head != "action":
                    problem = f"delete input uses {{{name}}}, which info does not keep"
            elif head == "secret" and (not generated or context == "info"):
                problem = (
                    "{secret} is never kept in info (it is stored encrypted)"
                    if context == "info"
                    else "{secret} exists only when Patchbay generates the secret (no secret_path)"
                )
            elif head == "result" and context == "create":
                problem = "create's input cannot use {result...}: there is no result yet"
            elif head == "result" and created is not None and create is not None:
                rest = name[len("result") :].removeprefix(".")
                if rest and schema_at_path(created, rest, spec.defs) is None:
                    problem = f"{rest!r} is not in the result schema of {create.name!r}"
            if problem is not None:
                found.append((pointer, problem))
        return found

    out += names(reg.create.input, f"{where}/create/input", "create")
    if generated and "secret" not in {head for _, _, head in template_uses(reg.create.input, "")}:
        out.append(
            (
                f"{where}/create/input",
                "Patchbay generates the secret (no secret_path), so create's input must send "
                "it as {secret}",
            )
        )
    source = created
    if reg.secret_call is not None:
        fetch, problems = _check_call(spec, reg.secret_call, f"{where}/secret_call")
        out += problems + names(reg.secret_call.input, f"{where}/secret_call/input", "secret")
        source = _result_schema(spec, fetch)
    if reg.secret_path is not None:
        try:
            parse_path(reg.secret_path)
        except ValueError as exc:
            out.append((f"{where}/secret_path", str(exc)))
        else:
            if source is not None and schema_at_path(source, reg.secret_path, spec.defs) is None:
                out.append(
                    (f"{where}/secret_path", f"{reg.secret_path!r} is not in the result schema")
                )
    if "action" in reg.info:
        out.append((f"{where}/info/action", "'action' is kept by Patchbay (the create action)"))
    out += names(reg.info, f"{where}/info", "info")
    if reg.delete is not None:
        _, problems = _check_call(spec, reg.delete, f"{where}/delete")
        out += problems + names(reg.delete.input, f"{where}/delete/input", "delete")
    return out


def _esc(token: str) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")
