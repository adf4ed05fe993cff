"""Request building, auth injection and input validation, asserted on the exact request sent."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from conftest import make_spec
from patchbay.runtime import Connection, GenericExecutor, PatchbayError
from patchbay.runtime.errors import ConfigError

OK_SCHEMA: dict[str, Any] = {"type": "object"}


class Recorder:
    def __init__(self, body: Any = None, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.body = {"ok": True} if body is None else body
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)


def executor(spec_actions: list[dict[str, Any]], recorder: Recorder, **kw: Any) -> GenericExecutor:
    conn_kw = kw.pop("connection", {"credentials": {"api_key": "sk_test_FAKE_0001"}})
    spec = make_spec(spec_actions, **kw)
    return GenericExecutor(
        spec, Connection(spec.name, **conn_kw), transport=httpx.MockTransport(recorder)
    )


def test_path_params_are_url_encoded_and_query_styles_follow_the_spec() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "find",
                "method": "GET",
                "path": "/repos/{owner}/{repo}/items",
                "parameters": [
                    {"name": "owner", "in": "path", "required": True},
                    {"name": "repo", "in": "path", "required": True},
                    {"name": "tags", "in": "query", "schema": {"type": "array"}},
                    {
                        "name": "labels",
                        "in": "query",
                        "style": "comma",
                        "schema": {"type": "array"},
                    },
                    {
                        "name": "ids",
                        "in": "query",
                        "style": "brackets",
                        "schema": {"type": "array"},
                    },
                    {
                        "name": "expand",
                        "in": "query",
                        "style": "deep_object",
                        "schema": {"type": "array"},
                    },
                    {
                        "name": "created",
                        "in": "query",
                        "style": "deep_object",
                        "schema": {"type": "object"},
                    },
                    {"name": "archived", "in": "query", "schema": {"type": "boolean"}},
                ],
                "output": {"schema": OK_SCHEMA},
            }
        ],
        rec,
    )
    ex.call(
        "find",
        {
            "owner": "a b/c",
            "repo": "x?y",
            "tags": ["t1", "t2"],
            "labels": ["bug", "ui"],
            "ids": [1, 2],
            "expand": ["customer"],
            "created": {"gt": 100},
            "archived": False,
        },
    )
    (req,) = rec.requests
    assert req.method == "GET"
    assert req.url.raw_path.decode().split("?")[0] == "/v1/repos/a%20b%2Fc/x%3Fy/items"
    assert req.url.params.multi_items() == [
        ("tags", "t1"),
        ("tags", "t2"),
        ("labels", "bug,ui"),
        ("ids[]", "1"),
        ("ids[]", "2"),
        ("expand[]", "customer"),
        ("created[gt]", "100"),
        ("archived", "false"),
    ]
    assert req.headers["authorization"] == "Bearer sk_test_FAKE_0001"
    assert req.headers["user-agent"].startswith("patchbay/")


def test_form_body_uses_stripe_style_brackets() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "create",
                "method": "POST",
                "path": "/things",
                "body": {
                    "encoding": "form",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "metadata": {"type": "object"},
                            "items": {"type": "array"},
                            "active": {"type": "boolean"},
                        },
                    },
                },
            }
        ],
        rec,
    )
    ex.call(
        "create",
        {
            "name": "Jo & Co",
            "metadata": {"plan": "gold"},
            "items": [{"price": "p_1"}],
            "active": True,
        },
    )
    (req,) = rec.requests
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.content == (
        b"name=Jo+%26+Co&metadata%5Bplan%5D=gold&items%5B0%5D%5Bprice%5D=p_1&active=true"
    )


def test_json_body_with_envelope_and_json_header_param() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "upload",
                "method": "POST",
                "path": "/tasks",
                "parameters": [
                    {
                        "name": "Api-Arg",
                        "in": "header",
                        "style": "json",
                        "schema": {"type": "object"},
                    }
                ],
                "body": {
                    "encoding": "json",
                    "envelope": "data",
                    "schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "notes": {"type": "string"}},
                        "required": ["name"],
                    },
                },
            }
        ],
        rec,
    )
    ex.call("upload", {"name": "n", "notes": "é", "Api-Arg": {"path": "/a b"}})
    (req,) = rec.requests
    assert json.loads(req.content) == {"data": {"name": "n", "notes": "é"}}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["api-arg"] == '{"path":"/a b"}'


def test_multipart_and_raw_bodies() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "attach",
                "method": "POST",
                "path": "/files",
                "body": {
                    "encoding": "multipart",
                    "files": ["file"],
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string"}, "purpose": {"type": "string"}},
                    },
                },
            },
            {
                "name": "put_blob",
                "method": "PUT",
                "path": "/blob",
                "body": {
                    "encoding": "raw",
                    "raw_field": "content",
                    "content_type": "application/octet-stream",
                    "schema": {"type": "object", "properties": {"content": {"type": "string"}}},
                },
            },
        ],
        rec,
    )
    ex.call(
        "attach",
        {
            "file": {"filename": "a.txt", "content": "hello", "content_type": "text/plain"},
            "purpose": "x",
        },
    )
    ex.call("put_blob", {"content": b"\x00\x01raw"})
    multi, raw = rec.requests
    assert multi.headers["content-type"].startswith("multipart/form-data; boundary=")
    text = multi.content.decode()
    assert 'name="purpose"' in text and "\r\n\r\nx\r\n" in text
    assert 'name="file"; filename="a.txt"' in text and "Content-Type: text/plain" in text
    assert "hello" in text
    assert raw.content == b"\x00\x01raw"
    assert raw.headers["content-type"] == "application/octet-stream"


def test_base_url_variables_map_and_missing_variable_is_a_config_error() -> None:
    rec = Recorder()
    actions = [{"name": "ping", "method": "GET", "path": "/{domain}/ping"}]
    connection = {
        "base_url": "https://{host}/v3",
        "variables": {
            "region": {"enum": ["us", "eu"], "default": "us"},
            "host": {
                "default": "us",
                "enum": ["us", "eu"],
                "map": {"us": "api.mail.test", "eu": "api.eu.mail.test"},
            },
            "domain": {},
        },
    }
    spec = make_spec(actions, connection=connection)
    ok = GenericExecutor(
        spec,
        Connection(
            "acme",
            variables={"host": "eu", "domain": "mg.x.test"},
            credentials={"api_key": "k_FAKE_123"},
        ),
        transport=httpx.MockTransport(rec),
    )
    ok.call("ping")
    assert str(rec.requests[0].url) == "https://api.eu.mail.test/v3/mg.x.test/ping"
    missing = GenericExecutor(
        spec,
        Connection("acme", credentials={"api_key": "k_FAKE_123"}),
        transport=httpx.MockTransport(rec),
    )
    with pytest.raises(ConfigError) as info:
        missing.call("ping")
    assert info.value.code == "config" and "'domain'" in str(info.value)
    assert len(rec.requests) == 1
    with pytest.raises(ConfigError, match="must be one of"):
        GenericExecutor(
            spec, Connection("acme", variables={"host": "mars"}, credentials={"api_key": "k"})
        )


def test_api_key_in_several_query_params_and_header_with_prefix() -> None:
    rec = Recorder()
    query_auth = [
        {
            "name": "key_token",
            "type": "api_key",
            "in": "query",
            "fields": {"key": {}, "token": {}},
            "params": [{"name": "key", "value": "{key}"}, {"name": "token", "value": "{token}"}],
        },
        {
            "name": "header_key",
            "type": "api_key",
            "in": "header",
            "fields": {"api_token": {}},
            "params": [{"name": "Authorization", "value": "{api_token}", "prefix": "Token token="}],
        },
    ]
    actions = [
        {
            "name": "cards",
            "method": "GET",
            "path": "/cards",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
        }
    ]
    spec = make_spec(actions, auth=query_auth)
    q = GenericExecutor(
        spec,
        Connection("acme", credentials={"key": "KEY_FAKE_1", "token": "TOKEN_FAKE_2"}),
        transport=httpx.MockTransport(rec),
    )
    q.call("cards", {"limit": 5})
    assert rec.requests[0].url.params.multi_items() == [
        ("limit", "5"),
        ("key", "KEY_FAKE_1"),
        ("token", "TOKEN_FAKE_2"),
    ]
    h = GenericExecutor(
        spec,
        Connection("acme", auth="header_key", credentials={"api_token": "PD_FAKE_3"}),
        transport=httpx.MockTransport(rec),
    )
    h.call("cards")
    assert rec.requests[1].headers["authorization"] == "Token token=PD_FAKE_3"
    assert "key" not in rec.requests[1].url.params


def test_basic_auth_with_templates() -> None:
    rec = Recorder()
    auth = [
        {
            "name": "api_token",
            "type": "basic",
            "fields": {"email": {"secret": False}, "token": {}},
            "username": "{email}/token",
            "password": "{token}",
        }
    ]
    spec = make_spec([{"name": "me", "method": "GET", "path": "/me"}], auth=auth)
    ex = GenericExecutor(
        spec,
        Connection("acme", credentials={"email": "a@example.test", "token": "ZD_FAKE_9"}),
        transport=httpx.MockTransport(rec),
    )
    ex.call("me")
    expected = base64.b64encode(b"a@example.test/token:ZD_FAKE_9").decode()
    assert rec.requests[0].headers["authorization"] == f"Basic {expected}"


def test_missing_credential_is_a_config_error_naming_it() -> None:
    spec = make_spec([{"name": "me", "method": "GET", "path": "/me"}])
    with pytest.raises(ConfigError, match="credential 'api_key' is missing"):
        GenericExecutor(spec, Connection("acme"))


def test_invalid_input_is_rejected_before_any_request() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "get",
                "method": "GET",
                "path": "/things/{id}",
                "parameters": [
                    {"name": "id", "in": "path", "required": True},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                ],
            }
        ],
        rec,
    )
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"id": "x", "limit": 500}, "/limit", "greater than the maximum"),
        ({"id": "x", "limit": "ten"}, "/limit", "is not of type 'integer'"),
        ({"limit": 3}, "/id", "'id' is a required property"),
        ({"id": "x", "limt": 3}, "/limt", "did you mean 'limit'"),
    ]
    for data, pointer, fragment in cases:
        with pytest.raises(PatchbayError) as info:
            ex.call("get", data)
        assert info.value.code == "validation"
        assert info.value.pointer == pointer
        assert fragment in info.value.message
        with pytest.raises(PatchbayError):
            ex.paginate("get", data)
    assert rec.requests == []


def test_unknown_action_names_the_closest() -> None:
    ex = executor([{"name": "list_customers", "method": "GET", "path": "/c"}], Recorder())
    with pytest.raises(ConfigError) as info:
        ex.call("list_customer")
    assert "did you mean 'list_customers'" in str(info.value)


def test_dot_only_path_values_cannot_escape_their_segment() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "get",
                "method": "GET",
                "path": "/repos/{repo}/issues",
                "parameters": [{"name": "repo", "in": "path", "required": True}],
            }
        ],
        rec,
    )
    ex.call("get", {"repo": ".."})
    ex.call("get", {"repo": "."})
    paths = [r.url.raw_path.decode() for r in rec.requests]
    assert paths == ["/v1/repos/%2E%2E/issues", "/v1/repos/%2E/issues"]


def test_spec_content_type_wins_in_any_letter_case() -> None:
    rec = Recorder()
    ex = executor(
        [
            {
                "name": "post",
                "method": "POST",
                "path": "/post",
                "headers": {"content-type": "application/json; charset=utf-8"},
                "body": {
                    "encoding": "json",
                    "schema": {
                        "type": "object",
                        "properties": {"text": {"type": "string"}, "blocks": {"type": "array"}},
                        "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
                    },
                },
            }
        ],
        rec,
    )
    ex.call("post", {"text": "hi"})
    assert rec.requests[0].headers.get_list("content-type") == ["application/json; charset=utf-8"]
    with pytest.raises(PatchbayError) as info:
        ex.call("post", {})
    assert info.value.code == "validation" and len(rec.requests) == 1
