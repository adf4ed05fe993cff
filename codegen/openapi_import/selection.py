"""Which operations of a description to import: by operationId, tag or path glob."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from patchbay.codegen.naming import snake
from patchbay.codegen.openapi_import.document import DescriptionError, Document


@dataclass(frozen=True)
class Selection:
    """Empty parts select everything; given parts must all match (ids, tags, then paths)."""

    operations: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@dataclass
class Chosen:
    """One selected operation with the action name it becomes."""

    name: str
    path: str
    method: str
    op: dict[str, Any]
    item: dict[str, Any]
    operation_id: str | None = None
    notes: list[str] = field(default_factory=list)


def action_name(path: str, method: str, op: dict[str, Any]) -> str:
    """The action name: the operationId in snake case, else method and path words."""
    op_id = op.get("operationId")
    if isinstance(op_id, str) and op_id.strip():
        return snake(op_id)
    return snake(f"{method} {path}")


def select(doc: Document, selection: Selection) -> list[Chosen]:
    """The chosen operations in document order, with unique action names.

    An ``--operations`` entry matches an operationId or the action name it becomes, and
    ``id=name`` also names the action (to merge into a spec whose names differ, e.g.
    ``repos/get=get_repo``); every entry must match something, so a typo fails instead of
    importing less than asked.
    """
    renames = dict(e.split("=", 1) for e in selection.operations if "=" in e)
    wanted_ids = {e.split("=", 1)[0] for e in selection.operations}
    seen_ids: set[str] = set()
    chosen: list[Chosen] = []
    taken: set[str] = set()
    for path, method, op, item in doc.operations():
        name = action_name(path, method, op)
        op_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
        if wanted_ids:
            hit = {op_id, name} & wanted_ids
            if not hit:
                continue
            seen_ids |= {h for h in hit if h is not None}
        if selection.tags and not set(op.get("tags") or []) & set(selection.tags):
            continue
        if selection.paths and not any(fnmatch.fnmatchcase(path, g) for g in selection.paths):
            continue
        if method in ("options", "trace"):
            continue
        for key in (op_id, action_name(path, method, op)):
            if key in renames:
                name = snake(renames[key])
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        taken.add(unique)
        chosen.append(Chosen(unique, path, method.upper(), op, item, op_id))
    missing = sorted(wanted_ids - seen_ids)
    if missing:
        raise DescriptionError(f"{doc.source}: no operation named {', '.join(missing)}")
    if not chosen:
        raise DescriptionError(f"{doc.source}: the selection matches no operation")
    return chosen
