"""The small path language specs use to point into JSON: ``a.b[0].c``, ``items[-1].id``, ``""``.

Dotted keys with optional integer indexes (negative counts from the end). The empty path is the
document itself, which is how a top-level JSON array of items is addressed (GitHub).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

Segment = str | int


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[Segment, ...]:
    """Split a path into keys and indexes; raise ``ValueError`` on malformed syntax."""
    if path == "":
        return ()
    segments: list[Segment] = []
    pos = 0
    expect_key = True
    while pos < len(path):
        if path[pos] == "." and not expect_key:
            pos += 1
            expect_key = True
            continue
        m = _SEGMENT.match(path, pos)
        if m is None or (m.group(1) is not None and not expect_key):
            raise ValueError(f"malformed path {path!r} at character {pos}")
        if m.group(1) is not None:
            segments.append(m.group(1))
        else:
            segments.append(int(m.group(2)))
        pos = m.end()
        expect_key = False
    if expect_key:
        raise ValueError(f"malformed path {path!r}: ends with '.'")
    return tuple(segments)


def get_path(data: Any, path: str, default: Any = MISSING) -> Any:
    """Follow ``path`` into ``data``; ``default`` when any step is missing."""
    current = data
    for segment in parse_path(path):
        if isinstance(segment, int):
            if not isinstance(current, list) or not -len(current) <= segment < len(current):
                return default
            current = current[segment]
        else:
            if not isinstance(current, dict) or segment not in current:
                return default
            current = current[segment]
    return current
