"""Decoding requests as the mock receives them: Stripe-style bracket keys against the schema."""

from __future__ import annotations

from pathlib import Path

from patchbay.mocks.request_parsing import decode_input, unflatten
from patchbay.runtime import load_spec

ROOT = Path(__file__).resolve().parent.parent


def test_a_numeric_key_of_a_map_stays_a_key() -> None:
    """``metadata[0]=`` is the key "0" of Stripe's metadata map (found by the fuzzer)."""
    spec = load_spec(ROOT / "specs" / "stripe.json")
    action = spec.action("create_customer")
    body = b"metadata%5B0%5D=&metadata%5Bplan%5D=gold&email=a%40example.test"
    data = decode_input(action, {}, [], {}, body, "application/x-www-form-urlencoded", spec.defs)
    assert data["metadata"] == {"0": "", "plan": "gold"}


def test_without_a_schema_numeric_segments_open_lists() -> None:
    assert unflatten([("a[0]", "x"), ("a[1]", "y"), ("b[c]", "z")]) == {
        "a": ["x", "y"],
        "b": {"c": "z"},
    }


def test_a_list_of_objects_keeps_its_items() -> None:
    schema = {
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {}}},
        }
    }
    pairs = [("items[0][price]", "p1"), ("items[0][qty]", "2"), ("items[1][price]", "p2")]
    assert unflatten(pairs, schema) == {"items": [{"price": "p1", "qty": "2"}, {"price": "p2"}]}


def test_synthesized_discriminated_unions_carry_the_tag_of_their_branch() -> None:
    import random

    from jsonschema import Draft202012Validator

    from patchbay.mocks.synthesis import synthesize

    defs = {
        "Card": {
            "type": "object",
            "required": ["kind", "last4"],
            "properties": {"kind": {"type": "string"}, "last4": {"type": "string"}},
        },
        "Bank": {
            "type": "object",
            "required": ["kind", "iban"],
            "properties": {"kind": {"const": "bank_account"}, "iban": {"type": "string"}},
        },
    }
    union = {
        "oneOf": [{"$ref": "#/$defs/Card"}, {"$ref": "#/$defs/Bank"}],
        "discriminator": {"propertyName": "kind", "mapping": {"card": "#/$defs/Card"}},
    }
    seen = set()
    for seed in range(20):
        value = synthesize(union, defs, random.Random(seed))
        expected = "card" if "last4" in value else "bank_account"
        assert value["kind"] == expected
        branch = defs["Card" if expected == "card" else "Bank"]
        assert Draft202012Validator({**branch, "$defs": defs}).is_valid(value)
        seen.add(expected)
    assert seen == {"card", "bank_account"}
