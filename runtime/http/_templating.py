"""``{name}`` templates used for base URLs, paths, headers and auth values in specs, and
structured (JSON-like) templates whose strings are such templates (webhook registration)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

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


# ------------------------------------------------------------------- structured templates

#: Where a string sits inside a structured template: keys and list indexes from the top.
Location = tuple[str | int, ...]


def string_leaves(template: Any, where: Location = ()) -> Iterator[tuple[Location, str]]:
    """Every string inside a JSON-like template (dict values, list items), with its location."""
    if isinstance(template, str):
        yield where, template
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from string_leaves(value, (*where, key))
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from string_leaves(value, (*where, index))


def fill(template: Any, lookup: Callable[[str], Any]) -> Any:
    """Fill every string of a JSON-like template: a string that is exactly one ``{name}`` takes
    ``lookup(name)`` as is (a list, a number), any other string is rendered as text (values that
    are not strings as JSON). Keys, numbers and booleans stay as written."""
    if isinstance(template, str):
        names = template_names(template)
        if len(names) == 1 and template == f"{{{names[0]}}}":
            return lookup(names[0])
        return render(template, {name: _text(lookup(name)) for name in names})
    if isinstance(template, dict):
        return {key: fill(value, lookup) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, lookup) for value in template]
    return template


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
