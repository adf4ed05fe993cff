"""Limits on hostile input: how deep a JSON document may nest, how big a body may grow.

Every vendor response and every webhook delivery is read through :func:`loads_json`, so a
document nested ten thousand levels deep is refused with a clear error instead of ending in a
``RecursionError`` (which would escape as a raw exception and, in a trigger loop, re-poll at once).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

#: Deepest nesting accepted in a JSON document. Vendor payloads nest a dozen levels at most;
#: CPython's decoder recurses per level, so this stays far below the interpreter's limit.
DEFAULT_MAX_JSON_DEPTH = 128

#: Largest response body the executor reads (after decompression), in bytes.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Total time one executor call may take, every attempt, wait and page read included, in seconds.
DEFAULT_DEADLINE = 300.0

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_IDENTITY = bytes.maketrans(b"", b"")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[0x5B] = _STEP[0x7B] = 1  # [ {
_STEP[0x5D] = _STEP[0x7D] = -1  # ] }


class JSONTooDeep(ValueError):
    """A JSON document nests deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nests deeper than {limit} levels")
        self.limit = limit


def json_depth_exceeds(content: bytes | str, limit: int) -> bool:
    """Whether ``content`` (JSON text) opens more than ``limit`` nested arrays/objects.

    Cheap for ordinary documents: nesting can only be as deep as the number of opening
    brackets, so only documents with more than ``limit`` of them are scanned.
    """
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(_IDENTITY, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


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
