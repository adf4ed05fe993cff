"""Limits on hostile input: how deep a JSON document may nest, how big a body may grow.

Every vendor response and every webhook delivery is read through :func:`loads_json`, so a
document nested ten thousand levels deep is refused with a clear error instead of ending in a
``RecursionError`` (which would escape as a raw exception and, in a trigger loop, re-poll at once).
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted in a JSON document. Vendor payloads nest a dozen levels at most;
#: CPython's decoder recurses per level, so this stays far below the interpreter's limit.
DEFAULT_MAX_JSON_DEPTH = 128

#: Largest response body the executor reads (after decompression), in bytes.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Total time one executor call may take, every attempt, wait and page read included, in seconds.
DEFAULT_DEADLINE = 300.0

_TO_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JSONTooDeep(ValueError):
    """A JSON document nests deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nests deeper than {limit} levels")
        self.limit = limit


def json_depth_exceeds(content: bytes | str, limit: int) -> bool:
    """Whether ``content`` (JSON text) opens more than ``limit`` nested arrays/objects.

    Cheap for ordinary documents: nesting can only be as deep as the number of opening
    brackets, so only documents with more than ``limit`` of them are scanned. The scan runs on
    C-speed bytes operations only: drop escapes and string contents, keep the brackets, then
    peel the innermost pairs away once per level (``limit`` passes at most).
    """
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:
        # Outside strings valid JSON has no backslash; inside, each starts a two-character
        # escape, so after dropping escaped backslashes every remaining \" is an escaped quote.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    if b'"' in raw:
        raw = b"".join(raw.split(b'"')[::2])  # the text between quote pairs: no strings left
    brackets = raw.translate(_TO_SQUARE, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    for _ in range(limit):
        if not brackets:
            return False
        if too_deep in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")  # each pass removes exactly one level
    return bool(brackets)


def loads_json(content: bytes | str, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth``.

    Raises :class:`JSONTooDeep` (a ``ValueError``) for deep documents and ``ValueError`` for
    invalid ones, never ``RecursionError``.
    """
    if json_depth_exceeds(content, max_depth):
        raise JSONTooDeep(max_depth)
    try:
        return json.loads(content)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
