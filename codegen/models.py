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
from patchbay.runtime.http import FILE_OBJECT_SCHEMA, input_schema
from patchbay.runtime.spec import Action, ConnectorSpec, JsonSchema, schema_at_path

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
    _hoist_inline_objects(plan.defs, taken)
    # Definitions nothing reaches (e.g. list envelopes of paged actions) are not emitted.
    used = set(_reachable(plan.defs, [*plan.inputs.values(), *_result_names(plan)]))
    plan.defs = {name: schema for name, schema in plan.defs.items() if name in used}
    # Everything the vendor sends keeps undeclared fields; what only the caller sends does not.
    received = [n for n in plan.results.values() if n is not None] + list(plan.events.values())
    sent_only = set(_reachable(plan.defs, list(plan.inputs.values())))
    sent_only -= set(_reachable(plan.defs, received))
    for name in sorted(set(plan.defs) - sent_only):
        _keep_extra_fields(plan.defs[name])
    return plan


def _result_names(plan: ModelPlan) -> list[str]:
    return [n for n in plan.results.values() if n is not None] + list(plan.events.values())


def _is_inline_object(schema: object) -> bool:
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("properties"), dict)
        and bool(schema["properties"])
        and "$ref" not in schema
    )


def _hoist_inline_objects(defs: dict[str, JsonSchema], taken: set[str]) -> None:
    """Give every nested object schema a definition of its own, named after where it sits.

    datamodel-code-generator names an inline object after its field alone, so two ``parent``
    objects become ``Parent`` and ``Parent1``, and the numbers move when a spec gains another.
    Here ``CreatePageInput.parent`` becomes ``CreatePageInputParent`` and the items of
    ``Issue.labels`` ``IssueLabelsItem``: names that depend only on the path. Union branches
    and constrained scalars get names from the schema (``_branch_names``), never a number."""
    todo = list(defs)
    while todo:
        name = todo.pop(0)
        defs[name] = _hoist(defs[name], name, defs, taken, todo, top=True)


def _hoist(
    schema: Any,
    base: str,
    defs: dict[str, JsonSchema],
    taken: set[str],
    todo: list[str],
    *,
    top: bool = False,
    short: str | None = None,
) -> Any:
    """``schema`` with nested objects and constrained scalars moved into ``defs``; ``base`` is
    the name of where it sits (``IssueLabels``), ``short`` that of its property alone."""
    if not isinstance(schema, dict):
        return schema
    if not top:
        schema = _split_required_alternatives(schema)
        schema = _drop_restated_properties(schema, defs)
    if not top and _is_inline_object(schema):
        name = unique(base, taken)
        defs[name] = schema
        todo.append(name)
        ref: dict[str, Any] = {"$ref": _REF_PREFIX + name}
        if isinstance(schema.get("description"), str):
            ref["description"] = schema["description"]
        return ref
    out = dict(schema)
    props = schema.get("properties")
    if isinstance(props, dict):
        out["properties"] = {
            key: _hoist(value, base + pascal(key), defs, taken, todo, short=pascal(key))
            for key, value in props.items()
        }
    items = schema.get("items")
    if isinstance(items, dict):
        if _is_constrained_scalar(items):
            names = [f"{n}Item" for n in (short, base) if n is not None]
            out["items"] = _hoist_scalar(items, names, defs, taken)
        else:
            out["items"] = _hoist(items, f"{base}Item", defs, taken, todo)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _hoist(
            schema["additionalProperties"], f"{base}Value", defs, taken, todo
        )
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            options = _branch_names(branches, base, short)
            out[key] = [
                _hoist_scalar(b, options[i], defs, taken)
                if _is_constrained_scalar(b)
                else _hoist(b, options[i][-1], defs, taken, todo)
                for i, b in enumerate(branches)
            ]
    return out


# Keywords that make datamodel-code-generator wrap a scalar in a ``RootModel`` of its own
# when it sits in a union or in array items (named after the field plus a digit).
_SCALAR_CONSTRAINTS = frozenset(
    {
        "maxLength",
        "minLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    }
)
_SCALAR_TYPES = frozenset({"string", "number", "integer"})
_REQUIRED_ONLY = frozenset({"required", "description", "title", "$comment"})


def _types(schema: JsonSchema) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _is_constrained_scalar(schema: object) -> bool:
    """A string or number with length/pattern/range limits and nothing else to name it."""
    if not isinstance(schema, dict) or "$ref" in schema or "enum" in schema:
        return False
    kinds = _types(schema) - {"null"}
    return bool(kinds) and kinds <= _SCALAR_TYPES and bool(_SCALAR_CONSTRAINTS & set(schema))


def _hoist_scalar(
    schema: JsonSchema, names: list[str], defs: dict[str, JsonSchema], taken: set[str]
) -> Any:
    """Make a constrained scalar a definition named after what it is, shared when identical.

    Stripe's expandable ``customer: string(maxLength 5000) | Customer`` appears on dozens of
    objects; every copy becomes ``CustomerId`` instead of ``Customer1``, ``Customer2``...
    The first of ``names`` that is free or already holds this very schema wins."""
    for name in names:
        if name not in taken:
            taken.add(name)
            defs[name] = schema
            return {"$ref": _REF_PREFIX + name}
        if defs.get(name) == schema:
            return {"$ref": _REF_PREFIX + name}
    name = unique(names[-1], taken)
    defs[name] = schema
    return {"$ref": _REF_PREFIX + name}


def _split_required_alternatives(schema: JsonSchema) -> JsonSchema:
    """``{properties, anyOf: [{required: [a]}, {required: [b]}]}`` as a union of two complete
    objects, so each can be named after what it requires (``...WithA``, ``...WithB``) instead
    of datamodel-code-generator's ``Field1`` and ``Field2``. The same instances validate."""
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if (
            _is_inline_object(schema)
            and isinstance(branches, list)
            and len(branches) > 1
            and all(isinstance(b, dict) and set(b) <= _REQUIRED_ONLY for b in branches)
        ):
            rest = {k: v for k, v in schema.items() if k != key}
            split: list[JsonSchema] = []
            for branch in branches:
                merged = copy.deepcopy(rest)
                required = list(rest.get("required", []))
                required += [r for r in branch.get("required", []) if r not in required]
                if required:
                    merged["required"] = required
                split.append(merged)
            out: JsonSchema = {key: split}
            if isinstance(schema.get("description"), str):
                out["description"] = schema["description"]
            return out
    return schema


def _drop_restated_properties(schema: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """``{anyOf: [$ref Label, string], properties: {...Label's fields}}`` as ``Label | str``.

    ``properties`` only constrain objects, and here they only restate the referenced
    definition's fields; datamodel-code-generator would otherwise copy them into each
    branch, turning the string branch into an object named ``<Field>1``."""
    props = schema.get("properties")
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not isinstance(props, dict) or not isinstance(branches, list):
            continue
        ok = True
        for branch in branches:
            target = _ref_target(branch) if isinstance(branch, dict) else None
            if target is not None:
                declared = defs.get(target, {}).get("properties", {})
                ok = ok and isinstance(declared, dict) and set(props) <= set(declared)
            else:
                ok = ok and isinstance(branch, dict) and not (_types(branch) & {"object"})
                ok = ok and _types(branch) != set() and "properties" not in branch
        if ok:
            keep = {"description", "title", "$comment"}
            return {k: v for k, v in schema.items() if k in keep or k == key}
    return schema


def _branch_names(branches: list[Any], base: str, short: str | None) -> list[list[str]]:
    """Stable, meaningful candidate names (best first) for each union branch.

    A constrained id string next to a reference is ``<Target>Id``, another constrained scalar
    ``<Field>Text`` / ``<Field>Number``; an object branch is named by its title, its ``const``
    discriminator, being the runtime's file object, or the fields only it requires; a last
    unnamed object branch keeps ``base``."""
    targets = [_ref_target(b) for b in branches if isinstance(b, dict)]
    first_target = next((t for t in targets if t is not None), None)
    objects = [i for i, b in enumerate(branches) if _is_inline_object(b)]
    names = [[base] for _ in branches]
    for i, branch in enumerate(branches):
        if _is_constrained_scalar(branch):
            kind = sorted(_types(branch) - {"null"})[0]
            if first_target is not None and kind == "string":
                names[i] = [f"{first_target}Id", f"{base}Id"]
            else:
                suffix = {"string": "Text"}.get(kind, pascal(kind))
                names[i] = [f"{n}{suffix}" for n in (short, base) if n is not None]
    if len(objects) < 2:
        return names
    chosen: dict[int, str] = {}
    for i in objects:
        label = _object_label(branches[i], [branches[j] for j in objects if j != i])
        if label is not None:
            chosen[i] = base + label
    unnamed = [i for i in objects if i not in chosen]
    if len(unnamed) == 1:
        chosen[unnamed[0]] = base
    if len(set(chosen.values())) != len(chosen):
        chosen = {}
    for n, i in enumerate(objects):
        names[i] = [chosen.get(i, f"{base}Option{n + 1}")]
    return names


def _object_label(branch: JsonSchema, others: list[JsonSchema]) -> str | None:
    title = branch.get("title")
    if isinstance(title, str) and title.strip():
        return pascal(title)
    for _key, prop in sorted(branch.get("properties", {}).items()):
        if isinstance(prop, dict):
            if "const" in prop and isinstance(prop["const"], str | int):
                return pascal(str(prop["const"]))
            enum = prop.get("enum")
            if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str | int):
                return pascal(str(enum[0]))
    stripped = {k: v for k, v in branch.items() if k != "description"}
    if stripped == FILE_OBJECT_SCHEMA:
        return "File"
    required = [r for r in branch.get("required", []) if isinstance(r, str)]
    own = [r for r in required if not all(r in o.get("required", []) for o in others)]
    own = [r for r in own if any(r not in o.get("required", []) for o in others)]
    if own:
        return "With" + "And".join(pascal(r) for r in own)
    return None


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
    alias: str | None = None


@dataclass
class ModelsInfo:
    """What the client template needs to know about the generated models."""

    classes: dict[str, list[FieldInfo]] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    root_exprs: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # name -> module
    dicts: dict[str, str] = field(default_factory=dict)  # model class -> its TypedDict
    aliases: set[str] = field(default_factory=set)  # ``type X = ...`` statements

    def accepting_dicts(self, annotation: ast.expr) -> ast.expr:
        """An input annotation that also takes plain dicts: ``Model`` -> ``Model | ModelDict``,
        a RootModel by its root type as well; ``Annotated`` constraints are dropped (the
        model checks them)."""
        info = self

        class Widen(ast.NodeTransformer):
            def visit_Subscript(inner, node: ast.Subscript) -> ast.AST:
                if (
                    isinstance(node.value, ast.Name)
                    and node.value.id == "Annotated"
                    and isinstance(node.slice, ast.Tuple)
                ):
                    first: ast.AST = inner.visit(node.slice.elts[0])
                    return first
                inner.generic_visit(node)
                return node

            def visit_Name(inner, node: ast.Name) -> ast.AST:
                if node.id in info.dicts:
                    return ast.BinOp(node, ast.BitOr(), ast.Name(info.dicts[node.id], ast.Load()))
                if node.id in info.roots and node.id in info.root_exprs:
                    root = inner.visit(copy.deepcopy(info.root_exprs[node.id]))
                    return ast.BinOp(node, ast.BitOr(), root)
                return node

        widened: ast.expr = Widen().visit(copy.deepcopy(annotation))
        return widened

    def qualify(self, annotation: ast.expr) -> str:
        """Render an annotation for client.py: model classes as ``m.X``."""
        known = set(self.dicts.values()) | self.aliases

        class Qualify(ast.NodeTransformer):
            def visit_Name(inner, node: ast.Name) -> ast.AST:
                if node.id in self.classes or node.id in self.roots or node.id in known:
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


def _alias(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        for k in value.keywords:
            if k.arg == "alias" and isinstance(k.value, ast.Constant):
                return str(k.value.value)
    return None


def _names(annotation: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}


def add_input_dicts(
    source: str, info: ModelsInfo, raw: dict[str, ast.expr], inputs: list[str]
) -> str:
    """Append a ``TypedDict`` twin (``<Model>Dict``) of every model an action's input nests,
    so callers may pass plain dicts that type-check; the models are still accepted."""
    nested: list[str] = []
    todo = [n for f_name in inputs for n in _field_refs(info, raw, f_name)]
    while todo:
        name = todo.pop(0)
        if name in nested or name in inputs:
            continue
        if name in info.classes:
            nested.append(name)
            todo += _field_refs(info, raw, name)
        elif name in info.root_exprs:
            todo += [
                n for n in _names(info.root_exprs[name]) if n in info.classes or n in info.roots
            ]
    taken = set(info.classes) | set(info.roots)
    for name in sorted(nested):
        info.dicts[name] = unique(f"{name}Dict", taken)
    if not info.dicts:
        return source
    blocks = []
    for name in sorted(nested):
        lines = [
            f"class {info.dicts[name]}(TypedDict, total=False):",
            f'    """``{name}`` as a plain dict (Python field names)."""',
        ]
        for f in info.classes[name]:
            annotation = ast.unparse(info.accepting_dicts(raw[f"{name}.{f.name}"]))
            lines.append(f"    {f.name}: {f'Required[{annotation}]' if f.required else annotation}")
        blocks.append("\n".join(lines))
    header = "from typing import Required, TypedDict\n"
    marker = "from __future__ import annotations\n"
    if marker in source:
        source = source.replace(marker, marker + "\n" + header, 1)
    else:
        source = header + source
    return source.rstrip("\n") + "\n\n\n" + "\n\n\n".join(blocks) + "\n"


def _field_refs(info: ModelsInfo, raw: dict[str, ast.expr], name: str) -> list[str]:
    found: list[str] = []
    for f in info.classes.get(name, []):
        found += sorted(
            n for n in _names(raw[f"{name}.{f.name}"]) if n in info.classes or n in info.roots
        )
    return found


def read_models(source: str) -> tuple[ModelsInfo, dict[str, ast.expr]]:
    """Fields of every class, root types of RootModels, and imported names."""
    tree = ast.parse(source)
    info = ModelsInfo()
    raw: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            for alias in node.names:
                info.imports[alias.asname or alias.name] = node.module
        if isinstance(node, ast.TypeAlias) and isinstance(node.name, ast.Name):
            info.aliases.add(node.name.id)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            info.aliases.add(node.target.id)  # ``X: TypeAlias = ...``
        if isinstance(node, ast.Assign):
            info.aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [ast.unparse(b) for b in node.bases]
        if any(b.startswith("RootModel[") for b in bases):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", "") == "root":
                    raw[node.name] = stmt.annotation
                    info.root_exprs[node.name] = stmt.annotation
            info.roots[node.name] = ""
            continue
        fields = []
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                fields.append(
                    FieldInfo(
                        stmt.target.id,
                        ast.unparse(stmt.annotation),
                        _required(stmt.value),
                        _alias(stmt.value),
                    )
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
