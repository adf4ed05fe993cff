"""The mock's pattern-based value synthesizer: each construct it claims to expand gives a string
the pattern matches, distinct numbers give distinct values, and unsupported constructs fall back."""

from __future__ import annotations

import re

import pytest

from patchbay.mocks.synthesis import from_pattern, rng_for, synthesize

EXPANDED = [
    r"^(SM|MM)[0-9a-fA-F]{32}$",
    r"^\d+$",
    r"^\d{3}-\d{4}$",
    r"^[0-9]+\.[0-9]+$",
    r"^\d+(\.\d+){2}$",
    r"^v\d+\.\d+$",
    r"^(?:ab(c|d)(e(f|g))?)+x$",
    r"^((a|b)(c(d|e)))-\w{4}$",
    r"^[\w.-]+@example\.test$",
    r"^id:\d{3,5}$",
    r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$",
    r"^x.y$",
    r"^a\/b\\c$",
]


@pytest.mark.parametrize("pattern", EXPANDED)
def test_expansion_matches(pattern: str) -> None:
    for n in (1, 42, 9999):
        value = from_pattern(pattern, n)
        assert value is not None, pattern
        assert re.search(pattern, value), (pattern, value)


def test_escaped_dot_is_a_literal_dot() -> None:
    value = from_pattern(r"^\d+\.\d+$", 7)
    assert value is not None and value.count(".") == 1


def test_nested_group_takes_first_branches() -> None:
    assert from_pattern(r"^((a|b)(c(d|e)))$", 3) == "acd"


def test_distinct_numbers_give_distinct_ids() -> None:
    values = {from_pattern(r"^AC[0-9a-f]{32}$", n) for n in range(1, 200)}
    assert len(values) == 199


@pytest.mark.parametrize("pattern", [r"^(?=a)b$", r"^\bword$", r"^[^a]+$", r"^(a$", r"^(\1)$"])
def test_unsupported_constructs_fall_back(pattern: str) -> None:
    assert from_pattern(pattern, 5) is None


def test_synthesize_uses_nested_pattern() -> None:
    schema = {"type": "string", "pattern": r"^\d+(\.\d+){2}$"}
    value = synthesize(schema, {}, rng_for(0, "k"))
    assert re.fullmatch(r"\d+(\.\d+){2}", value), value
