"""Pydantic models for a connector, produced by datamodel-code-generator from the spec's schemas.

All schemas of a connector go into one JSON Schema document (the spec's ``$defs`` plus one
definition per action input, result or page item, and per webhook event), so references between
them resolve and class names are de-duplicated once. The generated source is then read back with
``ast`` so the client can offer exactly the model's fields as typed keyword arguments.
"""

from __future__ import annotations

import ast
import builtins
import copy
import io
import json
import tempfile
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamodel_code_generator import InputFileType, LiteralType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType
from datamodel_code_generator.format import Formatter
from patchbay.codegen.naming import pascal, unique
from patchbay.runtime.spec import Action, ConnectorSpec, JsonSchema
from patchbay.runtime.spec_checks import schema_at_path
from patchbay.runtime.validation import input_schema

_REF_PREFIX = "#/$defs/"


@dataclass(frozen=True)
class Kind:
    """What a generated method returns: a model class, or a plain Python type."""

    parse: str  # expression passed to parse_as (e.g. "m.Customer", "Any")
    annotation: str  # the return annotation (a RootModel's root type, unwrapped)


@dataclass
class ModelPlan:
    """Which definition each action and event uses, decided before generation."""

    defs: dict[str, JsonSchema] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    results: dict[str, str | None] = field(default_factory=dict)
    events: dict[tuple[str, str], str] = field(default_factory=dict)


def _ref_target(schema: JsonSchema | None) -> str | None:
    """The $defs name when ``schema`` is only a reference."""
    if schema is None or set(schema) - {"$ref", "description", "title"}:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return ref[len(_REF_PREFIX) :]
    return None


def result_schema(spec: ConnectorSpec, action: Action) -> JsonSchema | None:
    """The schema of what a method returns: one page item if it pages, else its result."""
    output = action.output
    if output.format != "json" or not output.schema_:
        return None
    if action.pagination is not None:
        items = schema_at_path(output.schema_, action.pagination.items_path, spec.defs)
        inner = items.get("items") if items is not None else None
        return inner if isinstance(inner, dict) else None
    return schema_at_path(output.schema_, output.result_path, spec.defs, resolve=False)


def plan_models(spec: ConnectorSpec) -> ModelPlan:
    plan = ModelPlan()
    taken = set(spec.defs)
    plan.defs.update(copy.deepcopy(spec.defs))
    for action in spec.actions:
        base = pascal(action.name)
        name = unique(f"{base}Input", taken)
        schema = input_schema(action, {})
        description = action.description or action.title
        if description:
            schema["description"] = f"Input of ``{action.name}``: {description}"
        plan.defs[name] = schema
        plan.inputs[action.name] = name
        result = result_schema(spec, action)
        target = _ref_target(result)
        if result is None or not result:
            plan.results[action.name] = None
        elif target is not None:
            plan.results[action.name] = target
        else:
            suffix = "Item" if action.pagination is not None else "Result"
            name = unique(f"{base}{suffix}", taken)
            plan.defs[name] = copy.deepcopy(result)
            plan.results[action.name] = name
    for hook in spec.triggers.webhooks:
        for event, schema in hook.events.items():
            target = _ref_target(schema)
            if target is None:
                target = unique(f"{pascal(hook.name)}{pascal(event)}Event", taken)
                plan.defs[target] = copy.deepcopy(schema)
            plan.events[(hook.name, event)] = target
    # Everything the vendor sends keeps undeclared fields; what only the caller sends does not.
    received = [n for n in plan.results.values() if n is not None] + list(plan.events.values())
    sent_only = set(_reachable(plan.defs, list(plan.inputs.values())))
    sent_only -= set(_reachable(plan.defs, received))
    for name in sorted(set(plan.defs) - sent_only):
        _keep_extra_fields(plan.defs[name])
    return plan


def _reachable(defs: dict[str, JsonSchema], roots: list[str]) -> list[str]:
    """``roots`` and every definition their schemas reference, in a stable order."""
    seen: dict[str, None] = {}
    todo = list(roots)
    while todo:
        name = todo.pop(0)
        if name in seen or name not in defs:
            continue
        seen[name] = None
        todo += [ref[len(_REF_PREFIX) :] for ref in _refs(defs[name])]
    return sorted(seen)


def _refs(schema: object) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
        for value in schema.values():
            found += _refs(value)
        return [r for r in found if r.startswith(_REF_PREFIX)]
    if isinstance(schema, list):
        return [r for value in schema for r in _refs(value)]
    return []


def _keep_extra_fields(schema: object) -> None:
    """Objects the vendor sends keep the fields the spec does not declare (``extra="allow"``,
    readable as ``model_extra``) instead of dropping them; an explicit
    ``additionalProperties`` in the spec is left as written."""
    if isinstance(schema, list):
        for value in schema:
            _keep_extra_fields(value)
        return
    if not isinstance(schema, dict):
        return
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = True
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties"):
            if isinstance(value, dict):
                for sub in value.values():
                    _keep_extra_fields(sub)
        elif key not in ("enum", "const", "examples", "default"):
            _keep_extra_fields(value)


def render_models(spec: ConnectorSpec, plan: ModelPlan) -> str:
    """Python source of ``models.py`` (unformatted; the generator formats every file)."""
    document = {"$defs": plan.defs, "title": f"{pascal(spec.name)}Schemas"}
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        metadata = Path(folder) / "models.json"
        warnings.simplefilter("ignore")
        source = generate(
            document,
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_312,
            disable_timestamp=True,
            use_standard_collections=True,
            use_union_operator=True,
            field_constraints=True,
            use_annotated=True,
            use_schema_description=True,
            use_field_description=True,
            snake_case_field=True,
            allow_population_by_field_name=True,
            enum_field_as_literal=LiteralType.All,
            use_double_quotes=True,
            formatters=[Formatter.BUILTIN],
            emit_model_metadata=metadata,
        )
        assert isinstance(source, str)
        classes = _classes_by_definition(json.loads(metadata.read_text()))
    source = _give_definitions_their_names(source, classes)
    return _drop_document_root(source, f"{pascal(spec.name)}Schemas")


def _classes_by_definition(metadata: dict[str, Any]) -> dict[str, str]:
    """``{$defs name: generated class name}`` from datamodel-code-generator's model metadata."""
    found: dict[str, str] = {}
    for model in metadata.get("models", []):
        ref = model.get("source_ref")
        name = ref[len(_REF_PREFIX) :] if isinstance(ref, str) else ""
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX) and "/" not in name:
            found[name] = model["class_name"]
    return found


def _give_definitions_their_names(source: str, classes: dict[str, str]) -> str:
    """Every ``$defs`` entry's class carries the entry's name, as the client assumes.

    datamodel-code-generator names an inline schema after its field, so in Stripe's
    ``customer: string | Customer`` the string variant can take ``Customer`` first and the real
    model becomes ``CustomerModel``; here the squatter moves to a free name and the definition
    gets its own back (a token-level rename, so every reference follows)."""
    taken = {node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}
    renames: dict[str, str] = {}
    for name, generated in sorted(classes.items()):
        if generated == name or generated in renames:
            continue
        if name in taken and name not in classes.values():
            renames[name] = unique(f"{name}Value", taken)
        elif name in taken:
            continue  # another definition holds the name: leave both as generated
        renames[generated] = name
    if not renames:
        return source
    lines = source.splitlines(keepends=True)
    edits = [
        tok
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.NAME and tok.string in renames
    ]
    for tok in reversed(edits):
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + renames[tok.string] + line[col + len(tok.string) :]
    return "".join(lines)


def _drop_document_root(source: str, root: str) -> str:
    """The wrapper document itself is not a model anyone needs; remove its class."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == root:
            start = node.lineno - 1 - len(node.decorator_list)
            end = node.end_lineno or node.lineno
            del lines[start:end]
            break
    text = "".join(lines)
    header_end = text.find("\nfrom __future__")
    return text[header_end + 1 :] if header_end >= 0 else text


# ------------------------------------------------------------------------ reading it back


@dataclass(frozen=True)
class FieldInfo:
    name: str
    annotation: str
    required: bool


@dataclass
class ModelsInfo:
    """What the client template needs to know about the generated models."""

    classes: dict[str, list[FieldInfo]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # name -> module

    def qualify(self, annotation: ast.expr) -> str:
        """Render an annotation for client.py: model classes as ``m.X``."""

        class Qualify(ast.NodeTransformer):
            def visit_Name(inner, node: ast.Name) -> ast.AST:
                if node.id in self.classes or node.id in self.roots:
                    return ast.copy_location(
                        ast.Attribute(
                            value=ast.Name("m", ast.Load()), attr=node.id, ctx=ast.Load()
                        ),
                        node,
                    )
                return node

        return ast.unparse(Qualify().visit(copy.deepcopy(annotation)))

    def needed_imports(self, annotations: list[str]) -> dict[str, list[str]]:
        """``{module: [names]}`` for the non-builtin names the annotations use."""
        wanted: dict[str, set[str]] = {}
        for text in annotations:
            for node in ast.walk(ast.parse(text, mode="eval")):
                if isinstance(node, ast.Name) and node.id != "m" and not hasattr(builtins, node.id):
                    module = self.imports.get(node.id)
                    if module is not None:
                        wanted.setdefault(module, set()).add(node.id)
        return {module: sorted(names) for module, names in sorted(wanted.items())}


def _required(value: ast.expr | None) -> bool:
    if value is None:
        return True
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        if value.args:
            first = value.args[0]
            return isinstance(first, ast.Constant) and first.value is Ellipsis
        return not any(k.arg in ("default", "default_factory") for k in value.keywords)
    return False


def read_models(source: str) -> tuple[ModelsInfo, dict[str, ast.expr]]:
    """Fields of every class, root types of RootModels, and imported names."""
    tree = ast.parse(source)
    info = ModelsInfo()
    raw: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            for alias in node.names:
                info.imports[alias.asname or alias.name] = node.module
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [ast.unparse(b) for b in node.bases]
        if any(b.startswith("RootModel[") for b in bases):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", "") == "root":
                    raw[node.name] = stmt.annotation
            info.roots[node.name] = ""
            continue
        fields = []
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                fields.append(
                    FieldInfo(stmt.target.id, ast.unparse(stmt.annotation), _required(stmt.value))
                )
                raw[f"{node.name}.{stmt.target.id}"] = stmt.annotation
        info.classes[node.name] = fields
    for name in info.roots:
        info.roots[name] = info.qualify(raw[name]) if name in raw else "Any"
    return info, raw


def kind_for(info: ModelsInfo, name: str | None, output_format: str) -> Kind:
    if output_format == "binary":
        return Kind("bytes", "bytes")
    if output_format == "text":
        return Kind("str", "str")
    if name is None:
        return Kind("Any", "Any")
    if name in info.roots:
        return Kind(f"m.{name}", info.roots[name])
    return Kind(f"m.{name}", f"m.{name}")
