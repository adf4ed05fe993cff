"""Loading connector specs: JSON syntax, then the JSON Schema, then the model, then semantics.

Every problem is reported with the file, a JSON pointer and a message, and all problems of a
file are collected before anything fails, so an author fixes a spec in one pass.
"""

from __future__ import annotations

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
from patchbay.runtime.limits import DEFAULT_MAX_JSON_DEPTH, json_depth_exceeds
from patchbay.runtime.spec import ConnectorSpec, connector_json_schema
from patchbay.runtime.spec_checks import check_semantics


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


def _schema_problems(data: Any, source: str) -> list[SpecProblem]:
    from jsonschema.exceptions import best_match

    problems = []
    for error in sorted(_schema_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        shown: SchemaValidationError = error
        if error.context:
            # oneOf/anyOf: name the branch that came closest instead of "not valid under any",
            # ignoring branches whose discriminator ("type", "style") does not even match.
            branches: dict[Any, list[SchemaValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
            plausible = [
                sub
                for subs in branches.values()
                if not any(s.validator == "const" for s in subs)
                for sub in subs
            ]
            shown = best_match(plausible or error.context) or error
        problems.append(SpecProblem(source, _pointer(shown.absolute_path), shown.message))
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
