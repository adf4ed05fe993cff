"""Loading connector specs: JSON syntax, then the JSON Schema, then the model, then semantics.

Every problem is reported with the file, a JSON pointer and a message, and all problems of a
file are collected before anything fails, so an author fixes a spec in one pass.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaValidationError
    from jsonschema.protocols import Validator

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http._limits import DEFAULT_MAX_JSON_DEPTH, json_depth_exceeds
from patchbay.runtime.spec._checks import check_semantics
from patchbay.runtime.spec._model import ConnectorSpec, connector_json_schema


@dataclass(frozen=True, slots=True)
class SpecProblem:
    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.pointer or '/'}: {self.message}"


class SpecInvalid(ConfigError):
    """A spec that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid connector spec ({len(problems)} problem(s)):\n{lines}")


@cache
def _schema_validator() -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(connector_json_schema())


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _plausible(error: SchemaValidationError) -> list[SchemaValidationError]:
    """The failures of the branches of a oneOf/anyOf that could be what the author meant:
    not those whose discriminator (``"type"``, ``"style"``) is a ``const`` mismatch, nor a bare
    type mismatch (``… is not of type 'null'``) when another branch got further."""
    branches: dict[Any, list[SchemaValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    kept = {
        key: subs for key, subs in branches.items() if not any(s.validator == "const" for s in subs)
    }
    deeper = {
        key: subs
        for key, subs in kept.items()
        if not all(s.validator == "type" and s.absolute_path == error.absolute_path for s in subs)
    }
    chosen = deeper or kept
    return [sub for subs in chosen.values() for sub in subs] or list(error.context or [])


def _closest(error: SchemaValidationError) -> SchemaValidationError:
    """Descend nested unions to the failure of the branch that came closest."""
    from jsonschema.exceptions import best_match

    while error.context:
        plausible = _plausible(error)
        # An unknown key usually explains the missing required one: report it first.
        unknown = [e for e in plausible if e.validator == "additionalProperties"]
        found = best_match(unknown or plausible)
        if found is None:
            break
        error = found
    return error


def _message(error: SchemaValidationError) -> str:
    """The jsonschema message, or for an unknown key: where, in which style, and the closest
    known key (``pagination (style 'cursor'): unknown key 'cursor_parm', did you mean
    'cursor_param'?``)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return str(error.message)
    known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
    unknown = [k for k in error.instance if k not in known]
    if not unknown:
        return str(error.message)
    names = [p for p in error.absolute_path if isinstance(p, str)]
    where = names[-1] if names else "the spec"
    for tag in ("style", "type", "in", "encoding"):
        if isinstance(error.instance.get(tag), str):
            where += f" ({tag} {error.instance[tag]!r})"
            break
    parts = []
    for key in unknown:
        text = f"unknown key {key!r}"
        guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        if guess:
            text += f", did you mean {guess[0]!r}?"
        parts.append(text)
    return f"{where}: " + "; ".join(parts)


def _schema_problems(data: Any, source: str) -> list[SpecProblem]:
    problems = []
    for error in sorted(_schema_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        # oneOf/anyOf: name the branch that came closest instead of "not valid under any".
        shown = _closest(error)
        problems.append(SpecProblem(source, _pointer(shown.absolute_path), _message(shown)))
    return problems


def _model_problems(data: Any, source: str) -> tuple[ConnectorSpec | None, list[SpecProblem]]:
    try:
        return ConnectorSpec.model_validate(data, strict=True), []
    except ValidationError as exc:
        return None, [
            SpecProblem(source, _pointer(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)
        ]


def check_spec_data(
    data: Any, source: str = "<spec>"
) -> tuple[ConnectorSpec | None, list[SpecProblem]]:
    """Validate parsed JSON; returns the spec (when it is usable) and every problem found."""
    problems = _schema_problems(data, source)
    if problems:
        return None, problems
    spec, problems = _model_problems(data, source)
    if spec is None:
        return None, problems
    problems = [SpecProblem(source, ptr, msg) for ptr, msg in check_semantics(spec)]
    return (None if problems else spec), problems


def check_spec_text(
    text: str, source: str = "<spec>"
) -> tuple[ConnectorSpec | None, list[SpecProblem]]:
    if json_depth_exceeds(text, DEFAULT_MAX_JSON_DEPTH):  # json.loads would recurse out
        return None, [SpecProblem(source, "", f"nests deeper than {DEFAULT_MAX_JSON_DEPTH} levels")]
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        return None, [
            SpecProblem(
                source, "", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )
        ]
    except ValueError as exc:
        return None, [SpecProblem(source, "", f"invalid JSON: {exc}")]
    return check_spec_data(data, source)


def check_spec_file(path: str | Path) -> tuple[ConnectorSpec | None, list[SpecProblem]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [SpecProblem(str(path), "", f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, [SpecProblem(str(path), "", f"not UTF-8: {exc.reason}")]
    return check_spec_text(text, str(path))


def load_spec(path: str | Path) -> ConnectorSpec:
    """Load and fully validate one spec file; raise :class:`SpecInvalid` listing every problem."""
    spec, problems = check_spec_file(path)
    if spec is None:
        raise SpecInvalid(problems)
    return spec


def parse_spec(data: dict[str, Any], source: str = "<spec>") -> ConnectorSpec:
    """Validate an in-memory spec document (tests, generated code) the same way as a file."""
    spec, problems = check_spec_data(data, source)
    if spec is None:
        raise SpecInvalid(problems)
    return spec
