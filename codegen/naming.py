"""Deterministic, valid Python identifiers for awkward spec names."""

from __future__ import annotations

import keyword
import re

_WORDS = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(name: str) -> list[str]:
    """Split on anything non-alphanumeric and on camelCase humps."""
    out: list[str] = []
    for chunk in _WORDS.findall(name):
        out += [w for w in _CAMEL.split(chunk) if w]
    return out


def snake(name: str) -> str:
    """``list-Customers.v2`` -> ``list_customers_v2``; keywords and leading digits escaped."""
    text = "_".join(w.lower() for w in words(name)) or "value"
    if text[0].isdigit():
        text = f"n{text}"
    if keyword.iskeyword(text) or keyword.issoftkeyword(text):
        text += "_"
    return text


def pascal(name: str) -> str:
    """``charge.succeeded`` -> ``ChargeSucceeded``; a leading digit gets an ``N`` prefix."""
    text = "".join(w[:1].upper() + w[1:] for w in words(name)) or "Value"
    return f"N{text}" if text[0].isdigit() else text


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name2``, ``name3``... whichever is free; records the choice."""
    candidate = name
    n = 2
    while candidate in taken:
        candidate = f"{name}{n}"
        n += 1
    taken.add(candidate)
    return candidate
