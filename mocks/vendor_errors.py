"""Vendor-shaped error responses, derived from the spec's own error rules.

For a normalized code the mock picks the first rule that maps to it and builds a response that
rule would match (its status, the headers and body values its conditions require, the message at
the spec's message path). The executor maps it back to the same code: the contract suite checks
that round trip for every code a spec declares.
"""

from __future__ import annotations

import re
from typing import Any

from patchbay.runtime.http import DEFAULT_BY_STATUS, parse_path
from patchbay.runtime.spec import Condition, ConnectorSpec, ErrorRule

STATUS_FOR_CODE: dict[str, int] = {
    "auth_invalid": 401,
    "auth_expired": 401,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "validation": 400,
    "rate_limited": 429,
    "upstream_unavailable": 503,
    "timeout": 504,
    "bad_response": 502,
    "config": 400,
    "network": 502,
}


def new_body(*paths: str | None) -> Any:
    """An empty body of the right kind: a list when the vendor's errors are a JSON array
    (Salesforce's ``[0].message``), else an object."""
    for path in paths:
        if path:
            segments = parse_path(path)
            if segments and isinstance(segments[0], int):
                return []
    return {}


def set_path(data: Any, path: str, value: Any) -> None:
    """Write ``value`` at a dotted path, creating objects (and lists for indexes) on the way."""
    segments = parse_path(path)
    node: Any = data
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        nxt = segments[i + 1] if not last else None
        if isinstance(seg, int):
            while isinstance(node, list) and len(node) <= (seg if seg >= 0 else 0):
                node.append({} if not isinstance(nxt, int) else [])
            if last:
                node[seg] = value
            else:
                node = node[seg]
        elif last:
            node[seg] = value
        else:
            node = node.setdefault(seg, [] if isinstance(nxt, int) else {})


def remove_path(data: Any, path: str) -> None:
    """Delete the value at a dotted path, if it is there."""
    *parents, last = parse_path(path)
    node: Any = data
    for seg in parents:
        if isinstance(seg, int):
            if not isinstance(node, list) or len(node) <= seg:
                return
        elif not isinstance(node, dict) or seg not in node:
            return
        node = node[seg]
    if isinstance(last, str) and isinstance(node, dict):
        node.pop(last, None)


def _satisfying(cond: Condition) -> tuple[bool, Any]:
    """A value meeting ``cond`` and whether one could be found."""
    fields = cond.model_fields_set
    if "equals" in fields:
        return True, cond.equals
    if "in_" in fields and cond.in_:
        return True, cond.in_[0]
    if "exists" in fields:
        return bool(cond.exists), "present"
    if "not_equals" in fields:
        return True, f"not-{cond.not_equals}"
    if "matches" in fields and cond.matches:
        literal = re.sub(r"\(\?[a-z]+\)", "", cond.matches).split("|")[0]
        literal = re.sub(r"[\\^$.*+?()\[\]{}]", "", literal)
        if re.search(cond.matches, literal):
            return True, literal
    return False, None


def _status(rule: ErrorRule, code: str) -> int:
    wanted = STATUS_FOR_CODE.get(code, 400)
    allowed = rule.when.status
    if not allowed:
        return 200
    for entry in allowed:
        if entry == wanted:
            return wanted
    first = allowed[0]
    if isinstance(first, int):
        return first
    cls = int(first[0])
    return wanted if wanted // 100 == cls else cls * 100


def error_response(
    spec: ConnectorSpec, code: str, message: str, *, retry_after: float | None = None
) -> tuple[int, dict[str, str], Any] | None:
    """``(status, headers, body)`` the vendor would send for ``code``; ``None`` when the spec
    gives no way to express it (no rule for it, and its usual status means something else)."""
    errors = spec.errors
    wanted = STATUS_FOR_CODE.get(code, 400)
    candidates = [r for r in errors.rules if r.code == code]
    # Prefer a rule that allows the code's usual status (a 429 for rate limits, say).
    candidates.sort(key=lambda r: 0 if r.when.status and wanted in r.when.status else 1)
    for rule in candidates:
        body = new_body(
            *(c.path for c in rule.when.body),
            rule.message_path,
            errors.message_path,
            rule.vendor_code_path,
            errors.vendor_code_path,
        )
        headers: dict[str, str] = {}
        ok = True
        for cond in rule.when.body:
            found, value = _satisfying(cond)
            ok = ok and found
            if found and ("exists" not in cond.model_fields_set or cond.exists):
                set_path(body, cond.path, value)
        for cond in rule.when.headers:
            found, value = _satisfying(cond)
            ok = ok and found
            if found:
                headers[cond.path] = str(value)
        if not ok:
            continue
        for path in (rule.message_path, errors.message_path):
            if path and _free(body, path):
                set_path(body, path, message)
                break
        for path in (rule.vendor_code_path, errors.vendor_code_path):
            if path and _free(body, path):
                set_path(body, path, code)
                break
        status = _status(rule, code)
        _add_wait(spec, headers, retry_after, code)
        return status, headers, body
    status = wanted
    if DEFAULT_BY_STATUS.get(status, "upstream_unavailable" if status >= 500 else None) != code:
        return None
    body = new_body(errors.message_path, errors.vendor_code_path)
    set_path(body, errors.message_path or "message", message)
    if errors.vendor_code_path and _free(body, errors.vendor_code_path):
        set_path(body, errors.vendor_code_path, code)
    headers = {}
    _add_wait(spec, headers, retry_after, code)
    return status, headers, body


def _free(body: Any, path: str) -> bool:
    node: Any = body
    for seg in parse_path(path):
        if isinstance(seg, int):
            if not isinstance(node, list) or len(node) <= seg:
                return True
            node = node[seg]
        else:
            if not isinstance(node, dict) or seg not in node:
                return isinstance(node, dict)
            node = node[seg]
    return False


def _add_wait(spec: ConnectorSpec, headers: dict[str, str], wait: float | None, code: str) -> None:
    if code != "rate_limited" or wait is None:
        return
    limits = spec.rate_limits
    if limits.retry_after_header:
        headers[limits.retry_after_header] = f"{wait:g}"
