"""The OpenAPI 3.1 document derived from a spec: valid, complete, faithful to the wire, stable."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import make_spec
from openapi_spec_validator import validate

from patchbay.codegen.openapi import openapi_document
from patchbay.runtime import load_spec
from patchbay.runtime.http._templating import template_names
from patchbay.runtime.spec._model import Action, ConnectorSpec
from patchbay.runtime.spec._registry import spec_files

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests/data/kitchen_sink.json"
ALL_SPECS = [*spec_files(ROOT / "specs"), SINK]

BODY_MEDIA = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data",
}
OUTPUT_MEDIA = {
    "json": "application/json",
    "text": "text/plain",
    "binary": "application/octet-stream",
}


def _doc(path: Path) -> tuple[ConnectorSpec, dict[str, Any]]:
    spec = load_spec(path)
    return spec, openapi_document(spec)


def _operation(doc: dict[str, Any], action: Action) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][action.path][action.method.lower()]
    return op


def _param(op: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """The OpenAPI parameter for a spec parameter (brackets params are renamed ``name[]``)."""
    found = [
        p
        for p in op.get("parameters", [])
        if p["in"] == where and name in (p["name"], p.get("x-patchbay-input"))
    ]
    assert len(found) == 1, f"{name!r} in {where} found {len(found)} times"
    return found[0]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _is_uri(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and "{" not in url


# ------------------------------------------------------------------------- every spec


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_document_validates_as_openapi_3_1(path: Path) -> None:
    _, doc = _doc(path)
    assert doc["openapi"] == "3.1.0"
    validate(doc)


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_info_and_servers_come_from_the_spec(path: Path) -> None:
    spec, doc = _doc(path)
    assert doc["info"]["title"] == spec.title
    assert doc["info"]["version"] == spec.version
    assert doc["info"].get("description", "") == spec.description
    server = doc["servers"][0]
    assert server["url"] == spec.connection.base_url
    assert list(server.get("variables", {})) == list(template_names(spec.connection.base_url))


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_every_action_is_an_operation_with_its_parameters(path: Path) -> None:
    spec, doc = _doc(path)
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for action in spec.actions:
        op = _operation(doc, action)
        assert op["operationId"] == action.name
        assert op.get("summary", "") == action.title
        assert op.get("description", "") == action.description
        for param in action.parameters:
            got = _param(op, param.name, param.in_)
            assert got.get("required", False) == (param.required or param.in_ == "path")
            if param.style == "json":
                assert "schema" not in got
                assert list(got["content"]) == ["application/json"]
            else:
                assert "content" not in got
            if param.in_ == "query" and param.style == "comma":
                assert (got["style"], got["explode"]) == ("form", False)
            if param.in_ == "query" and param.style == "deep_object":
                assert (got["style"], got["explode"]) == ("deepObject", True)
            if param.in_ != "query":
                assert "style" not in got  # header/path: OpenAPI's "simple" only
        # Every {name} of the path is a path parameter, connection variables included.
        path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert path_params == set(template_names(action.path))
        names = [(p["name"], p["in"]) for p in op.get("parameters", [])]
        assert len(names) == len(set(names))


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_bodies_responses_and_security_per_action(path: Path) -> None:
    spec, doc = _doc(path)
    requirements = doc["security"]
    assert len(requirements) == len(spec.auth)
    schemes = doc["components"]["securitySchemes"]
    for requirement in requirements:
        assert requirement and all(name in schemes for name in requirement)
    by_variant = dict(zip([v.name for v in spec.auth], requirements, strict=True))
    for action in spec.actions:
        op = _operation(doc, action)
        if action.body is None:
            assert "requestBody" not in op
        else:
            content = op["requestBody"]["content"]
            expected = BODY_MEDIA.get(action.body.encoding) or action.body.content_type
            assert list(content) == [expected]
        ok = op["responses"]["200"]
        assert list(ok["content"]) == [OUTPUT_MEDIA[action.output.format]]
        assert "default" in op["responses"]
        if action.auth is None:
            assert "security" not in op  # the document-level alternatives apply
        else:
            assert op["security"] == [by_variant[name] for name in action.auth]


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_defs_become_components_and_every_ref_is_rewritten(path: Path) -> None:
    spec, doc = _doc(path)
    text = json.dumps(doc)
    assert "#/$defs/" not in text
    schemas = doc["components"].get("schemas", {})
    assert sorted(schemas) == sorted(spec.defs)
    refs = list(_refs(doc))
    if spec.defs:
        assert refs, "a spec with $defs should reference them"
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/").split("/")[0] in schemas


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.name)
def test_same_spec_same_document_and_spec_untouched(path: Path) -> None:
    spec = load_spec(path)
    before = spec.model_dump(by_alias=True)
    first = openapi_document(spec)
    second = openapi_document(load_spec(path))
    assert first == second
    assert json.dumps(first) == json.dumps(second)  # insertion order too
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    # The document shares no dicts with the spec: editing it leaves the spec as it was.
    for item in first["paths"].values():
        for op in item.values():
            for media in op.get("requestBody", {}).get("content", {}).values():
                media["schema"]["mutated"] = True
            for media in op["responses"]["200"].get("content", {}).values():
                media["schema"]["mutated"] = True
    for schema in first["components"].get("schemas", {}).values():
        schema["mutated"] = True
    assert spec.model_dump(by_alias=True) == before
    assert openapi_document(spec) == second


# ------------------------------------------------------------------------- errors


def test_two_actions_on_one_method_and_path_raise_naming_both() -> None:
    spec = make_spec(
        [
            {
                "name": "get_thing",
                "method": "GET",
                "path": "/things/{id}",
                "parameters": [{"name": "id", "in": "path", "required": True}],
            },
            {
                "name": "fetch_thing",
                "method": "GET",
                "path": "/things/{thing_id}",
                "parameters": [{"name": "thing_id", "in": "path", "required": True}],
            },
        ]
    )
    with pytest.raises(ValueError, match=r"get_thing.*fetch_thing"):
        openapi_document(spec)


def test_one_path_spelled_with_other_variable_names_raises() -> None:
    spec = make_spec(
        [
            {
                "name": "get_thing",
                "method": "GET",
                "path": "/things/{id}",
                "parameters": [{"name": "id", "in": "path", "required": True}],
            },
            {
                "name": "delete_thing",
                "method": "DELETE",
                "path": "/things/{thing_id}",
                "parameters": [{"name": "thing_id", "in": "path", "required": True}],
            },
        ]
    )
    with pytest.raises(ValueError, match=r"get_thing.*delete_thing"):
        openapi_document(spec)


def test_same_path_with_other_methods_is_fine() -> None:
    spec = make_spec(
        [
            {"name": "list_things", "method": "GET", "path": "/things"},
            {"name": "create_thing", "method": "POST", "path": "/things"},
        ]
    )
    doc = openapi_document(spec)
    assert sorted(doc["paths"]["/things"]) == ["get", "post"]
    validate(doc)


# ------------------------------------------------------------------------- Stripe


def test_stripe_form_bodies_use_deep_object_for_nested_fields() -> None:
    spec, doc = _doc(ROOT / "specs/stripe.json")
    media = _operation(doc, spec.action("create_customer"))["requestBody"]["content"]
    form = media["application/x-www-form-urlencoded"]
    encoding = form["encoding"]
    for nested in ("address", "metadata", "preferred_locales", "tax_id_data"):
        assert encoding[nested] == {"style": "deepObject", "explode": True}
    for scalar in ("name", "email", "tax_exempt"):
        assert scalar not in encoding
    assert form["schema"]["properties"]["metadata"] == {"$ref": "#/components/schemas/Metadata"}
    refund = _operation(doc, spec.action("create_refund"))["requestBody"]["content"]
    assert refund["application/x-www-form-urlencoded"]["schema"]["oneOf"] == [
        {"required": ["charge"]},
        {"required": ["payment_intent"]},
    ]


def test_stripe_security_is_bearer_or_basic() -> None:
    _, doc = _doc(ROOT / "specs/stripe.json")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["api_key"]["type"] == "http"
    assert schemes["api_key"]["scheme"] == "bearer"
    assert schemes["api_key_basic"]["scheme"] == "basic"
    assert doc["security"] == [{"api_key": []}, {"api_key_basic": []}]


def test_stripe_query_styles() -> None:
    spec, doc = _doc(ROOT / "specs/stripe.json")
    op = _operation(doc, spec.action("list_customers"))
    expand = _param(op, "expand", "query")
    # key[]=a&key[]=b: the parameter is named with the brackets, form/explode.
    assert expand["name"] == "expand[]"
    assert (expand["style"], expand["explode"]) == ("form", True)
    assert expand["schema"]["type"] == "array"
    created = _param(op, "created", "query")
    assert created["schema"]["anyOf"][1] == {"$ref": "#/components/schemas/RangeQuery"}
    # The cursor and the page size are declared, so the pager adds nothing.
    assert not [p for p in op["parameters"] if p.get("x-patchbay-pager")]


def test_stripe_webhooks_have_one_signature_header() -> None:
    spec, doc = _doc(ROOT / "specs/stripe.json")
    hook = spec.triggers.webhooks[0]
    assert sorted(doc["webhooks"]) == sorted(f"{hook.name}.{event}" for event in hook.events)
    for item in doc["webhooks"].values():
        names = [p["name"].lower() for p in item["post"]["parameters"]]
        assert names.count("stripe-signature") == 1
        assert item["post"]["requestBody"]["content"]["application/json"]["schema"]


# ------------------------------------------------------------------------- GitHub


def test_github_link_header_list_declares_its_page_params() -> None:
    spec, doc = _doc(ROOT / "specs/github.json")
    action = spec.action("list_issues")
    op = _operation(doc, action)
    per_page = _param(op, "per_page", "query")
    page = _param(op, "page", "query")
    declared = {p.name: p.schema_ for p in action.parameters}
    assert per_page["schema"] == declared["per_page"]
    assert per_page["schema"]["maximum"] == 100
    assert page["schema"] == declared["page"]
    assert "Link" in op["responses"]["200"]["headers"]
    assert op["x-patchbay-pagination"]["style"] == "link_header"
    labels = _param(op, "labels", "query")
    assert (labels["style"], labels["explode"]) == ("form", False)
    assert doc["x-patchbay-headers"]["X-GitHub-Api-Version"] == "2022-11-28"


def test_github_webhook_event_header_names_the_event() -> None:
    _, doc = _doc(ROOT / "specs/github.json")
    issues = doc["webhooks"]["repository_webhook.issues"]["post"]
    event = _param(issues, "X-GitHub-Event", "header")
    assert event["schema"] == {"type": "string", "const": "issues"}
    assert _param(issues, "X-Hub-Signature-256", "header")["required"] is True


# ------------------------------------------------------------------------- Slack


def test_slack_json_bodies_keep_media_type_and_body_rules() -> None:
    spec, doc = _doc(ROOT / "specs/slack.json")
    op = _operation(doc, spec.action("post_message"))
    content = op["requestBody"]["content"]
    assert list(content) == ["application/json"]
    schema = content["application/json"]["schema"]
    assert schema["required"] == ["channel"]
    assert {"required": ["text"]} in schema["anyOf"]
    # The action's own Content-Type header (with charset) is kept as a fixed header.
    assert op["x-patchbay-headers"] == {"Content-Type": "application/json; charset=utf-8"}
    assert not [p for p in op.get("parameters", []) if p["name"].lower() == "content-type"]


def test_slack_oauth2_and_handshake() -> None:
    spec, doc = _doc(ROOT / "specs/slack.json")
    oauth = doc["components"]["securitySchemes"]["oauth2"]
    flow = oauth["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://slack.com/oauth/v2/authorize"
    assert flow["tokenUrl"] == "https://slack.com/api/oauth.v2.access"
    assert flow["refreshUrl"] == "https://slack.com/api/oauth.v2.access"
    variant = spec.auth_variant("oauth2")
    assert list(flow["scopes"]) == variant.scopes
    assert {"oauth2": variant.scopes} in doc["security"]
    handshake = doc["webhooks"]["events_api.url_verification"]["post"]
    body = handshake["requestBody"]["content"]["application/json"]["schema"]
    assert body["allOf"][0]["properties"]["type"] == {"const": "url_verification"}
    assert "text/plain" in handshake["responses"]["200"]["content"]


# ------------------------------------------------------------------------- kitchen sink


def test_kitchen_sink_bodies() -> None:
    spec, doc = _doc(SINK)
    upload = _operation(doc, spec.action("upload"))
    raw = upload["requestBody"]["content"]
    assert list(raw) == ["application/octet-stream"]
    assert raw["application/octet-stream"]["schema"]["type"] == "string"
    assert upload["servers"] == [{"url": "https://content.example.test/2"}]
    assert upload["security"] == [{"key": []}]
    arg = _param(upload, "Example-API-Arg", "header")
    assert arg["content"]["application/json"]["schema"] == {"type": "object"}

    attach = _operation(doc, spec.action("attach"))
    multipart = attach["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert multipart["properties"]["file"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    assert multipart["properties"]["note"] == {"type": "string"}

    download = _operation(doc, spec.action("download"))
    assert list(download["responses"]["200"]["content"]) == ["application/octet-stream"]

    record = _operation(doc, spec.action("create_record"))
    form = record["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["encoding"] == {"metadata": {"style": "deepObject", "explode": True}}
    assert form["schema"]["required"] == ["name"]


def test_kitchen_sink_security() -> None:
    _, doc = _doc(SINK)
    schemes = doc["components"]["securitySchemes"]
    flow = schemes["oauth"]["flows"]["authorizationCode"]
    assert flow["scopes"] == {"read": "", "write": ""}
    for key in ("authorizationUrl", "tokenUrl"):
        assert _is_uri(flow[key]), flow[key]
        assert "placeholder" in flow[key]  # {subdomain} has no default
    assert "{subdomain}" in schemes["oauth"]["description"]
    assert "PKCE" in schemes["oauth"]["description"]
    assert schemes["key_token_key"] == {
        "type": "apiKey",
        "in": "query",
        "name": "key",
        "description": schemes["key_token_key"]["description"],
    }
    assert schemes["key_token_token"]["name"] == "token"
    assert schemes["basic"]["scheme"] == "basic"
    # Trello-style key + token: both in ONE requirement (AND), one alternative per variant.
    assert doc["security"] == [
        {"oauth": ["read", "write"]},
        {"key": []},
        {"key_token_key": [], "key_token_token": []},
        {"basic": []},
    ]


def test_kitchen_sink_servers_and_pager() -> None:
    spec, doc = _doc(SINK)
    variables = doc["servers"][0]["variables"]
    assert list(variables) == ["instance_url"]
    default = variables["instance_url"]["default"]
    assert _is_uri(default) and "placeholder" in default
    assert "placeholder" in variables["instance_url"]["description"]

    records = _operation(doc, spec.action("list_records"))
    cursor = _param(records, "cursor", "query")
    limit = _param(records, "limit", "query")
    assert cursor["x-patchbay-pager"] is True
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    query = _operation(doc, spec.action("query_records"))
    props = query["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(props) == {"filter", "start_cursor", "page_size"}
    continued = doc["paths"]["/files/list_folder/continue"]["post"]
    assert continued["operationId"] == "list_folder_continue"
    body = continued["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["cursor"]
    hook = doc["webhooks"]["events.record.created"]["post"]
    assert _param(hook, "X-Signature", "header")["required"] is True
    assert _param(hook, "X-Timestamp", "header")["required"] is True


# ------------------------------------------------------------------------- constructs


def test_server_variables_enum_map_and_connection_variables_in_paths() -> None:
    spec = make_spec(
        [
            {
                "name": "send_message",
                "method": "POST",
                "path": "/Accounts/{account_sid}/Messages.json",
                "body": {"encoding": "form", "schema": {"properties": {"To": {"type": "string"}}}},
            },
            {
                "name": "get_thing",
                "method": "GET",
                "path": "/things",
                "base_url": "https://{subdomain}.files.acme.test",
            },
        ],
        connection={
            "base_url": "https://{region}/2010-04-01",
            "variables": {
                "region": {
                    "description": "Data region.",
                    "enum": ["us", "eu"],
                    "default": "eu",
                    "map": {"us": "api.acme.test", "eu": "api.eu.acme.test"},
                },
                "account_sid": {"description": "Account SID.", "pattern": "^AC"},
                "subdomain": {"pattern": "^[a-z0-9-]+$"},
            },
        },
    )
    doc = openapi_document(spec)
    validate(doc)
    region = doc["servers"][0]["variables"]["region"]
    assert region["default"] == "api.eu.acme.test"
    assert region["enum"] == ["api.acme.test", "api.eu.acme.test"]
    assert "Data region." in region["description"]
    send = doc["paths"]["/Accounts/{account_sid}/Messages.json"]["post"]
    sid = _param(send, "account_sid", "path")
    assert sid["required"] is True
    assert sid["schema"] == {"type": "string", "pattern": "^AC"}
    files = doc["paths"]["/things"]["get"]["servers"][0]
    assert files["url"] == "https://{subdomain}.files.acme.test"
    assert files["variables"]["subdomain"]["default"] == "subdomain-placeholder"


def test_bearer_outside_authorization_is_an_api_key_header() -> None:
    auth = [
        {
            "name": "token",
            "type": "bearer",
            "token": "{t}",
            "header": "X-Api-Token",
            "prefix": "",
            "fields": {"t": {}},
        },
        {"name": "gh", "type": "bearer", "token": "{t}", "prefix": "token ", "fields": {"t": {}}},
    ]
    spec = make_spec([{"name": "ping", "method": "GET", "path": "/ping"}], auth=auth)
    schemes = openapi_document(spec)["components"]["securitySchemes"]
    assert schemes["token"]["type"] == "apiKey"
    assert (schemes["token"]["in"], schemes["token"]["name"]) == ("header", "X-Api-Token")
    assert schemes["gh"]["type"] == "apiKey"
    assert schemes["gh"]["name"] == "Authorization"
    assert "token <token>" in schemes["gh"]["description"]


def test_client_credentials_flow() -> None:
    auth = [
        {
            "name": "app",
            "type": "oauth2",
            "grant": "client_credentials",
            "token_url": "https://auth.acme.test/token",
            "scopes": ["b", "a"],
        }
    ]
    spec = make_spec([{"name": "ping", "method": "GET", "path": "/ping"}], auth=auth)
    doc = openapi_document(spec)
    validate(doc)
    flows = doc["components"]["securitySchemes"]["app"]["flows"]
    assert flows == {
        "clientCredentials": {
            "tokenUrl": "https://auth.acme.test/token",
            "scopes": {"b": "", "a": ""},
        }
    }
    assert doc["security"] == [{"app": ["b", "a"]}]


def test_envelope_wraps_the_body() -> None:
    body = {
        "encoding": "json",
        "envelope": "data",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
    }
    form = copy.deepcopy(body) | {"encoding": "form"}
    spec = make_spec(
        [
            {"name": "create_task", "method": "POST", "path": "/tasks", "body": body},
            {"name": "create_form", "method": "POST", "path": "/forms", "body": form},
        ]
    )
    doc = openapi_document(spec)
    validate(doc)
    schema = doc["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["data"]
    assert schema["properties"]["data"]["properties"] == {"name": {"type": "string"}}
    media = doc["paths"]["/forms"]["post"]["requestBody"]["content"]
    encoding = media["application/x-www-form-urlencoded"]["encoding"]
    assert encoding == {"data": {"style": "deepObject", "explode": True}}


def test_refs_are_rewritten_but_data_and_property_names_are_not() -> None:
    schema = {
        "type": "object",
        "properties": {
            "default": {"$ref": "#/$defs/Thing"},
            "const": {"type": "object", "const": {"$ref": "#/$defs/Thing"}},
        },
    }
    spec = make_spec(
        [{"name": "get_thing", "method": "GET", "path": "/thing", "output": {"schema": schema}}],
        **{"$defs": {"Thing": {"type": "object"}}},
    )
    doc = openapi_document(spec)
    out = doc["paths"]["/thing"]["get"]["responses"]["200"]["content"]["application/json"]
    props = out["schema"]["properties"]
    assert props["default"] == {"$ref": "#/components/schemas/Thing"}
    assert props["const"]["const"] == {"$ref": "#/$defs/Thing"}  # a value, not a reference
