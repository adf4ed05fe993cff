"""One import: a normalized description and a selection in, a spec document and fixtures out.

The spec is built as plain JSON data in a fixed key order (the order of the spec model), so the
same description and selection always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patchbay.codegen.naming import words
from patchbay.codegen.openapi_import.auth import auth_variants, requirement_key
from patchbay.codegen.openapi_import.discovery import TODO_KEY
from patchbay.codegen.openapi_import.document import DescriptionError, Document
from patchbay.codegen.openapi_import.examples import documented_fixtures
from patchbay.codegen.openapi_import.parameters import parameters, request_body
from patchbay.codegen.openapi_import.responses import (
    error_facts,
    error_todo,
    infer_pagination,
    output,
    success_response,
)
from patchbay.codegen.openapi_import.schemas import SchemaConverter
from patchbay.codegen.openapi_import.selection import Chosen, Selection, select
from patchbay.codegen.openapi_import.servers import choose_server, server_variables
from patchbay.runtime.http import template_names

SCHEMA_REF = "./connector.schema.json"


@dataclass(frozen=True)
class ImportOptions:
    connector: str
    selection: Selection = field(default_factory=Selection)
    base_url: str | None = None
    source_url: str | None = None
    keep_descriptions: bool = False
    examples: dict[str, Any] = field(default_factory=dict)
    """Component name -> the vendor's documented example object of it (used for responses
    that are exactly that component and document no example of their own)."""


@dataclass
class ImportResult:
    spec: dict[str, Any]
    fixtures: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    todo: list[str] = field(default_factory=list)


def _title(chosen: Chosen, keep: bool) -> str:
    """A short title from the operationId (vendor summaries are prose unless kept)."""
    summary = chosen.op.get("summary")
    if keep and isinstance(summary, str) and summary.strip():
        return summary.strip()
    text = " ".join(w.lower() for w in words(chosen.operation_id or chosen.name))
    return text[:1].upper() + text[1:]


def _requirements(doc: Document, chosen: Chosen) -> list[dict[str, Any]] | None:
    sec = chosen.op.get("security", doc.data.get("security"))
    return [r for r in sec if isinstance(r, dict)] if isinstance(sec, list) else None


def import_openapi(doc: Document, options: ImportOptions) -> ImportResult:
    """Import the selected operations of ``doc`` as a new connector spec.

    A description malformed in a way no check above caught (a string where an object belongs)
    fails as :class:`DescriptionError` too, never as a bare Python error.
    """
    try:
        return _import(doc, options)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, DescriptionError):
            raise
        raise DescriptionError(
            f"{doc.source}: malformed description ({type(exc).__name__}: {exc})"
        ) from exc


def _import(doc: Document, options: ImportOptions) -> ImportResult:
    todo: list[str] = []
    conv = SchemaConverter(doc, keep_descriptions=options.keep_descriptions)
    chosen = select(doc, options.selection)
    base_url, declared = choose_server(doc, options.base_url)
    variables = server_variables(base_url, declared, todo)
    requirements = [r for c in chosen for r in _requirements(doc, c) or []]
    variants, by_key = auth_variants(doc, requirements, todo)
    global_keys = {requirement_key(r) for r in doc.data.get("security") or [] if r}

    actions: list[dict[str, Any]] = []
    successes = []
    for item in chosen:
        where = f"actions/{item.name}"
        notes = item.op.get(TODO_KEY)
        todo += [f"{where}: {note}" for note in notes] if isinstance(notes, list) else []
        action: dict[str, Any] = {
            "name": item.name,
            "title": _title(item, options.keep_descriptions),
        }
        description = item.op.get("description")
        if options.keep_descriptions and isinstance(description, str) and description.strip():
            action["description"] = description.strip()
        action["method"] = item.method
        action["path"] = item.path
        servers = item.op.get("servers") or item.item.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            url = str(servers[0].get("url", "")).rstrip("/")
            if url and url != base_url and "://" in url:
                action["base_url"] = url
                extra = server_variables(url, servers[0].get("variables") or {}, todo)
                variables.update({k: v for k, v in extra.items() if k not in variables})
        params = parameters(doc, conv, item.op, item.item, where, todo)
        if params:
            action["parameters"] = params
        body = request_body(doc, conv, item.op, {p["name"] for p in params}, where, todo)
        if body is not None:
            action["body"] = body
        success = success_response(doc, item.op)
        successes.append(success)
        out = output(conv, success)
        if out:
            action["output"] = out
        pagination = infer_pagination(conv, params, success, where, todo)
        if pagination is not None:
            action["pagination"] = pagination
        reqs = _requirements(doc, item)
        keys = {requirement_key(r) for r in reqs or [] if r}
        if reqs is not None and keys != global_keys and keys:
            names = sorted({by_key[k] for k in keys if k in by_key})
            if names and len(names) < len(variants):
                action["auth"] = names
        if reqs is not None and not keys and reqs is not doc.data.get("security"):
            todo.append(f"{where}: documented without authentication; the spec always signs")
        if success is not None and success.status != 200 and 200 <= success.status <= 299:
            action["mock"] = {"status": success.status}  # the spec's place for it (201, 204)
        actions.append(action)

    defs = conv.defs()
    fixtures: dict[str, dict[str, dict[str, Any]]] = {}
    source_url = options.source_url or _docs_url(doc)
    for action, success in zip(actions, successes, strict=True):
        found = documented_fixtures(
            doc,
            action,
            success,
            base_url=action.get("base_url", base_url),
            variables=variables,
            defs=defs,
            source_url=source_url,
            todo=todo,
            by_component=options.examples,
        )
        if found:
            fixtures[action["name"]] = found
    facts = error_facts(doc, conv, [(c.name, c.op) for c in chosen])
    todo += error_todo(facts)
    todo += conv.notes

    info = doc.data.get("info") or {}
    spec: dict[str, Any] = {
        "$schema": SCHEMA_REF,
        "name": options.connector,
        "title": str(info.get("title") or options.connector),
        "version": "0.1.0",
    }
    if source_url:
        spec["docs_url"] = source_url
    connection: dict[str, Any] = {"base_url": base_url}
    if variables:
        connection["variables"] = variables
    spec["connection"] = connection
    spec["auth"] = variants
    spec["test_connection"] = _test_connection(actions, set(variables), todo)
    spec["actions"] = actions
    errors: dict[str, Any] = {}
    if facts.message_path:
        errors["message_path"] = facts.message_path
    if facts.vendor_code_path:
        errors["vendor_code_path"] = facts.vendor_code_path
    if errors:
        spec["errors"] = errors
    if todo:
        spec["todo"] = list(dict.fromkeys(todo))
    if defs:
        spec["$defs"] = defs
    return ImportResult(spec, fixtures, list(dict.fromkeys(todo)))


def _docs_url(doc: Document) -> str | None:
    docs = doc.data.get("externalDocs")
    url = docs.get("url") if isinstance(docs, dict) else None
    return url if isinstance(url, str) and url.startswith("https://") else None


def _test_connection(
    actions: list[dict[str, Any]], variables: set[str], todo: list[str]
) -> dict[str, Any]:
    """The first imported GET that needs no input; else a TODO."""
    for action in actions:
        if action["method"] != "GET" or "base_url" in action:
            continue
        if set(template_names(action["path"])) - variables:
            continue
        if any(p.get("required") for p in action.get("parameters", [])):
            continue
        return {"path": action["path"]}
    todo.append("test_connection: no imported GET needs no input; pick a cheap authenticated call")
    return {"path": "/"}
