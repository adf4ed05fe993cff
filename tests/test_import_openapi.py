"""`patchbay import openapi`: small descriptions written for these tests (OpenAPI 3.0 YAML,
3.1 JSON, Swagger 2.0 JSON) through the importer, the merge, the CLI, code generation and the
contract suite, plus a property test over random small documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patchbay.connectors as generated
from patchbay.cli import main
from patchbay.codegen.generator import generate
from patchbay.codegen.openapi import openapi_document
from patchbay.codegen.openapi_import import (
    DescriptionError,
    ImportOptions,
    ImportResult,
    Selection,
    dump_spec,
    field_paths,
    field_share,
    import_openapi,
    load_document,
    load_examples,
    merge_spec,
    parse_document,
)
from patchbay.codegen.openapi_import.servers import DNS_LABEL, PATH_SEGMENT
from patchbay.mocks.contract import run_suite
from patchbay.runtime import parse_spec
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data/openapi"
SHOP, NOTES, LEGACY = DATA / "shop-3.0.yaml", DATA / "notes-3.1.json", DATA / "legacy-2.0.json"
LISTS = DATA / "lists-discovery.json"  # a Google Discovery document
SOURCE = "https://docs.example.test/openapi.json"


def _import(path: Path, connector: str = "shop", **options: Any) -> ImportResult:
    return import_openapi(load_document(path), ImportOptions(connector, **options))


def _action(result: ImportResult, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in result.spec["actions"] if a["name"] == name)
    return found


def _param(action: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in action.get("parameters", []) if p["name"] == name)
    return found


# ------------------------------------------------------------------------------- documents


@pytest.mark.parametrize("path", [SHOP, NOTES, LEGACY, LISTS], ids=lambda p: p.name)
def test_each_description_imports_into_a_valid_deterministic_spec(path: Path) -> None:
    first = _import(path, source_url=SOURCE)
    spec = parse_spec(first.spec)  # raises SpecInvalid listing every problem
    assert spec.actions and spec.auth
    again = _import(path, source_url=SOURCE)
    assert dump_spec(again.spec) == dump_spec(first.spec)
    assert json.dumps(again.fixtures, sort_keys=True) == json.dumps(first.fixtures, sort_keys=True)


def test_yaml_and_json_of_one_description_import_the_same() -> None:
    import yaml

    data = yaml.safe_load(SHOP.read_text())
    from_json = import_openapi(parse_document(json.dumps(data)), ImportOptions("shop"))
    assert dump_spec(from_json.spec) == dump_spec(_import(SHOP).spec)


def test_vendor_prose_is_left_out_unless_kept() -> None:
    plain = dump_spec(_import(SHOP).spec)
    assert "vendor sentence" not in plain and "Vendor words" not in plain
    assert "sibling prose" not in dump_spec(_import(NOTES).spec)
    assert _action(_import(SHOP), "list_items")["title"] == "List items"  # from the operationId
    kept = _import(SHOP, keep_descriptions=True)
    assert _action(kept, "list_items")["title"] == "A vendor sentence that must not be copied."
    assert kept.spec["$defs"]["Item"]["properties"]["name"]["description"] == (
        "Vendor words about the name."
    )


# ---------------------------------------------------------------------- parameters, bodies


def test_parameter_styles_become_the_spec_wire_styles() -> None:
    result = _import(SHOP)
    action = _action(result, "list_items")
    assert _param(action, "ids")["style"] == "comma"  # form, explode false
    assert _param(action, "expand")["style"] == "brackets"  # deepObject array: expand[]=a
    assert _param(action, "created")["style"] == "deep_object"  # deepObject object
    assert _param(action, "created")["schema"] == {"$ref": "#/$defs/Range"}
    assert "style" not in _param(action, "limit")  # exploded form is the default
    assert _param(action, "X-Trace")["in"] == "header"  # from the path item
    names = {p["name"] for p in action["parameters"]}
    assert "session" not in names and "Accept" not in names
    assert any("cookie parameter 'session'" in line for line in result.spec["todo"])
    assert _param(_action(_import(NOTES), "list_notes"), "filter")["style"] == "json"
    legacy = _action(_import(LEGACY), "list_files")
    assert _param(legacy, "types")["style"] == "comma" and "style" not in _param(legacy, "owner")
    assert _param(legacy, "folder_id") == {
        "name": "folder_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }


def test_request_bodies_keep_their_encoding_and_flat_inputs() -> None:
    result = _import(SHOP)
    create = _action(result, "create_item")["body"]
    assert create["encoding"] == "json"
    assert list(create["schema"]["properties"]) == ["name", "price", "notify"]  # allOf merged
    assert create["schema"]["required"] == ["name"]
    assert create["schema"]["properties"]["price"] == {"type": "number", "exclusiveMinimum": 0}
    update = _action(result, "update_item")["body"]
    assert update["encoding"] == "form" and "metadata" in update["schema"]["properties"]
    upload = _action(result, "upload_photo")["body"]
    assert upload["encoding"] == "multipart" and upload["files"] == ["file"]
    assert upload["schema"]["required"] == ["file"]
    note = _action(result, "add_note")
    assert note["body"]["encoding"] == "raw" and note["body"]["content_type"] == "text/plain"
    assert note["output"] == {"schema": {"type": "string"}, "format": "text"}
    assert "body" not in _action(result, "get_item")
    legacy = _import(LEGACY)
    assert _action(legacy, "create_folder")["body"]["schema"]["required"] == ["name"]
    assert _action(legacy, "upload_file")["body"]["files"] == ["file"]


# ------------------------------------------------------------------------ schemas and defs


def test_defs_hold_only_what_the_chosen_operations_reach() -> None:
    everything = _import(SHOP).spec["$defs"]
    assert set(everything) == {"Account", "Event", "Item", "Node", "Range"}  # not Unused/Error
    node = everything["Node"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}  # recursive
    item = everything["Item"]
    assert item["properties"]["parent"] == {
        "anyOf": [{"allOf": [{"$ref": "#/$defs/Item"}]}, {"type": "null"}]
    }
    assert item["properties"]["status"] == {
        "type": ["string", "null"],
        "enum": ["active", "archived", None],
    }
    assert everything["Account"]["properties"]["email"] == {"type": "string"}  # no EmailStr
    one = _import(SHOP, selection=Selection(operations=("getTree",))).spec["$defs"]
    assert set(one) == {"Node"}
    notes = _import(NOTES).spec["$defs"]["Note"]["properties"]
    assert notes["pinned"] == {"type": ["boolean", "null"]} and "examples" not in notes["text"]
    assert notes["score"] == {"type": "number", "exclusiveMinimum": 0}
    legacy = _import(LEGACY).spec["$defs"]
    assert legacy["File"]["properties"]["folder"] == {
        "anyOf": [{"$ref": "#/$defs/Folder"}, {"type": "null"}]
    }
    assert legacy["Folder"]["properties"]["parent"] == {"type": ["string", "null"]}


# ------------------------------------------------------------------------- servers, auth


def test_server_variables_become_patterned_connection_variables() -> None:
    spec = _import(SHOP).spec
    assert spec["connection"]["base_url"] == "https://{tenant}.shop.test/api/{version}"
    variables = spec["connection"]["variables"]
    assert variables["tenant"] == {"default": "acme", "pattern": DNS_LABEL}
    assert variables["version"] == {"default": "v2", "enum": ["v1", "v2"], "pattern": PATH_SEGMENT}
    assert DNS_LABEL == r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
    legacy = _import(LEGACY).spec["connection"]
    assert legacy == {"base_url": "https://files.legacy.test/rest"}


def test_security_schemes_become_auth_variants() -> None:
    shop = _import(SHOP).spec["auth"]
    assert [v["name"] for v in shop] == ["bearer_auth", "app_key_and_app_token"]
    pair = shop[1]
    assert pair["in"] == "query" and [p["name"] for p in pair["params"]] == ["key", "token"]
    legacy = {v["name"]: v for v in _import(LEGACY).spec["auth"]}
    assert legacy["basic"]["type"] == "basic"
    assert legacy["oauth"] == {
        "name": "oauth",
        "type": "oauth2",
        "grant": "authorization_code",
        "authorize_url": "https://login.legacy.test/auth",
        "token_url": "https://login.legacy.test/token",
        "scopes": ["files"],
    }
    notes = _import(NOTES)
    assert _action(notes, "get_note")["auth"] == ["bearer"]
    assert "auth" not in _action(notes, "list_notes")


# ------------------------------------------------------------------ paging, errors, output


def test_pagination_is_inferred_only_when_certain() -> None:
    shop = _import(SHOP)
    assert _action(shop, "list_items")["pagination"] == {
        "style": "cursor",
        "items_path": "data",
        "cursor_param": "starting_after",
        "cursor_from_last_item": "id",
        "has_more_path": "has_more",
        "page_size": {"param": "limit", "default": 10, "max": 100},
    }
    assert _action(shop, "list_events")["pagination"] == {
        "style": "link_header",
        "items_path": "",
        "page_size": {"param": "per_page", "max": 100},
    }
    assert "pagination" not in _action(shop, "list_logs")
    assert any(line.startswith("actions/list_logs/pagination:") for line in shop.spec["todo"])
    assert _action(_import(NOTES), "list_notes")["pagination"] == {
        "style": "cursor",
        "items_path": "notes",
        "cursor_param": "pageToken",
        "next_cursor_path": "nextPageToken",
    }


def test_documented_errors_give_paths_and_rule_hints() -> None:
    shop = _import(SHOP).spec
    assert shop["errors"] == {"message_path": "error.message", "vendor_code_path": "error.code"}
    assert any("status 402" in line for line in shop["todo"])
    assert not any("status 404" in line for line in shop["todo"])  # mapped by default
    notes = _import(NOTES).spec
    assert notes["errors"] == {"message_path": "message", "vendor_code_path": "code"}
    assert "output" not in _action(_import(SHOP), "delete_item")  # 204: nothing to read


def test_documented_examples_become_fixtures_only_when_they_fit_the_schema() -> None:
    shop = _import(SHOP)
    assert shop.spec["docs_url"] == "https://docs.shop.test/api"  # the description's docs
    created = shop.fixtures["create_item"]["documented-lamp"]
    assert created["source"] == "documented" and created["source_url"] == shop.spec["docs_url"]
    assert created["response"]["status"] == 201
    assert created["request"] == {
        "method": "POST",
        "path": "/api/v2/items",
        "query": {},
        "headers": {},
        "body": {"name": "Lamp"},  # a value of the example itself
    }
    assert "documented-broken" not in shop.fixtures["create_item"]
    assert any("'broken' does not match" in line for line in shop.todo)
    got = shop.fixtures["get_item"]["documented"]
    assert got["input"] == {"item_id": "itm_1"} and got["request"]["path"] == "/api/v2/items/itm_1"
    notes = _import(NOTES)
    assert notes.fixtures == {} and any("--source-url" in line for line in notes.todo)


def test_google_discovery_documents_import_the_same_way() -> None:
    result = _import(LISTS, connector="lists")
    spec = result.spec
    assert spec["connection"] == {"base_url": "https://lists.example.test/lists/v2"}
    assert spec["docs_url"] == "https://docs.lists.test/"
    [oauth] = spec["auth"]
    assert oauth["authorize_url"] == "https://accounts.google.com/o/oauth2/v2/auth"
    assert oauth["token_url"] == "https://oauth2.googleapis.com/token"
    assert oauth["scopes"] == [
        "https://lists.example.test/auth/lists",
        "https://lists.example.test/auth/lists.readonly",
    ]
    names = [a["name"] for a in spec["actions"]]
    assert names == ["entries_list", "entries_insert", "entries_delete", "entries_notes_get"]
    listing = _action(result, "entries_list")
    assert _param(listing, "pageSize")["schema"] == {
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 500,
        "default": 50,
    }
    assert _param(listing, "label")["schema"] == {"type": "array", "items": {"type": "string"}}
    assert "fields" not in {p["name"] for p in listing["parameters"]}  # system parameters
    assert listing["pagination"]["style"] == "cursor"
    assert listing["pagination"]["items_path"] == "entries"
    assert _action(result, "entries_insert")["body"]["encoding"] == "json"
    assert _action(result, "entries_delete")["path"] == "/{name}"
    assert any("'name' is a reserved expansion" in line for line in spec["todo"])
    entry = spec["$defs"]["Entry"]["properties"]
    assert entry["done"] == {"type": "boolean", "default": False}
    assert entry["extra"] == {} and entry["children"]["items"] == {"$ref": "#/$defs/Entry"}
    assert entry["size"] == {"type": "string", "format": "int64"}


def test_example_objects_kept_beside_the_description_become_fixtures(tmp_path: Path) -> None:
    item = {"id": "itm_9", "name": "Chair", "price": 40, "tags": [], "status": "active"}
    result = _import(SHOP, examples={"Item": item, "Event": {"id": "not an integer"}})
    fixture = result.fixtures["update_item"]["documented-item"]  # a response of exactly Item
    assert fixture["input"] == {"item_id": "itm_9"} and fixture["response"]["body"] == item
    assert fixture["request"]["path"] == "/api/v2/items/itm_9"
    assert list(result.fixtures["get_item"]) == ["documented"]  # its own example wins
    assert "list_events" not in result.fixtures  # a list of Event is not the Event itself
    wrapped = tmp_path / "fixtures.yaml"
    wrapped.write_text(json.dumps({"resources": {"Item": item}}))
    assert load_examples(wrapped) == {"Item": item}


# -------------------------------------------------------------------------------- selection


def test_selection_by_operation_tag_and_path() -> None:
    def names(**kw: Any) -> list[str]:
        return [a["name"] for a in _import(SHOP, selection=Selection(**kw)).spec["actions"]]

    assert names(operations=("getMe", "delete_item")) == ["get_me", "delete_item"]
    assert names(operations=("getMe=whoami", "delete_item=remove")) == ["whoami", "remove"]
    assert names(tags=("events",)) == ["list_events", "list_logs"]
    assert names(paths=("/items/*",)) == ["get_item", "update_item", "delete_item", "upload_photo"]
    assert names(tags=("items",), paths=("/items",)) == ["list_items", "create_item"]
    with pytest.raises(DescriptionError, match="no operation named nope"):
        names(operations=("getMe", "nope"))
    with pytest.raises(DescriptionError, match="matches no operation"):
        names(tags=("nothing",))


def test_unsupported_or_broken_documents_are_config_errors() -> None:
    with pytest.raises(DescriptionError, match=r"no 'openapi: 3\.x', 'swagger: 2\.0' or Disc"):
        parse_document("title: nothing\n")
    broken = {"openapi": "3.0.0", "info": {}, "servers": [{"url": "https://a.test"}]}
    broken["paths"] = {
        "/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/Gone"}}}}
    }
    with pytest.raises(DescriptionError, match="does not resolve"):
        import_openapi(parse_document(json.dumps(broken)), ImportOptions("x"))
    garbled = {**broken, "info": "a string", "paths": {"/x": {"get": {"responses": {}}}}}
    with pytest.raises(DescriptionError, match="malformed description"):
        import_openapi(parse_document(json.dumps(garbled)), ImportOptions("x"))
    relative = {**broken, "servers": [{"url": "/api"}]}
    with pytest.raises(DescriptionError, match="relative"):
        import_openapi(parse_document(json.dumps(relative)), ImportOptions("x"))


# -------------------------------------------------------------------- importer gaps (issue 12)

SEARCH_YAML = """\
# Written for the tests: a search description with bare '=' scalars (an enum of operators, and a
# key), as in Zendesk's description (YAML 1.1 reads a plain '=' as its 'value' tag).
openapi: 3.0.3
info: {title: Search, version: "1"}
servers: [{url: "https://api.search.test"}]
paths:
  /search:
    get:
      operationId: search
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  operators:
                    type: object
                    properties:
                      =: {type: string}
                      <: {type: string}
                      not: {type: string}
                  operator: {type: string, enum: [=, <, ">"]}
                  results:
                    type: array
                    items:
                      - {$ref: "#/components/schemas/user"}
                      - {$ref: "#/components/schemas/bot"}
                      - {$ref: "#/components/schemas/user"}
                  owners:
                    type: array
                    items:
                      - {$ref: "#/components/schemas/user"}
components:
  schemas:
    user: {type: object, properties: {id: {type: string}, name: {type: string}}}
    bot: {type: object, properties: {id: {type: string}, app: {type: string}}}
"""


def test_yaml_with_bare_equals_scalars_loads() -> None:
    doc = parse_document(SEARCH_YAML, "search.yaml")
    schema = doc.data["paths"]["/search"]["get"]["responses"]["200"]["content"]
    props = schema["application/json"]["schema"]["properties"]["operators"]["properties"]
    assert list(props) == ["=", "<", "not"]
    spec = import_openapi(doc, ImportOptions("search")).spec
    output = spec["actions"][0]["output"]["schema"]
    assert list(output["properties"]["operators"]["properties"]) == ["=", "<", "not"]
    assert output["properties"]["operator"]["enum"] == ["=", "<", ">"]


def test_items_given_as_a_list_of_shapes_become_alternatives() -> None:
    spec = import_openapi(parse_document(SEARCH_YAML, "search.yaml"), ImportOptions("s")).spec
    props = spec["actions"][0]["output"]["schema"]["properties"]
    assert props["results"]["items"] == {
        "anyOf": [{"$ref": "#/$defs/User"}, {"$ref": "#/$defs/Bot"}]
    }
    assert props["owners"]["items"] == {"$ref": "#/$defs/User"}
    assert sorted(spec["$defs"]) == ["Bot", "User"]
    parse_spec(spec)


def test_success_status_other_than_200_goes_into_the_mock_block() -> None:
    shop = _import(SHOP)
    assert _action(shop, "create_item")["mock"] == {"status": 201}
    assert _action(shop, "delete_item")["mock"] == {"status": 204}
    assert "mock" not in _action(shop, "list_items")
    assert _action(_import(LEGACY, "legacy"), "upload_file")["mock"] == {"status": 201}
    # Merged into an action that declares none, the status is added; a written one stays.
    existing = copy.deepcopy(shop.spec)
    create = next(a for a in existing["actions"] if a["name"] == "create_item")
    del create["mock"]
    delete = next(a for a in existing["actions"] if a["name"] == "delete_item")
    delete["mock"] = {"status": 200, "unknown_ids": "not_found"}
    merged, changes = merge_spec(existing, shop.spec)
    actions = {a["name"]: a for a in merged["actions"]}
    assert actions["create_item"]["mock"] == {"status": 201}
    assert actions["delete_item"]["mock"] == {"status": 200, "unknown_ids": "not_found"}
    assert changes == ["~ actions/create_item: + mock/status 201"]
    parse_spec(merged)


# ------------------------------------------------------------------------------------ merge


def _hand_kept(spec: dict[str, Any]) -> dict[str, Any]:
    """The imported spec after a person worked on it."""
    spec = copy.deepcopy(spec)
    spec["title"] = "Shop (hand-kept)"
    spec["errors"] = {"rules": [{"when": {"status": [402]}, "code": "permission_denied"}]}
    listing = next(a for a in spec["actions"] if a["name"] == "list_items")
    listing["title"] = "List the shop's items"
    listing["description"] = "Written by hand."
    listing["resource"] = {"name": "item", "op": "list"}
    _param(listing, "limit")["description"] = "How many per page."
    logs = next(a for a in spec["actions"] if a["name"] == "list_logs")
    logs["pagination"] = {"style": "offset", "items_path": "logs", "offset_param": "offset"}
    spec["todo"] = [line for line in spec["todo"] if "list_logs" not in line]
    spec["$defs"]["Item"]["properties"]["name"]["description"] = "Shown to buyers."
    spec["triggers"] = {
        "polling": [
            {"name": "new_item", "action": "list_items", "cursor": {"kind": "id", "field": "id"}}
        ]
    }
    spec["actions"].append(
        {"name": "handmade", "method": "GET", "path": "/handmade", "output": {"schema": {}}}
    )
    return spec


def test_merge_keeps_what_was_written_by_hand() -> None:
    imported = _import(SHOP).spec
    existing = _hand_kept(imported)
    merged, changes = merge_spec(existing, imported)
    assert changes == []  # the same description again changes nothing
    assert merged == existing
    # The vendor adds a field and a parameter: only those facts change.
    doc = load_document(SHOP)
    item = doc.data["components"]["schemas"]["Item"]
    item["properties"]["sku"] = {"type": "string"}
    doc.data["paths"]["/items"]["get"]["parameters"].append(
        {"name": "color", "in": "query", "schema": {"type": "string"}}
    )
    newer = import_openapi(doc, ImportOptions("shop")).spec
    merged, changes = merge_spec(existing, newer)
    assert changes == ["~ actions/list_items: + parameters color", "~ $defs/Item: + sku"]
    assert merged["title"] == "Shop (hand-kept)" and merged["errors"] == existing["errors"]
    assert merged["triggers"] == existing["triggers"]
    listing = next(a for a in merged["actions"] if a["name"] == "list_items")
    assert listing["title"] == "List the shop's items" and listing["resource"]["op"] == "list"
    assert _param(listing, "limit")["description"] == "How many per page."
    assert _param(listing, "color")["schema"] == {"type": "string"}
    props = merged["$defs"]["Item"]["properties"]
    assert props["sku"] == {"type": "string"}
    assert props["name"]["description"] == "Shown to buyers."
    logs = next(a for a in merged["actions"] if a["name"] == "list_logs")
    assert logs["pagination"]["style"] == "offset"
    assert not any("list_logs" in line for line in merged["todo"])
    assert merged["actions"][-1]["name"] == "handmade"
    parse_spec(merged)


def test_merge_adds_new_actions_and_reports_them() -> None:
    small = _import(SHOP, selection=Selection(operations=("getMe",))).spec
    more = _import(SHOP, selection=Selection(operations=("getMe", "getTree"))).spec
    merged, changes = merge_spec(small, more)
    assert changes == ["+ actions/get_tree", "+ $defs/Node"]
    assert [a["name"] for a in merged["actions"]] == ["get_me", "get_tree"]
    parse_spec(merged)


# A description written for the add-only merge tests: one form-encoded create whose response is
# a fuller Thing than the hand-written spec below declares.
THINGS = {
    "openapi": "3.0.3",
    "info": {"title": "Things", "version": "1"},
    "servers": [{"url": "https://api.things.test/v1"}],
    "paths": {
        "/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "maxLength": 50},
                                    "size": {"type": "integer"},
                                    "color": {"type": "string", "enum": ["red", "green"]},
                                    "meta": {
                                        "anyOf": [
                                            {
                                                "type": "object",
                                                "additionalProperties": {"type": "string"},
                                            },
                                            {"type": "string", "enum": [""]},
                                        ]
                                    },
                                },
                                "required": ["size"],
                            }
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/thing"}}
                        },
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "thing": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "nullable": True},
                    "status": {"type": "string", "enum": ["open", "closed"]},
                    "created": {"type": "integer", "format": "unix-time"},
                    "size": {"$ref": "#/components/schemas/dimension"},
                    "owner": {
                        "anyOf": [
                            {"type": "string"},
                            {"$ref": "#/components/schemas/person"},
                        ]
                    },
                    "meta": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "nullable": True,
                    },
                },
                "required": ["id", "name", "status", "created", "size", "owner"],
            },
            "dimension": {
                "type": "object",
                "properties": {"width": {"type": "integer"}, "unit": {"type": "string"}},
                "required": ["width", "unit"],
            },
            "person": {"type": "object", "properties": {"id": {"type": "string"}}},
        }
    },
}


def _things_by_hand() -> dict[str, Any]:
    """A spec a person wrote for the Things API: JSON body, own names, own rules."""
    return {
        "$schema": "./connector.schema.json",
        "name": "things",
        "title": "Things (by hand)",
        "version": "1.0.0",
        "connection": {"base_url": "https://api.things.test/v1"},
        "auth": [
            {
                "name": "token",
                "type": "bearer",
                "token": "{token}",
                "fields": {"token": {"secret": True}},
            }
        ],
        "test_connection": {"path": "/things"},
        "actions": [
            {
                "name": "create_thing",
                "title": "Create a thing",
                "description": "Written by hand.",
                "method": "POST",
                "path": "/things",
                "body": {
                    "encoding": "json",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "size": {"type": "integer", "minimum": 1},
                            "name": {"type": "string", "maxLength": 10},
                            "meta": {"$ref": "#/$defs/Meta"},
                        },
                        "required": ["name"],
                        "oneOf": [{"required": ["size"]}, {"required": ["name"]}],
                    },
                },
                "output": {"schema": {"$ref": "#/$defs/MyThing"}},
                "mock": {"unknown_ids": "not_found"},
                "resource": {"name": "thing", "op": "create"},
            }
        ],
        "errors": {"message_path": "error.message"},
        "$defs": {
            "Meta": {"type": "object", "additionalProperties": {"type": "string"}},
            "MyThing": {
                "type": "object",
                "description": "A thing, as we use it.",
                "properties": {
                    "id": {"type": "string", "pattern": "^th_"},
                    "status": {"enum": ["open"]},
                    "name": {"type": "string"},
                    "owner": {"type": "string"},
                    "meta": {"$ref": "#/$defs/Meta"},
                },
                "required": ["id"],
            },
        },
    }


def test_merge_is_add_only_for_actions_the_spec_has() -> None:
    doc = parse_document(json.dumps(THINGS), "things.json")
    imported = import_openapi(doc, ImportOptions("things")).spec
    existing = _things_by_hand()
    merged, changes = merge_spec(existing, imported)
    action = merged["actions"][0]
    kept = {k: v for k, v in existing["actions"][0].items() if k not in ("body", "output")}
    assert {k: v for k, v in action.items() if k not in ("body", "output")} == kept
    body = action["body"]
    assert body["encoding"] == "json"  # not turned into form
    assert list(body["schema"]["properties"]) == ["size", "name", "meta", "color"]
    assert body["schema"]["properties"]["name"] == {"type": "string", "maxLength": 10}
    assert body["schema"]["properties"]["size"] == {"type": "integer", "minimum": 1}
    assert body["schema"]["properties"]["meta"] == {"$ref": "#/$defs/Meta"}  # not inlined
    assert body["schema"]["required"] == ["name"]  # inputs' required stay as written
    assert body["schema"]["oneOf"] == existing["actions"][0]["body"]["schema"]["oneOf"]
    assert body["schema"]["properties"]["color"] == {"type": "string", "enum": ["red", "green"]}
    assert action["output"] == {"schema": {"$ref": "#/$defs/MyThing"}}
    thing = merged["$defs"]["MyThing"]
    assert thing["description"] == "A thing, as we use it."
    assert thing["properties"]["id"] == {"type": "string", "pattern": "^th_"}
    assert thing["properties"]["status"] == {"enum": ["open", "closed"]}
    assert thing["properties"]["name"] == {"type": ["string", "null"]}
    assert thing["properties"]["owner"] == {"type": "string"}  # no alternative added
    assert thing["properties"]["created"] == {"type": "integer", "format": "unix-time"}
    assert thing["properties"]["size"] == {"$ref": "#/$defs/Dimension"}
    assert thing["required"] == ["id", "name", "status", "created", "size", "owner"]
    # A nullable use of a shared entry: null goes to the use, the entry stays as written.
    assert thing["properties"]["meta"] == {"anyOf": [{"$ref": "#/$defs/Meta"}, {"type": "null"}]}
    assert merged["$defs"]["Meta"] == existing["$defs"]["Meta"]
    # New $defs only where the merged spec reaches them; hand-kept order, new ones after.
    assert list(merged["$defs"]) == ["Meta", "MyThing", "Dimension"]
    assert merged["title"] == "Things (by hand)" and merged["errors"] == existing["errors"]
    assert changes == [
        "~ actions/create_thing: body + color",
        '~ $defs/MyThing: + created, size; nullable name; enum status: "closed"; '
        "nullable meta; "
        "required .: name, status, created, size, owner",
        "+ $defs/Dimension",
    ]
    parse_spec(merged)
    # Deterministic, and a second merge of the same import adds nothing.
    assert merge_spec(existing, imported) == (merged, changes)
    again, more = merge_spec(merged, imported)
    assert again == merged and more == []
    # Responses only: the body stays exactly as written.
    outputs, _ = merge_spec(existing, imported, inputs=False)
    assert outputs["actions"][0]["body"] == existing["actions"][0]["body"]
    assert outputs["$defs"]["MyThing"] == thing
    # The older merge is still there on request: the vendor's facts overwrite.
    replaced, _ = merge_spec(existing, imported, replace=True)
    assert replaced["actions"][0]["body"]["encoding"] == "form"
    assert replaced["actions"][0]["body"]["schema"]["properties"]["name"]["maxLength"] == 50


def test_merge_adds_parameters_and_keeps_hand_written_ones() -> None:
    imported = _import(SHOP, selection=Selection(operations=("listItems",))).spec
    existing = copy.deepcopy(imported)
    listing = existing["actions"][0]
    limit = _param(listing, "limit")
    limit["schema"] = {"type": "integer", "minimum": 1, "maximum": 50}
    listing["parameters"] = [p for p in listing["parameters"] if p["name"] != "ids"]
    _param(listing, "expand")["style"] = "brackets"
    listing["output"]["result_path"] = "data"
    merged, changes = merge_spec(existing, imported)
    listing = merged["actions"][0]
    assert _param(listing, "limit")["schema"]["maximum"] == 50
    assert _param(listing, "expand")["style"] == "brackets"
    assert listing["output"]["result_path"] == "data"
    assert [p["name"] for p in listing["parameters"]][-1] == "ids"  # added at the end
    assert changes == ["~ actions/list_items: + parameters ids"]


def test_cli_merge_is_add_only_unless_replace(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    runner = CliRunner()
    args = ["--specs-dir", str(specs), "import", "openapi", str(SHOP), "--connector", "shop"]
    assert runner.invoke(main, [*args, "--operations", "listItems"]).exit_code == 0
    target = specs / "shop.json"
    spec = json.loads(target.read_text())
    _param(spec["actions"][0], "limit")["schema"]["maximum"] = 50
    target.write_text(dump_spec(spec))
    kept = runner.invoke(main, [*args, "--operations", "listItems"])
    assert kept.exit_code == 0, kept.output
    assert "~ actions/list_items" not in kept.output
    assert target.read_text() == dump_spec(spec)
    replaced = runner.invoke(main, [*args, "--operations", "listItems", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert "~ actions/list_items: parameters" in replaced.output
    after = json.loads(target.read_text())
    assert _param(after["actions"][0], "limit")["schema"]["maximum"] == 100


# -------------------------------------------------------------------------------------- CLI


def test_cli_writes_spec_and_fixtures_then_merges(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    runner = CliRunner()
    args = ["--specs-dir", str(specs), "import", "openapi", str(SHOP), "--connector", "shop"]
    first = runner.invoke(main, [*args, "--operations", "listItems,getMe"])
    assert first.exit_code == 0, first.output
    target = specs / "shop.json"
    assert f"+ {target} (2 actions)" in first.output
    assert (tmp_path / "golden/shop/list_items/documented.json").is_file()
    assert "todo  actions/list_items: cookie parameter" in first.output
    text = target.read_text()
    again = runner.invoke(main, [*args, "--operations", "listItems,getMe"])
    assert again.exit_code == 0 and target.read_text() == text
    assert "+ actions/" not in again.output
    more = runner.invoke(main, [*args, "--operations", "getTree", "--dry-run"])
    assert "+ actions/get_tree" in more.output and target.read_text() == text
    checked = runner.invoke(main, ["--specs-dir", str(specs), "validate"])
    assert checked.exit_code == 0
    assert "todo  " in checked.output and "cookie parameter 'session'" in checked.output


def test_cli_errors_are_normalized_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "nothing.yaml"
    bad.write_text("title: nothing\n")
    runner = CliRunner()
    for doc, extra in ((bad, []), (SHOP, ["--operations", "nope"])):
        args = ["--specs-dir", str(tmp_path), "import", "openapi", str(doc), "--connector", "x"]
        result = runner.invoke(main, [*args, *extra])
        assert result.exit_code == 3
        assert result.output.startswith("error: [config] ") and "Traceback" not in result.output
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------- generate + contract suite


def test_imported_specs_generate_and_pass_the_contract_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, golden = tmp_path / "specs", tmp_path / "golden"
    specs.mkdir()
    total = 0
    documents = ((SHOP, "imp_shop"), (LEGACY, "imp_legacy"), (NOTES, "imp_notes"))
    for path, name in (*documents, (LISTS, "imp_lists")):
        result = _import(path, connector=name, source_url=SOURCE)
        (specs / f"{name}.json").write_text(dump_spec(result.spec))
        for action, found in result.fixtures.items():
            folder = golden / name / action
            folder.mkdir(parents=True)
            for stem, fixture in found.items():
                (folder / f"{stem}.json").write_text(dump_spec(fixture))
                total += 1
    written = generate(specs, tmp_path / "generated").written
    assert sorted(written) == ["imp_legacy", "imp_lists", "imp_notes", "imp_shop"]
    monkeypatch.setattr(generated, "__path__", [*generated.__path__, str(tmp_path / "generated")])
    results = run_suite(SpecRegistry(specs), golden_root=golden)
    cases = [r for found in results.values() for r in found]
    assert total >= 5 and len(cases) == total
    assert [(r.case.id, r.problems) for r in cases if not r.ok] == []


# ------------------------------------------------------------------------------- properties

_NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta"])
_SCALARS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", "format": "date-time"},
    ]
)
_ARRAY = {"type": "array", "items": {"type": "string"}}
_PATH_PARAM = {"name": "res_id", "in": "path", "required": True, "schema": {"type": "string"}}


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid OpenAPI 3.0 document: resources, methods, params, response shapes."""
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 3))):
        has_id = draw(st.booleans())
        path = f"/res{i}" + ("/{res_id}" if has_id else "")
        item: dict[str, Any] = {}
        for method in draw(st.sets(st.sampled_from(["get", "post", "put", "delete"]), min_size=1)):
            params: list[dict[str, Any]] = []
            if has_id:
                params.append(_PATH_PARAM)
            for name in draw(st.sets(_NAMES, max_size=3)):
                schema = draw(st.one_of(_SCALARS, st.just(_ARRAY)))
                params.append({"name": f"q_{name}", "in": "query", "schema": schema})
            props = {n: draw(_SCALARS) for n in draw(st.sets(_NAMES, min_size=1, max_size=4))}
            model: dict[str, Any] = {"type": "object", "properties": props}
            shape = draw(st.sampled_from(["object", "array", "ref", "string"]))
            if shape == "ref":
                components[f"Model{i}{method}"] = model
                model = {"$ref": f"#/components/schemas/Model{i}{method}"}
            elif shape == "array":
                model = {"type": "array", "items": model}
            elif shape == "string":
                model = {"type": "string"}
            content = {"application/json": {"schema": model}}
            op: dict[str, Any] = {
                "operationId": f"op{i}{method}",
                "responses": {"200": {"description": "ok", "content": content}},
            }
            if params:
                op["parameters"] = params
            if method in ("post", "put") and draw(st.booleans()):
                body = {n: draw(_SCALARS) for n in draw(st.sets(_NAMES, min_size=1, max_size=3))}
                body_schema = {"type": "object", "properties": body}
                op["requestBody"] = {"content": {"application/json": {"schema": body_schema}}}
            item[method] = op
        paths[path] = item
    return {
        "openapi": "3.0.3",
        "info": {"title": "Random", "version": "1"},
        "servers": [{"url": "https://api.random.test/v1"}],
        "components": {
            "schemas": components,
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
        },
        "security": [{"key": []}],
        "paths": paths,
    }


def _kind(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = components[ref.rsplit("/", 1)[1]]
    return schema.get("type")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_documents())
def test_random_descriptions_import_valid_and_round_trip_through_openapi(
    document: dict[str, Any],
) -> None:
    result = import_openapi(parse_document(json.dumps(document)), ImportOptions("random"))
    spec = parse_spec(result.spec)
    out = openapi_document(spec)
    expected = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    assert len(spec.actions) == len(expected)
    schemas = out["components"].get("schemas", {})
    for path, method, op in expected:
        emitted = out["paths"][path][method]
        wanted = {p["name"] for p in op.get("parameters", [])}
        assert {p["name"] for p in emitted.get("parameters", [])} >= wanted
        sent = op["responses"]["200"]["content"]["application/json"]["schema"]
        got = emitted["responses"]["200"]["content"]["application/json"]["schema"]
        source = document["components"]["schemas"]
        assert _kind(got, schemas) == _kind(sent, source)
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
            emitted_body = emitted["requestBody"]["content"]["application/json"]["schema"]
            assert set(emitted_body["properties"]) == set(body)


# ------------------------------------------------------------------------------ field share


def test_field_share_counts_vendor_fields_the_spec_declares() -> None:
    doc = load_document(SHOP)
    components = doc.data["components"]["schemas"]

    def vendor(node: Any) -> dict[str, Any]:
        resolved: dict[str, Any] = doc.resolve(node)
        return resolved

    def ours(node: Any) -> dict[str, Any]:
        ref = node.get("$ref")
        return spec_defs[ref.rsplit("/", 1)[1]] if isinstance(ref, str) else node

    spec_defs = {"Item": {"type": "object", "properties": {"id": {}, "name": {}, "gone": {}}}}
    item = {"$ref": "#/components/schemas/Item"}
    assert field_paths(item, vendor, depth=1) == set(components["Item"]["properties"])
    share = field_share(item, vendor, {"$ref": "#/$defs/Item"}, ours)
    assert (share.declared, share.vendor) == (2, 6) and round(share.percent) == 33
    assert field_paths(item, vendor, depth=2) == field_paths(item, vendor, depth=1)  # recursive
    legacy = load_document(LEGACY)
    folder = legacy.data["components"]["schemas"]["File"]
    deep = field_paths(folder, legacy.resolve, depth=2)
    assert deep == {"id", "name", "size", "folder", "folder.id", "folder.parent"}
