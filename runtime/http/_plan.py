"""What is compiled once per action: validators, request builder, metric children."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchbay.runtime.http._connection import (
    render_base_url,
)
from patchbay.runtime.http._requests import RequestBuilder
from patchbay.runtime.http._validation import InputCheck
from patchbay.runtime.spec._model import Action

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from patchbay.runtime.http._core import ExecutorCore


class ActionPlan:
    """Everything compiled once per action."""

    __slots__ = (
        "action",
        "builder",
        "check",
        "idempotency",
        "metric_children",
        "output_validator",
        "repeatable",
    )

    def __init__(self, core: ExecutorCore, action: Action) -> None:
        spec = core.spec
        self.action = action
        self.check = InputCheck(spec.name, action, spec.defs)
        base = render_base_url(
            spec,
            action.base_url or spec.connection.base_url,
            core.variables,
            what=f"the base URL of {action.name!r}",
            override=core.base_url_override,
        )
        self.builder = RequestBuilder(
            action, base_url=base, headers=core.default_headers(action), variables=core.variables
        )
        idem = spec.idempotency
        uses_key = action.idempotency_key
        if uses_key is None:
            uses_key = idem is not None and action.method in idem.methods
        self.idempotency = idem if uses_key else None
        self.repeatable = action.is_idempotent
        self.output_validator: Validator | None = None
        if (
            core.options.validate_responses
            and action.output.schema_
            and action.output.format == "json"
        ):
            schema = dict(action.output.schema_)
            if spec.defs:
                schema["$defs"] = spec.defs
            from jsonschema import Draft202012Validator

            self.output_validator = Draft202012Validator(schema)
        self.metric_children: dict[tuple[str, str], Any] = {}
