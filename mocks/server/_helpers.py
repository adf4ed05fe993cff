"""Small pure helpers of the mock: status and value filling, bodies, auth parsing, ids."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx

from patchbay.mocks.golden import Fixture, decode_body
from patchbay.mocks.server._options import _PAGE_PARAM
from patchbay.mocks.vendor_errors import STATUS_FOR_CODE, remove_path, set_path
from patchbay.runtime.http import MISSING, get_path, render
from patchbay.runtime.spec import (
    Action,
    Condition,
    CursorPagination,
    OffsetPagination,
    PagePagination,
    ResourceEffect,
)

if TYPE_CHECKING:
    pass


def _rule_status(rule: Any, code: str) -> int:
    """The status a rule's own conditions allow, preferring the code's usual one."""
    wanted = STATUS_FOR_CODE.get(code, 400)
    allowed = rule.when.status
    if not allowed or wanted in allowed:
        return wanted if allowed else 200
    first = allowed[0]
    return first if isinstance(first, int) else int(first[0]) * 100


def _fill(value: Any, values: dict[str, str]) -> Any:
    """``{name}`` placeholders in every string of a declared body, filled in."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def input_pairs(body: bytes, content_type: str, encodings: Sequence[str]) -> list[tuple[str, str]]:
    """A form or JSON body's fields as query pairs (nested JSON stays JSON text)."""
    if "form" in encodings and "application/x-www-form-urlencoded" in content_type:
        return parse_qsl(body.decode(), keep_blank_values=True)
    if "json" in encodings and "json" in content_type:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            return [
                (k, v if isinstance(v, str) else json.dumps(v))
                for k, v in decoded.items()
                if v is not None
            ]
    return []


def _render_value(template: str, context: dict[str, Any]) -> Any:
    """A ``mock.fields`` template filled in; one bare placeholder keeps its value's type;
    MISSING when a name is unknown (the field then keeps what it had)."""
    whole = re.fullmatch(r"\{([\w.]+)\}", template)
    if whole:
        return context.get(whole.group(1), MISSING)
    names = re.findall(r"\{([\w.]+)\}", template)
    if any(n not in context for n in names):
        return MISSING
    return re.sub(r"\{([\w.]+)\}", lambda m: str(context[m.group(1)]), template)


def _after_prefix(sent: str, prefixes: list[str]) -> str | None:
    """What follows the first of ``prefixes`` that ``sent`` starts with (case-insensitively,
    as HTTP auth schemes are), or None."""
    for prefix in prefixes:
        if sent[: len(prefix)].lower() == prefix.lower():
            return sent[len(prefix) :]
    return None


def _basic_pair(header: str) -> tuple[str, str] | None:
    """The user and password of a Basic ``Authorization`` header."""
    encoded = _after_prefix(header, ["Basic "])
    if encoded is None:
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _fits(template: str, sent: str, values: dict[str, str], fields: dict[str, Any]) -> bool:
    """Whether a credential the client sent is one the mock takes: the printed fake, or, for a
    template that is one credential field with a declared pattern, any value of that shape
    (``sk_test_...``, ``xoxb-...``), as an SDK user's own test credential would be."""
    if sent == render(template, values):
        return True
    m = re.fullmatch(r"\{(\w+)\}", template)
    field_spec = fields.get(m.group(1)) if m else None
    pattern = getattr(field_spec, "pattern", None)
    return bool(sent) and isinstance(pattern, str) and re.search(pattern, sent) is not None


def _partition(effect: ResourceEffect, data: dict[str, Any]) -> dict[str, str]:
    """The partition values an action's input gives (a Slack channel, a Trello board)."""
    return {part: str(data[name]) for part, name in effect.scope.items() if name in data}


def _offset_of(cursor: str) -> int:
    m = re.fullmatch(r"mock-cursor-(\d+)", cursor)
    return int(m.group(1)) if m else 0


def _with_page(url: httpx.URL, offset: int) -> str:
    params = [(k, v) for k, v in url.params.multi_items() if k != _PAGE_PARAM]
    params.append((_PAGE_PARAM, str(offset)))
    return str(url.copy_with(query=urlencode(params).encode()))


def _positions(action: Action) -> dict[str, list[str]]:
    """The parameters saying which page a request asks for, each with its first page's value
    as sent (none: absent or empty)."""
    pag = action.pagination
    first: dict[str, list[str]] = {_PAGE_PARAM: []}
    if pag is None:
        return first
    if isinstance(pag, CursorPagination):
        first[pag.cursor_param] = []
    if isinstance(pag, OffsetPagination):
        first[pag.offset_param] = [str(pag.start)]
    if isinstance(pag, PagePagination):
        first[pag.page_param] = [str(pag.start)]
    if action.mock is not None and action.mock.page_param:
        first.setdefault(action.mock.page_param, [])
    return first


def _pager_params(action: Action) -> list[str]:
    """Paging parameters the action's input does not declare (the position and page size)."""
    names = list(_positions(action))
    if action.pagination is not None and action.pagination.page_size is not None:
        names.append(action.pagination.page_size.param)
    declared = {p.name for p in action.parameters}
    return [n for n in names if n not in declared]


def _same_position(
    fixture: Fixture, action: Action, query: dict[str, list[str]], body: Any
) -> bool:
    """Whether ``fixture`` answers the same page: a recorded first page (no cursor) must not
    answer a request for a later one, or an SDK's auto-pager would be handed page one forever.
    A position the fixture leaves out is the first page (no cursor, the offset or page start),
    which a client may also send explicitly."""
    if action.pagination is None:
        return True
    req = fixture.request
    fixture_body = req.body if isinstance(req.body, dict) else {}
    sent_body = body if isinstance(body, dict) else {}
    for name, start in _positions(action).items():
        for recorded, sent in (
            (req.query.get(name), query.get(name)),
            (fixture_body.get(name), sent_body.get(name)),
        ):
            want = _as_values(recorded)
            got = _as_values(sent)
            if want != got and not (not want and got in ([], [""], start)):
                return False
    return True


def _as_values(value: Any) -> list[str]:
    """A query or body value as the list of strings it was sent as (absent: none)."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """The body's top-level fields, when it has any (a JSON object or a form)."""
    decoded = decode_body(body, content_type)
    return decoded if isinstance(decoded, dict) else {}


def satisfy(body: dict[str, Any], conditions: list[Condition]) -> None:
    """Make ``body`` meet the conditions it can be made to meet (equals, in, exists)."""
    for cond in conditions:
        fields = cond.model_fields_set
        if "equals" in fields:
            set_path(body, cond.path, cond.equals)
        elif "in_" in fields and cond.in_:
            set_path(body, cond.path, cond.in_[0])
        elif "exists" in fields and not cond.exists:
            remove_path(body, cond.path)
        elif cond.exists and get_path(body, cond.path) is MISSING:
            set_path(body, cond.path, "present")


def _typed_id(value: str, schema: Any, id_field: str, number: int | None = None) -> Any:
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    kind = props.get(id_field, {}).get("type") if isinstance(props.get(id_field), dict) else None
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        digits = re.sub(r"\D", "", value)
        return number if number is not None else int(digits or 0)
    return value
