"""Validating an action's input against its JSON Schema before any request is built.

The input of an action is one flat object: its parameters plus its body properties. Unknown keys
are rejected (with the closest known name), so a typo never silently drops a filter.

Validation runs on every call, so it has a fast path: jsonschema-rs (compiled, ~100x quicker)
answers "valid" for plain JSON-shaped input. Anything it rejects or cannot represent (bytes of a
file upload, a Mapping that is not a dict) goes to jsonschema, which has the final word and
writes the error message. The two agree on JSON data; a test holds them to it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

from patchbay.runtime.errors import ValidationFailed
from patchbay.runtime.spec._model import Action, JsonSchema


def _is_string_or_bytes(checker: Any, instance: Any) -> bool:
    return type(instance) is str or isinstance(instance, str | bytes)


def _is_object(checker: Any, instance: Any) -> bool:
    return type(instance) is dict or isinstance(instance, Mapping)


def _is_array(checker: Any, instance: Any) -> bool:
    # Tuples are arrays to the request builder (and to jsonschema-rs): accept them here too.
    return isinstance(instance, list | tuple)


@cache
def input_validator_class() -> type[Validator]:
    """Draft 2020-12, except that file and raw-body inputs may be bytes.

    Built on first use: jsonschema is costly to import and only needed once a call is made.
    """
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"string": _is_string_or_bytes, "object": _is_object, "array": _is_array}
    )
    extended: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, type_checker=checker
    )
    return extended


FILE_OBJECT_SCHEMA: JsonSchema = {
    "type": "object",
    "properties": {
        "filename": {"type": "string"},
        "content": {"type": "string"},
        "content_type": {"type": "string"},
    },
    "required": ["content"],
    "additionalProperties": False,
}


_BODY_KEYS_MERGED = frozenset(
    {"type", "properties", "required", "additionalProperties", "title", "description", "$comment"}
)


def input_schema(action: Action, defs: Mapping[str, JsonSchema]) -> JsonSchema:
    """The JSON Schema of an action's flat input object."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    extra_rules: list[JsonSchema] = []
    for param in action.parameters:
        schema = dict(param.schema_)
        if param.description and "description" not in schema:
            schema["description"] = param.description
        properties[param.name] = schema
        if param.required:
            required.append(param.name)
    if action.body is not None:
        body = action.body.schema_
        properties.update(body.get("properties", {}))
        # Body-level rules (oneOf/anyOf/dependentRequired ...) constrain the same flat object.
        rest = {k: v for k, v in body.items() if k not in _BODY_KEYS_MERGED}
        if rest:
            extra_rules.append(rest)
        for name in action.body.files:
            # A file may also be given with its name and type: {filename, content, content_type}.
            properties[name] = {"anyOf": [properties.get(name, {}), FILE_OBJECT_SCHEMA]}
        required += [r for r in body.get("required", []) if r not in required]
    result: JsonSchema = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        result["required"] = required
    if extra_rules:
        result["allOf"] = extra_rules
    if defs:
        result["$defs"] = dict(defs)
    return result


def fast_validator(schema: JsonSchema) -> Callable[[Any], bool] | None:
    """jsonschema-rs's ``is_valid`` for ``schema``, or None when it cannot compile it (the
    slow path then decides alone). Formats are annotations in both, as 2020-12 says."""
    try:
        import jsonschema_rs

        return jsonschema_rs.Draft202012Validator(schema, validate_formats=False).is_valid
    except Exception:  # a schema it cannot compile (e.g. a regex feature): slow path only
        return None


class InputCheck:
    """A compiled validator for one action; ``check`` raises ``ValidationFailed``."""

    __slots__ = ("_action", "_connector", "_fast", "_known", "_validator")

    def __init__(self, connector: str, action: Action, defs: Mapping[str, JsonSchema]) -> None:
        schema = input_schema(action, defs)
        self._validator = input_validator_class()(schema)
        self._fast = fast_validator(schema)
        self._known = sorted(schema["properties"])
        self._connector = connector
        self._action = action.name

    def check(self, data: Any) -> None:
        if self._fast is not None:
            try:
                if self._fast(data):
                    return
            except ValueError:  # not JSON-shaped (bytes, custom Mapping): the slow path decides
                pass
        if self._validator.is_valid(data):
            return
        if not isinstance(data, Mapping):
            raise self._fail("input must be a JSON object", "")
        unknown = [k for k in data if k not in self._known]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, self._known, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(self._known) or "none"
            raise self._fail(f"unknown input {key!r}{hint} (known: {known})", f"/{key}")
        from jsonschema.exceptions import best_match

        error = best_match(self._validator.iter_errors(data))
        assert error is not None
        pointer = "".join(f"/{p}" for p in error.absolute_path)
        if error.validator == "required":
            missing = str(error.message).split("'")[1] if "'" in error.message else ""
            pointer = f"{pointer}/{missing}" if missing else pointer
        raise self._fail(error.message, pointer)

    def _fail(self, message: str, pointer: str) -> ValidationFailed:
        return ValidationFailed(
            f"invalid input: {message}",
            connector=self._connector,
            action=self._action,
            pointer=pointer,
            retryable=False,
        )
