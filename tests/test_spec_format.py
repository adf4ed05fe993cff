"""The spec format: published JSON Schema and pydantic model agree; loader errors are precise."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from patchbay.runtime.spec._loading import check_spec_data, check_spec_text
from patchbay.runtime.spec._model import ConnectorSpec, connector_json_schema
from patchbay.runtime.spec._registry import spec_files

ROOT = Path(__file__).resolve().parent.parent
SINK = json.loads((ROOT / "tests/data/kitchen_sink.json").read_text())
PUBLISHED = json.loads((ROOT / "specs/connector.schema.json").read_text())

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _del(path: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return apply


MUTATIONS: dict[str, Mutation] = {
    "unchanged": lambda d: None,
    "missing name": _del("name"),
    "bad name pattern": _set("name", "Bad-Name"),
    "unknown top-level key": _set("colour", "blue"),
    "version not a string": _set("version", 1),
    "title not a string": _set("title", True),
    "docs_url null": _set("docs_url", None),
    "coverage unknown": _set("coverage", "platinum"),
    "no auth": _set("auth", []),
    "auth type unknown": _set("auth/1/type", "digest"),
    "api_key without params": _set("auth/2/params", []),
    "api_key in cookie": _set("auth/2/in", "cookie"),
    "bearer missing token": _del("auth/1/token"),
    "oauth extra key": _set("auth/0/tokenURL", "x"),
    "oauth client_auth unknown": _set("auth/0/client_auth", "jwt"),
    "no actions": _set("actions", []),
    "method unknown": _set("actions/0/method", "FETCH"),
    "parameter in cookie": _set("actions/0/parameters/0/in", "cookie"),
    "parameter without in": _del("actions/0/parameters/0/in"),
    "parameter style unknown": _set("actions/0/parameters/1/style", "pipe"),
    "body encoding xml": _set("actions/7/body/encoding", "xml"),
    "pagination style unknown": _set("actions/0/pagination/style", "magic"),
    "pagination extra key": _set("actions/0/pagination/foo", 1),
    "cursor with both sources": _set("actions/0/pagination/cursor_from_last_item", "id"),
    "cursor with no source": _del("actions/0/pagination/next_cursor_path"),
    "page size zero": _set("actions/0/pagination/page_size/default", 0),
    "page size float": _set("actions/0/pagination/page_size/default", 2.5),
    "output format unknown": _set("actions/10/output/format", "xml"),
    "error code unknown": _set("errors/rules/0/code", "teapot"),
    "status class 6xx": _set("errors/rules/0/when/status", ["6xx"]),
    "status 99": _set("errors/rules/0/when/status", [99]),
    "status as numeric string": _set("errors/rules/0/when/status", ["404"]),
    "condition with two operators": _set("errors/rules/0/when/headers/0/in", ["0"]),
    "condition with no operator": _del("errors/rules/0/when/headers/0/equals"),
    "condition equals null": _set("errors/rules/0/when/headers/0/equals", None),
    "exists not boolean": _set("errors/rules/4/when/body/0/exists", "yes"),
    "negative retry_after_seconds": _set("errors/rules/3/retry_after_seconds", -1),
    "budget zero requests": _set("rate_limits/budget/requests", 0),
    "budget integer seconds": _set("rate_limits/budget/per_seconds", 10),
    "reset format unknown": _set("rate_limits/reset_format", "iso"),
    "idempotency max_length zero": _set("idempotency/max_length", 0),
    "idempotency methods unknown": _set("idempotency/methods", ["FETCH"]),
    "interval float": _set("triggers/polling/0/default_interval_seconds", 1.5),
    "interval zero": _set("triggers/polling/0/default_interval_seconds", 0),
    "cursor kind unknown": _set("triggers/polling/0/cursor/kind", "page"),
    "webhook scheme unknown": _set("triggers/webhooks/0/verification/scheme", "md5"),
    "webhook respond_with unknown": _set("triggers/webhooks/0/handshake/respond_with", "xml"),
    "webhook max body zero": _set("triggers/webhooks/0/max_body_bytes", 0),
    "registration without create": _del("triggers/webhooks/0/registration/create"),
    "registration secret_call without secret_path": _set(
        "triggers/webhooks/0/registration/secret_call", {"action": "download", "input": {}}
    ),
    "registration_action is gone": _set("triggers/webhooks/0/registration_action", "x"),
    "ack_only_events not a list": _set("triggers/webhooks/0/ack_only_events", "ping"),
    "defs not objects": _set("$defs", {"Record": 3}),
    "variables with unknown key": _set("connection/variables/subdomain/kind", "x"),
    "headers not strings": _set("connection/headers/Example-Version", 2024),
    "test_connection without path": _del("test_connection/path"),
}


def _model_accepts(doc: Any) -> bool:
    try:
        ConnectorSpec.model_validate(doc, strict=True)
    except ValidationError:
        return False
    return True


def test_published_schema_is_current() -> None:
    assert connector_json_schema() == PUBLISHED, "run 'patchbay schema' to refresh it"
    Draft202012Validator.check_schema(PUBLISHED)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_schema_and_model_accept_and_reject_the_same_documents(name: str) -> None:
    doc = copy.deepcopy(SINK)
    MUTATIONS[name](doc)
    schema_ok = Draft202012Validator(PUBLISHED).is_valid(doc)
    assert schema_ok == _model_accepts(doc), f"schema says {schema_ok} for {name!r}"


def test_mutations_really_reject() -> None:
    rejected = [n for n, m in MUTATIONS.items() if not _model_accepts(_apply(m))]
    accepted = sorted(set(MUTATIONS) - set(rejected))
    assert accepted == [
        "budget integer seconds",
        "condition equals null",
        "docs_url null",
        "unchanged",
    ]


def _apply(mutation: Mutation) -> dict[str, Any]:
    doc = copy.deepcopy(SINK)
    mutation(doc)
    return doc


@pytest.mark.parametrize("path", spec_files(ROOT / "specs"), ids=lambda p: p.name)
def test_every_shipped_spec_is_valid_under_both(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert Draft202012Validator(PUBLISHED).is_valid(doc)
    assert _model_accepts(doc)
    spec, problems = check_spec_data(doc, str(path))
    assert problems == [] and spec is not None


def test_kitchen_sink_covers_every_construct() -> None:
    spec, problems = check_spec_data(copy.deepcopy(SINK))
    assert problems == [] and spec is not None
    styles = {a.pagination.style for a in spec.actions if a.pagination}
    assert styles == {"cursor", "offset", "page", "link_header", "next_url", "continue_endpoint"}
    assert {a.type for a in spec.auth} == {"oauth2", "bearer", "api_key", "basic"}
    assert {a.body.encoding for a in spec.actions if a.body} == {"json", "form", "raw", "multipart"}


def problems_of(doc: Any) -> list[tuple[str, str]]:
    _spec, problems = check_spec_data(doc, "x.json")
    return [(p.pointer, p.message) for p in problems]


def test_schema_errors_name_the_pointer() -> None:
    doc = copy.deepcopy(SINK)
    doc["actions"][0]["method"] = "FETCH"
    doc["auth"][1]["type"] = "digest"
    found = problems_of(doc)
    pointers = [p for p, _ in found]
    assert "/actions/0/method" in pointers
    assert any(p.startswith("/auth/1") for p in pointers)
    assert any("'FETCH' is not one of" in m for _, m in found)


REG = "triggers/webhooks/0/registration"

SEMANTIC_CASES: dict[str, tuple[Mutation, str, str]] = {
    "resource item named by no input": (
        _set("actions/7/resource", {"name": "record", "op": "update", "id": "record_id"}),
        "/actions/7/resource/id",
        "'record_id' is not an input of this action",
    ),
    "resource get without an id": (
        _set("actions/7/resource", {"name": "record", "op": "get"}),
        "/actions/7/resource/id",
        "a get needs the input naming the item",
    ),
    "resource list not paginated": (
        _set("actions/7/resource", {"name": "record", "op": "list"}),
        "/actions/7/resource/op",
        "list needs a paginated action",
    ),
    "resource scope input unknown": (
        _set("actions/1/resource/scope", {"team": "team_id"}),
        "/actions/1/resource/scope/team",
        "'team_id' is not an input of this action",
    ),
    "resource item path not in the output": (
        _set("actions/7/resource/item_path", "record.inner"),
        "/actions/7/resource/item_path",
        "'record.inner' is not in the output",
    ),
    "undeclared path variable": (
        _set("actions/9/path", "/records/{record_id}/attachments"),
        "/actions/9/path",
        "path variable {record_id} is not declared",
    ),
    "duplicate action": (
        _set("actions/1/name", "list_records"),
        "/actions/1/name",
        "duplicate action name",
    ),
    "missing pagination path": (
        _set("actions/0/pagination/next_cursor_path", "meta.next"),
        "/actions/0/pagination/next_cursor_path",
        "'meta.next' is not in the output schema",
    ),
    "unknown auth variant": (
        _set("actions/8/auth", ["nope"]),
        "/actions/8/auth/0",
        "auth variant 'nope' does not exist",
    ),
    "undeclared base url variable": (
        _set("connection/base_url", "https://{tenant}.example.test"),
        "/connection/base_url",
        "uses {tenant}, which is not declared",
    ),
    "dangling $ref": (
        _set("actions/7/output/schema", {"$ref": "#/$defs/Nope"}),
        "/actions/7/output/schema/$ref",
        "does not name an entry",
    ),
    "bad JSON Schema": (
        _set("actions/0/parameters/0/schema", {"type": "strang"}),
        "/actions/0/parameters/0/schema/type",
        "invalid JSON Schema",
    ),
    # jsonschema-rs accepts \\p{L}; Python's re (what the metaschema's regex format means to
    # the checker of record) does not: the fast path must not let it through.
    "pattern Python cannot compile": (
        _set("actions/0/parameters/0/schema", {"type": "string", "pattern": "^\\p{L}+$"}),
        "/actions/0/parameters/0/schema/pattern",
        "invalid JSON Schema",
    ),
    "bad JSON Schema deep inside": (
        _set(
            "actions/0/parameters/0/schema",
            {"type": "object", "properties": {"a": {"type": "array", "items": {"minItems": -1}}}},
        ),
        "/actions/0/parameters/0/schema/properties/a/items/minItems",
        "invalid JSON Schema",
    ),
    "trigger action missing": (
        _set("triggers/polling/0/action", "list_nothing"),
        "/triggers/polling/0/action",
        "does not exist",
    ),
    "trigger cursor param unknown": (
        _set("triggers/polling/0/cursor/param", "pageTokn.x"),
        "/triggers/polling/0/cursor/param",
        "'pageTokn.x' is not an input of 'list_events'",
    ),
    "registration action missing": (
        _set(f"{REG}/create/action", "create_nothing"),
        f"/{REG}/create/action",
        "action 'create_nothing' does not exist",
    ),
    "registration input not an action input": (
        _set(f"{REG}/create/input/colour", "blue"),
        f"/{REG}/create/input/colour",
        "'colour' is not an input of 'create_record'",
    ),
    "registration result path unknown": (
        _set(f"{REG}/info/record_id", "{result.nope}"),
        f"/{REG}/info/record_id",
        "'nope' is not in the result schema of 'create_record'",
    ),
    "registration result before the call": (
        _set(f"{REG}/create/input/name", "{result.id}"),
        f"/{REG}/create/input/name",
        "there is no result yet",
    ),
    "registration keeps the secret in clear": (
        _set(f"{REG}/info/label", "{secret}"),
        f"/{REG}/info/label",
        "{secret} is never kept in info",
    ),
    "registration generated secret not sent": (
        _set(f"{REG}/create/input/metadata", {"events": "{events}"}),
        f"/{REG}/create/input",
        "must send it as {secret}",
    ),
    "registration delete name not kept": (
        _set(f"{REG}/delete/input/id", "{record}"),
        f"/{REG}/delete/input/id",
        "delete input uses {record}, which info does not keep",
    ),
    "registration vendor secret path unknown": (
        _set(f"{REG}/secret_path", "signing.key"),
        f"/{REG}/secret_path",
        "'signing.key' is not in the result schema",
    ),
    "ack-only event unknown": (
        _set("triggers/webhooks/0/ack_only_events", ["record.pinged"]),
        "/triggers/webhooks/0/ack_only_events/0",
        "ack-only event 'record.pinged' is not one of this webhook's events",
    ),
    "auth template undeclared": (
        _set("auth/1/token", "{apikey}"),
        "/auth/1/token",
        "uses {apikey}",
    ),
}


@pytest.mark.parametrize("case", sorted(SEMANTIC_CASES))
def test_semantic_problems_name_file_pointer_and_problem(case: str) -> None:
    mutation, pointer, fragment = SEMANTIC_CASES[case]
    doc = _apply(mutation)
    _spec, problems = check_spec_data(doc, "specs/x.json")
    assert problems, case
    assert any(p.pointer == pointer and fragment in p.message for p in problems), [
        str(p) for p in problems
    ]
    assert all(str(p).startswith("specs/x.json: ") for p in problems)


def test_json_syntax_and_duplicate_keys_are_reported() -> None:
    _spec, problems = check_spec_text('{"name": "a",\n "name": "b"}', "d.json")
    assert [str(p) for p in problems] == ["d.json: /: invalid JSON: duplicate key 'name'"]
    _spec, problems = check_spec_text('{"name": "a",\n  oops}', "s.json")
    assert len(problems) == 1 and "line 2, column 3" in problems[0].message
