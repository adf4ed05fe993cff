"""Template contexts: everything a template needs, computed in Python so templates stay dumb."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from patchbay.codegen.models import Kind, ModelPlan, ModelsInfo, kind_for
from patchbay.codegen.naming import pascal, snake, unique
from patchbay.runtime.spec import ConnectorSpec, OAuth2Auth

#: Keyword arguments every generated method has; an input field with one of these names is
#: renamed (``page_size_``) and still sent under its own name.
RESERVED_KWARGS = frozenset({"self", "request_options", "max_pages", "max_items", "page_size"})


def doc_text(*parts: str) -> str:
    """A docstring body that cannot break out of its triple quotes."""
    text = "\n\n".join(p.strip() for p in parts if p and p.strip()) or "No description."
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


@dataclass(frozen=True)
class Arg:
    kwarg: str
    field: str
    annotation: str
    required: bool
    description: str = ""


@dataclass
class MethodContext:
    name: str
    method: str
    doc: str
    input_class: str
    kind: Kind
    paged: bool
    own_page_size: bool
    args: list[Arg] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """The module-level constant binding the method to its action."""
        return f"_{self.method.upper()}"

    @property
    def renames(self) -> dict[str, str]:
        return {a.kwarg: a.field for a in self.args if a.kwarg != a.field}


def client_name(spec: ConnectorSpec) -> str:
    return f"{pascal(spec.name)}Client"


def _without_metadata(annotation: ast.expr) -> ast.expr:
    """``Annotated[int | None, Field(le=50)]`` -> ``int | None``; the model checks constraints."""
    if (
        isinstance(annotation, ast.Subscript)
        and isinstance(annotation.value, ast.Name)
        and annotation.value.id == "Annotated"
        and isinstance(annotation.slice, ast.Tuple)
    ):
        return annotation.slice.elts[0]
    return annotation


def _allows_null(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if schema.get("nullable") is True or ("const" in schema and schema["const"] is None):
        return True
    if isinstance(schema.get("enum"), list) and None in schema["enum"]:
        return True
    return any(
        _allows_null(branch) for key in ("anyOf", "oneOf") for branch in schema.get(key) or []
    )


def _without_none(annotation: ast.expr) -> ast.expr:
    """``str | int | None`` -> ``str | int`` (an optional argument's ``None`` comes from
    datamodel-code-generator's default, not from the schema)."""
    parts: list[ast.expr] = []

    def flatten(node: ast.expr) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            flatten(node.left)
            flatten(node.right)
        else:
            parts.append(node)

    flatten(annotation)
    kept = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
    if not kept:
        return annotation
    out = kept[0]
    for part in kept[1:]:
        out = ast.BinOp(out, ast.BitOr(), part)
    return out


def _args(
    info: ModelsInfo, raw: dict[str, ast.expr], input_class: str, schema: dict[str, Any]
) -> list[Arg]:
    args: list[Arg] = []
    taken: set[str] = set()
    properties = schema.get("properties") or {}
    # Required arguments first reads best; the signature is keyword-only either way.
    fields = sorted(info.classes.get(input_class, []), key=lambda f: not f.required)
    for f in fields:
        kwarg = f.name if f.name not in RESERVED_KWARGS else f"{f.name}_"
        kwarg = unique(kwarg, taken)
        prop = properties.get(f.alias or f.name, {})
        annotation = info.accepting_dicts(_without_metadata(raw[f"{input_class}.{f.name}"]))
        text = info.qualify(annotation)
        if not f.required:
            # ``None`` last, and only where the schema allows null.
            text = info.qualify(_without_none(annotation)) + " | NotGiven"
            text += " | None" if _allows_null(prop) else ""
        description = prop.get("description") if isinstance(prop, dict) else None
        args.append(
            Arg(
                kwarg, f.name, text, f.required, description if isinstance(description, str) else ""
            )
        )
    return args


def _args_doc(args: list[Arg]) -> str:
    lines = [
        f"    {a.kwarg}: " + " ".join(a.description.split()) for a in args if a.description.strip()
    ]
    return "Args:\n" + "\n".join(lines) if lines else ""


def method_contexts(
    spec: ConnectorSpec, plan: ModelPlan, info: ModelsInfo, raw: dict[str, ast.expr]
) -> list[MethodContext]:
    methods: list[MethodContext] = []
    taken = {"call", "test_connection", "close", "aclose", "executor", "package"}
    for action in spec.actions:
        input_class = plan.inputs[action.name]
        args = _args(info, raw, input_class, plan.defs.get(input_class, {}))
        size_param = (
            action.pagination.page_size.param
            if action.pagination and action.pagination.page_size
            else None
        )
        methods.append(
            MethodContext(
                name=action.name,
                method=unique(snake(action.name), taken),
                doc=doc_text(
                    action.title or action.name,
                    action.description,
                    f"``{action.method} {action.path}``",
                    _args_doc(args),
                ),
                input_class=input_class,
                kind=kind_for(info, plan.results[action.name], action.output.format),
                paged=action.pagination is not None,
                own_page_size=size_param is None or all(a.field != size_param for a in args),
                args=args,
            )
        )
    return methods


def credential_contexts(spec: ConnectorSpec) -> list[dict[str, Any]]:
    out = []
    taken: set[str] = set()
    for variant in spec.auth:
        fields = []
        names: set[str] = {"variant", "token_provider"}
        for name, cred in variant.fields.items():
            py = unique(snake(name), names)
            fields.append(
                {
                    "name": py,
                    "alias": name if py != name else None,
                    "annotation": "SecretStr" if cred.secret else "str",
                    "description": doc_text(cred.description) if cred.description else "",
                }
            )
        out.append(
            {
                "class_name": unique(
                    f"{pascal(spec.name)}{pascal(variant.name)}Credentials", taken
                ),
                "variant": variant.name,
                "oauth": isinstance(variant, OAuth2Auth),
                "doc": doc_text(
                    variant.title or f"Auth variant {variant.name!r}", variant.description
                ),
                "fields": fields,
            }
        )
    return out


def variable_contexts(spec: ConnectorSpec) -> list[dict[str, Any]]:
    out = []
    names: set[str] = set()
    for name, var in spec.connection.variables.items():
        py = unique(snake(name), names)
        base = "SecretStr" if var.secret else "str"
        if var.enum:
            base = "Literal[" + ", ".join(repr(v) for v in var.enum) + "]"
        out.append(
            {
                "name": py,
                "alias": name if py != name else None,
                "annotation": f"{base} | None",
                "description": doc_text(var.description) if var.description else "",
            }
        )
    return out


def trigger_contexts(
    spec: ConnectorSpec, plan: ModelPlan, info: ModelsInfo
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    polls = []
    taken: set[str] = set()
    for trigger in spec.triggers.polling:
        action = spec.action(trigger.action)
        polls.append(
            {
                "name": trigger.name,
                "method": unique(snake(trigger.name), taken),
                "doc": doc_text(trigger.title or trigger.name, trigger.description),
                "kind": kind_for(info, plan.results[action.name], action.output.format),
            }
        )
    hooks = []
    classes: set[str] = set()
    for hook in spec.triggers.webhooks:
        events = [
            {"type": event, "kind": kind_for(info, plan.events[(hook.name, event)], "json")}
            for event in hook.events
        ]
        hooks.append(
            {
                "name": hook.name,
                "class_name": unique(f"{pascal(spec.name)}{pascal(hook.name)}Events", classes),
                "doc": doc_text(hook.title or hook.name, hook.description),
                "events": events,
            }
        )
    return polls, hooks
