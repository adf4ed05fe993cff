"""``{name}`` templates used for base URLs, paths, headers and auth values in specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


@lru_cache(maxsize=4096)
def template_names(template: str) -> tuple[str, ...]:
    """The placeholder names of a template, in order of first appearance."""
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER.finditer(template):
        seen.setdefault(m.group(1), None)
    return tuple(seen)


@lru_cache(maxsize=4096)
def _compile(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parts = _PLACEHOLDER.split(template)
    return tuple(parts[0::2]), tuple(parts[1::2])


def render(
    template: str,
    values: Mapping[str, str],
    *,
    missing: Callable[[str], Exception] | None = None,
    quote: Callable[[str], str] | None = None,
) -> str:
    """Fill a template; a name absent from ``values`` raises ``missing(name)`` (or ``KeyError``)."""
    literals, names = _compile(template)
    if not names:
        return template
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        try:
            value = values[name]
        except KeyError:
            if missing is not None:
                raise missing(name) from None
            raise
        out.append(quote(value) if quote is not None else value)
        out.append(literal)
    return "".join(out)
