"""A mock server for any connector, built from its spec alone (no per-vendor code).

It checks credentials the way the spec's auth variants send them, validates input with the same
check the executor uses, answers vendor-shaped errors derived from the spec's error rules, serves
golden fixtures when one matches, keeps created/updated/deleted resources for REST-shaped
actions, pages in the spec's own style over a synthetic dataset, and injects faults on demand
(``X-Mock-Scenario`` per request, or ``MockOptions.scenario`` per server).

One core (:meth:`MockServer.handle`) serves three ways: ``transport()`` (an ``httpx``
transport for sync and async clients), ``app`` (ASGI, for ``httpx.ASGITransport`` and uvicorn).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from patchbay.mocks.golden import GOLDEN_DIR, Fixture, decode_body, fixtures_for, matches, multi
from patchbay.mocks.routing import Route, Router
from patchbay.mocks.synthesis import from_pattern, rng_for, synthesize
from patchbay.mocks.vendor_errors import STATUS_FOR_CODE, error_response, remove_path, set_path
from patchbay.mocks.wire import decode_input, form_as_object
from patchbay.runtime.error_mapping import match_holds
from patchbay.runtime.errors import ValidationFailed
from patchbay.runtime.paths import MISSING, get_path
from patchbay.runtime.spec import (
    Action,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    Condition,
    ConnectorSpec,
    ContinueEndpointPagination,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OAuth2Auth,
    OffsetPagination,
    PagePagination,
    ResourceEffect,
)
from patchbay.runtime.spec_checks import resolve_schema, schema_at_path
from patchbay.runtime.templating import render
from patchbay.runtime.validation import InputCheck, input_schema

SCENARIO_HEADER = "X-Mock-Scenario"
SCENARIOS = (
    "rate_limited",
    "server_error",
    "unavailable",
    "slow",
    "malformed",
    "expired_token",
    "drop",
)
_PAGE_PARAM = "mock_page"
_FRESH_BASE = 500_000  # ids of created items count from here (list items from 1)
_SYNTH_ORIGIN = b"https://example.test"  # the origin synthesized URLs carry (mocks.synthesis)
MOCK_ACCOUNT_LABEL = "Mock Account"


@dataclass
class MockOptions:
    seed: int = 0
    records: int = 25
    credentials: dict[str, str] | None = None
    access_tokens: tuple[str, ...] = ("mock_access_token",)
    variables: dict[str, str] = field(default_factory=dict)
    scenario: str | None = None
    slow_seconds: float = 5.0
    retry_after: float = 1.0
    golden_root: Path | None = GOLDEN_DIR
    fixtures: dict[str, list[Fixture]] | None = None  # per action; replaces golden_root's
    mount: str = ""  # a path prefix, when several connectors share one port ("/stripe")
    max_body_bytes: int = 1_048_576
    # Take any credential of the shape its field declares (sk_test_..., xoxb-...), as a user's
    # own test keys are, besides the printed fakes (`mock serve` and the SDK conformance do).
    shaped_credentials: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    action: str | None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes
    delay: float = 0.0


def default_credentials(spec: ConnectorSpec) -> dict[str, str]:
    """Obviously fake values for every credential field of every auth variant (the spec's
    example when it has one: the executor refuses values that miss a declared pattern)."""
    return {name: f.example or f"mock_{name}" for v in spec.auth for name, f in v.fields.items()}


def default_variables(spec: ConnectorSpec, template: str | None = None) -> dict[str, str]:
    """Connection variables the mock and the executor agree on: a whole-origin variable of
    ``template`` (the base URL by default) gets its example or a loopback-free fake origin;
    others their default, example, first enum value or an obvious fake."""
    template = template or spec.connection.base_url
    out = {}
    for name, var in spec.connection.variables.items():
        if template.startswith("{" + name + "}"):
            out[name] = var.example or "https://mock.test"
        else:
            fallback = var.enum[0] if var.enum else f"mock_{name}"
            out[name] = var.default or var.example or fallback
    return out


def well_formed_wrong(value: str) -> str:
    """Another value of the same shape (the last character changed within its kind), so the
    mock, not the executor's pattern check, is what refuses it."""
    last = value[-1]
    if last.isdigit():
        return value[:-1] + str((int(last) + 1) % 10)
    if last.isalpha():
        return value[:-1] + ("b" if last.lower() != "b" else "c")
    return value + "x"


class MockServer:
    def __init__(self, spec: ConnectorSpec, options: MockOptions | None = None) -> None:
        self.spec = spec
        self.options = options or MockOptions()
        self.credentials = self.options.credentials or default_credentials(spec)
        self.requests: list[RecordedRequest] = []
        self.fixture_hits = 0  # replies taken from golden fixtures (the contract suite checks)
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, set[str]] = {}
        # (resource store, item id) -> the partitions it was created in (spec resource effects)
        self.partitions: dict[tuple[str, str], dict[str, str]] = {}
        self._synth_cache: dict[tuple[int, str], str] = {}
        self._replies: dict[str, tuple[bytes, Reply]] = {}  # idempotency key -> first reply
        self._issued: dict[str, int] = {}  # ids handed out per store: never reused
        self._origin = ""  # scheme://host:port of the request being answered
        self._known_ids: dict[tuple[str, str], frozenset[str]] = {}
        self._item_ids: dict[tuple[str, str, int], Any] = {}
        self.router = Router(
            spec, variables=self.options.variables, mount=self.options.mount, probe=True
        )
        self._checks = {a.name: InputCheck(spec.name, a, spec.defs) for a in spec.actions}
        self._fixtures: dict[str, list[Fixture]] = dict(self.options.fixtures or {})
        if self.options.fixtures is None and self.options.golden_root is not None:
            for action in spec.actions:
                found = fixtures_for(spec.name, action.name, self.options.golden_root)
                # A recorded error answered a request that failed for a reason the fixture does
                # not match on (another run's wrong key): served, it would refuse a live client.
                self._fixtures[action.name] = [
                    f for _, f in found if not (f.source == "recorded" and f.response.status >= 400)
                ]

    # ------------------------------------------------------------------------------- replies

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        content = json.dumps(body).encode()
        if self._origin and _SYNTH_ORIGIN in content:
            # Synthesized URLs point at this mock, so a client following one stays here.
            content = content.replace(_SYNTH_ORIGIN, self._origin.encode())
        return Reply(status, {"Content-Type": "application/json", **(headers or {})}, content)

    def _error(
        self,
        code: str,
        message: str,
        *,
        fallback: str | None = None,
        situation: str | None = None,
        item_id: str = "",
    ) -> Reply:
        declared = self._declared_error(code, situation, message, item_id)
        if declared is not None:
            return declared
        shaped = error_response(self.spec, code, message, retry_after=self.options.retry_after)
        if shaped is None and fallback is not None:
            shaped = error_response(
                self.spec, fallback, message, retry_after=self.options.retry_after
            )
        if shaped is None:
            return self._json(400, {"message": message, "code": code})
        status, headers, body = shaped
        return self._json(status, body, headers)

    def _declared_error(
        self, code: str, situation: str | None, message: str, item_id: str
    ) -> Reply | None:
        """The vendor's own body for this situation, when an error rule declares one."""
        rules = [r for r in self.spec.errors.rules if r.mock is not None and r.code == code]
        chosen = next(
            (r for r in rules if r.mock and situation in r.mock.situations),
            next((r for r in rules if r.mock and not r.mock.situations), None),
        )
        if chosen is None or chosen.mock is None:
            return None
        declared = chosen.mock
        status = declared.status or _rule_status(chosen, code)
        body = _fill(copy.deepcopy(declared.body), {"message": message, "id": item_id})
        return self._json(status, body)

    # ---------------------------------------------------------------------------------- auth

    def _authorized(self, headers: dict[str, str], query: list[tuple[str, str]]) -> bool:
        creds = self.credentials
        values = {**self.options.variables, **creds}
        lowered = {k.lower(): v for k, v in headers.items()}
        params = dict(query)
        for variant in self.spec.auth:
            if any(name not in creds for name in variant.fields):
                continue
            fields = variant.fields
            prefixes = [*(variant.mock.prefixes if variant.mock else [])]
            try:
                if isinstance(variant, BearerAuth):
                    token = _after_prefix(
                        lowered.get(variant.header.lower(), ""), [variant.prefix, *prefixes]
                    )
                    if token is not None and self._fits(variant.token, token, values, fields):
                        return True
                elif isinstance(variant, ApiKeyAuth):
                    source = lowered if variant.in_ == "header" else params
                    key = str.lower if variant.in_ == "header" else str
                    if all(
                        (sent := _after_prefix(source.get(key(p.name), ""), [p.prefix])) is not None
                        and self._fits(p.value, sent, values, fields)
                        for p in variant.params
                    ):
                        return True
                elif isinstance(variant, BasicAuth):
                    pair = _basic_pair(lowered.get("authorization", ""))
                    if (
                        pair is not None
                        and self._fits(variant.username, pair[0], values, fields)
                        and self._fits(variant.password, pair[1], values, fields)
                    ):
                        return True
                elif isinstance(variant, OAuth2Auth):
                    token = _after_prefix(
                        lowered.get(variant.header.lower(), ""), [variant.prefix, *prefixes]
                    )
                    if token is not None and token in self.options.access_tokens:
                        return True
            except KeyError:
                continue
        return False

    def _fits(
        self, template: str, sent: str, values: dict[str, str], fields: dict[str, Any]
    ) -> bool:
        return _fits(template, sent, values, fields if self.options.shaped_credentials else {})

    # ------------------------------------------------------------------------------- handling

    def handle(self, method: str, url: httpx.URL, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request; never raises except to simulate a dropped connection."""
        query = [(k, v) for k, v in parse_qsl(url.query.decode(), keep_blank_values=True)]
        # Route on the raw path, so an encoded "/" stays inside its segment.
        raw_path = url.raw_path.split(b"?", 1)[0].decode("ascii")
        found = self.router.match(method, raw_path)
        self.requests.append(
            RecordedRequest(
                method,
                url.path,
                query,
                dict(headers),
                body,
                found.action.name if found else None,
            )
        )
        lowered = {k.lower(): v for k, v in headers.items()}
        scenario = lowered.get(SCENARIO_HEADER.lower()) or self.options.scenario
        if scenario is not None and scenario not in SCENARIOS:
            return self._json(400, {"message": f"unknown {SCENARIO_HEADER} {scenario!r}"})
        if found is None:
            # The vendor checks credentials before it routes: a bad token never learns more.
            if not self._authorized(headers, query) and scenario is None:
                return self._error("auth_invalid", "invalid credentials", situation="auth_invalid")
            allowed = self.router.allowed(raw_path)
            hint = f" (it answers {', '.join(allowed)})" if allowed else ""
            return self._error("not_found", f"no action answers {method} {url.path}{hint}")
        route, path_params = found.route, found.path_params
        if len(body) > self.options.max_body_bytes:
            return self._error(
                "validation", f"request body over {self.options.max_body_bytes} bytes"
            )
        if scenario == "expired_token":
            return self._error("auth_expired", "the access token expired", fallback="auth_invalid")
        if not self._authorized(headers, query):
            return self._error("auth_invalid", "invalid credentials", situation="auth_invalid")
        if scenario == "rate_limited":
            return self._error("rate_limited", "slow down", fallback="upstream_unavailable")
        if scenario == "server_error":
            return self._json(500, {"message": "mock internal error"})
        if scenario == "unavailable":
            return self._json(503, {"message": "mock unavailable"}, {"Retry-After": "1"})
        if scenario == "drop":
            raise httpx.RemoteProtocolError("the mock dropped the connection")
        self._origin = f"{url.scheme}://{url.netloc.decode()}"
        if route.probe:
            reply = self._test_connection()
        else:
            replayed = self._idempotent(route, lowered, body)
            if isinstance(replayed, Reply):
                return replayed
            reply = self._answer(route, path_params, query, headers, body, url)
            if replayed is not None and reply.status < 500:
                self._replies[replayed[0]] = (replayed[1], reply)
        if scenario == "malformed":
            return Reply(
                200,
                {"Content-Type": "application/json"},
                reply.content[: max(1, len(reply.content) // 2)] + b'{"',
            )
        if scenario == "slow":
            return Reply(
                reply.status, reply.headers, reply.content, delay=self.options.slow_seconds
            )
        return reply

    def _idempotent(
        self, route: Route, lowered: dict[str, str], body: bytes
    ) -> Reply | tuple[str, bytes] | None:
        """The vendor's idempotency: a key seen before replays the first reply, or, with another
        body, gets the vendor's conflict error. Else ``(key, body)`` to remember, or None."""
        spec = self.spec.idempotency
        if spec is None or route.method not in spec.methods or route.action.pagination:
            return None
        key = lowered.get(spec.header.lower())
        if not key:
            return None
        key = f"{route.method} {route.template}:{key}"
        seen = self._replies.get(key)
        if seen is None:
            return key, body
        if seen[0] != body:
            return self._error(
                "conflict",
                "this idempotency key was used with other parameters",
                situation="idempotency_conflict",
            )
        first = seen[1]
        return Reply(first.status, {**first.headers, "Idempotent-Replayed": "true"}, first.content)

    def _test_connection(self) -> Reply:
        """A reply meeting the spec's success conditions, with an account label and id."""
        tc = self.spec.test_connection
        body: dict[str, Any] = {}
        if tc.account_label_path:
            set_path(body, tc.account_label_path, MOCK_ACCOUNT_LABEL)
        if tc.account_id_path:
            set_path(body, tc.account_id_path, "mock_account")
        satisfy(body, tc.success.body if tc.success else [])
        status = 200
        if tc.success and tc.success.status:
            first = tc.success.status[0]
            status = first if isinstance(first, int) else int(first[0]) * 100
        return self._json(status, body)

    def _answer(
        self,
        route: Route,
        path_params: dict[str, str],
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
        url: httpx.URL,
    ) -> Reply:
        action = route.action
        spec = self.spec
        auth_names = {
            p.name
            for v in spec.auth
            if isinstance(v, ApiKeyAuth) and v.in_ == "query"
            for p in v.params
        }
        plain_query = [(k, v) for k, v in query if k != _PAGE_PARAM and k not in auth_names]
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if action.mock and action.mock.encodings and action.body is None and body:
            # The vendor reads this action's input from the query, a form or JSON alike.
            extra = _as_pairs(body, content_type, action.mock.encodings)
            query = [*query, *extra]
            plain_query = [*plain_query, *[(k, v) for k, v in extra if k not in auth_names]]
            body, content_type = b"", ""
        elif (
            action.mock
            and "form" in action.mock.encodings
            and action.body is not None
            and action.body.encoding == "json"
            and "application/x-www-form-urlencoded" in content_type
        ):
            body = json.dumps(form_as_object(body, action.body.schema_, spec.defs)).encode()
            content_type = "application/json"
        pag = action.pagination
        if route.continuation:
            assert isinstance(pag, ContinueEndpointPagination)
            cursor = json.loads(body or b"{}").get(pag.cursor_field, "")
            return self._page(action, {}, _offset_of(str(cursor)), url)
        try:
            data = decode_input(
                action, path_params, plain_query, headers, body, content_type, spec.defs
            )
        except (ValueError, UnicodeDecodeError):
            return self._error("validation", "the request body could not be decoded")
        for name in _pager_params(action):
            data.pop(name, None)
        try:
            self._checks[action.name].check(data)
        except ValidationFailed as exc:
            where = (exc.pointer or "/").lstrip("/").replace("/", ".") or "input"
            return self._error("validation", f"{where}: {exc.message}")
        # Fixtures keep the vendor's path; under ``mock serve`` the request path also carries
        # the connector's mount ("/stripe/v1/..."), which the vendor never sees.
        vendor_path = self._vendor_path(url)
        form_or_json = decode_body(body, content_type)
        for fixture in self._fixtures.get(action.name, []):
            if matches(
                fixture, route.method, vendor_path, multi(query), form_or_json
            ) and _same_position(fixture, action, multi(query), form_or_json):
                self.fixture_hits += 1
                res = fixture.response
                return Reply(res.status, *res.wire())
        if action.resource is not None and action.resource.op != "list":
            return self._resource(action, action.resource, data, url)
        if pag is not None:
            origin = self._continued(action)
            if origin is not None and isinstance(pag, ContinueEndpointPagination):
                # A continue endpoint declared as an action (Dropbox's list_folder/continue)
                # goes on with the listing its cursor came from: later pages, or later changes.
                cursor = decode_body(body, content_type) or {}
                return self._page(origin, {}, _offset_of(str(cursor.get(pag.cursor_field))), url)
            offset = self._start(action, query, body, content_type)
            return self._page(
                action, data, offset, url, query=query, body=body, content_type=content_type
            )
        return self._rest(action, path_params, data, url)

    def _ok(self, action: Action, body: Any, headers: dict[str, str] | None = None) -> Reply:
        """A success reply with the vendor's status for the action (201, 204, else 200)."""
        status = action.mock.status if action.mock and action.mock.status else 200
        if status == 204:
            return Reply(204, dict(headers or {}), b"")
        return self._json(status, self._defuse(body), headers)

    def _vendor_path(self, url: httpx.URL) -> str:
        """The request path as the vendor sees it (the mount under ``mock serve`` removed)."""
        path = url.path
        mount = self.options.mount.rstrip("/")
        return path[len(mount) :] if mount and path.startswith(mount + "/") else path

    def _context(
        self, url: httpx.URL, data: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """What a ``mock.fields`` template can name: input, path parameters, where we are."""
        base = self._origin + self.options.mount.rstrip("/") + self.router.base_path
        return {
            **self.options.variables,
            **{k: v for k, v in data.items() if isinstance(v, str | int | float | bool)},
            "_origin": self._origin + self.options.mount.rstrip("/"),
            "_base": base,
            "_path": self._vendor_path(url),
            **(extra or {}),
        }

    def _apply_fields(self, action: Action, target: Any, context: dict[str, Any]) -> None:
        """Fill the fields the spec derives from the request (``full_name`` from owner/repo)."""
        if not isinstance(target, dict) or action.mock is None:
            return
        # In a URL every value the request gave is one percent-encoded segment, as the
        # vendor's would be; where we are (_origin, _base, _path) is a URL already.
        in_url = {
            k: quote(v, safe="") if isinstance(v, str) and not k.startswith("_") else v
            for k, v in context.items()
        }
        for path, template in action.mock.fields.items():
            url_like = template.startswith(("http://", "https://", "/", "{_"))
            value = _render_value(template, in_url if url_like else context)
            if value is not MISSING:
                set_path(target, path, value)

    def _shape_new(
        self, action: Action, schema: dict[str, Any], data: dict[str, Any], *, initial: bool = True
    ) -> dict[str, Any]:
        """What a create keeps of its input: the fields named alike, the declared renames,
        list items expanded to the output's object shape, and the vendor's initial values."""
        kept = self._echo(schema, data)
        spec = action.mock
        if spec is None:
            return kept
        for name, path in spec.echo.items():
            if name in data:
                set_path(kept, path, data[name])
        props = schema.get("properties", {})
        for name, key in spec.expand.items():
            items = data.get(name)
            sub = props.get(name)
            if not isinstance(items, list) or not isinstance(sub, dict):
                continue
            item_schema = resolve_schema(sub, self.spec.defs).get("items", {})
            shaped = []
            for n, item in enumerate(items):
                if isinstance(item, dict):
                    shaped.append(item)
                    continue
                made = self._synthesized(item_schema, f"{action.name}:{name}:{n}")
                made = made if isinstance(made, dict) else {}
                made[key] = item
                shaped.append(made)
            kept[name] = shaped
        for path, value in spec.initial.items() if initial else ():
            set_path(kept, path, copy.deepcopy(value))
        return kept

    def _continued(self, action: Action) -> Action | None:
        """The listing action whose continue endpoint ``action`` is, if any."""
        for other in self.spec.actions:
            pag = other.pagination
            if (
                other is not action
                and isinstance(pag, ContinueEndpointPagination)
                and pag.continue_path == action.path
                and pag.continue_method == action.method
            ):
                return other
        return None

    # ----------------------------------------------------------------------------- resources

    def _collection(self, action: Action) -> tuple[str, bool]:
        """The collection template an action works on, and whether it names one item."""
        names = re.findall(r"\{([^{}]+)\}", action.path)
        if names and action.path.endswith("{" + names[-1] + "}"):
            return action.path[: action.path.rindex("/")], True
        return action.path, False

    def _item_action(self, collection: str) -> Action | None:
        """The action addressing one item of ``collection`` (``GET /customers/{id}``)."""
        items = [a for a in self.spec.actions if self._collection(a) == (collection, True)]
        return next((a for a in items if a.method == "GET"), items[0] if items else None)

    def _id_field(self, action: Action, schema: dict[str, Any] | None) -> str:
        names = re.findall(r"\{([^{}]+)\}", action.path)
        props = (schema or {}).get("properties", {})
        if names:
            last: str = names[-1]
            if last in props:
                return last
            if last.endswith("_number") and "number" in props:
                return "number"
        return "id"

    def _result_schema(self, action: Action) -> dict[str, Any] | None:
        output = action.output
        if not output.schema_:
            return None
        return schema_at_path(output.schema_, output.result_path, self.spec.defs)

    def _echo(self, schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
        """Input values the resource keeps: only those its output schema allows as they are."""
        props = (schema or {}).get("properties", {})
        out = {}
        for key, value in data.items():
            sub = props.get(key)
            if isinstance(sub, dict):
                validator = Draft202012Validator({**sub, "$defs": self.spec.defs})
                if validator.is_valid(value):
                    out[key] = value
        return out

    def _drop_pointer(self, action: Action, envelope: dict[str, Any], path: str) -> None:
        """Remove a "next page" pointer on the last page the way vendors do: the whole optional
        block that carries it (HubSpot drops ``paging``), else just the pointer."""
        schema = resolve_schema(action.output.schema_, self.spec.defs)
        head = path.split(".", 1)[0].split("[", 1)[0]
        if "." in path and head not in schema.get("required", []):
            envelope.pop(head, None)
        else:
            remove_path(envelope, path)

    def _defuse(self, body: Any) -> Any:
        """Make a synthesized *success* body match none of the spec's error rules (a random
        ``success: false`` would make Pipedrive's client see an error)."""
        headers = httpx.Headers()
        for rule in self.spec.errors.rules:
            if not match_holds(rule.when, 200, headers, body):
                continue
            for cond in rule.when.body:
                if "equals" in cond.model_fields_set and isinstance(cond.equals, bool):
                    set_path(body, cond.path, not cond.equals)
                    break
                if cond.model_fields_set & {"equals", "in_", "exists"}:
                    remove_path(body, cond.path)
                    break
        return body

    def _wrap(self, action: Action, result: Any) -> Any:
        """Put a result back at the action's result path inside a synthesized envelope."""
        path = action.output.result_path
        if not path:
            return result
        envelope = self._synthesized(action.output.schema_, action.name)
        if not isinstance(envelope, dict):
            envelope = {}
        set_path(envelope, path, result)
        return envelope

    def _synthesized(self, schema: Any, key: str) -> Any:
        """Synthesized data for ``schema`` under ``key``: made once, then a fresh copy each time
        (a JSON round trip is the cheapest deep copy; callers mutate what they get)."""
        cache_key = (id(schema), key)
        text = self._synth_cache.get(cache_key)
        if text is None:
            value = synthesize(schema, self.spec.defs, rng_for(self.options.seed, key))
            text = self._synth_cache[cache_key] = json.dumps(value)
        return json.loads(text)

    def _rest(
        self, action: Action, path_params: dict[str, str], data: dict[str, Any], url: httpx.URL
    ) -> Reply:
        if action.output.format != "json":
            return Reply(200, {"Content-Type": "application/octet-stream"}, b"mock content")
        schema = self._result_schema(action)
        key = f"{action.name}:{url.path}"
        collection, is_item = self._collection(action)
        concrete = render(
            collection, {**self.options.variables, **path_params}, missing=lambda n: KeyError(n)
        )
        id_field = self._id_field(action, schema)
        store = self.store.setdefault(concrete, {})
        gone = self.deleted.setdefault(concrete, set())
        context = self._context(url, {**data, **path_params})
        if is_item:
            item_id = path_params[re.findall(r"\{([^{}]+)\}", action.path)[-1]]
            if item_id in gone:
                return self._error(
                    "not_found",
                    f"no such resource: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            current = store.get(item_id)
            if current is None and not self._known(action, collection, data, item_id, id_field):
                return self._error(
                    "not_found",
                    f"no such resource: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            if current is None:
                current = self._synthesized(schema, key) if schema else {}
                if isinstance(current, dict):
                    current[id_field] = _typed_id(item_id, schema, id_field)
                    self._apply_fields(action, current, {**context, "_id": item_id})
            if action.method == "DELETE":
                gone.add(item_id)
                store.pop(item_id, None)
                # Answer in the delete action's own shape (Stripe's {id, deleted: true}).
                receipt = self._synthesized(schema, key) if schema else {}
                if isinstance(receipt, dict):
                    receipt[id_field] = _typed_id(item_id, schema, id_field)
                return self._ok(action, self._wrap(action, receipt))
            if action.method in ("POST", "PUT", "PATCH") and isinstance(current, dict):
                current.update(self._echo(schema, data))
                store[item_id] = current
            return self._ok(action, self._wrap(action, current))
        result = self._synthesized(schema, key) if schema else {}
        item_action = self._item_action(collection)
        if action.method == "POST" and isinstance(result, dict) and schema:
            # The id lives where the item route reads it (GitHub's issue_number is "number").
            if item_action is not None:
                id_field = self._id_field(item_action, schema)
            number = self._issued[concrete] = self._issued.get(concrete, 0) + 1
            result.update(self._shape_new(action, schema, data))
            if id_field in schema.get("properties", {}) or item_action is not None:
                result[id_field] = self._fresh_id(schema, id_field, number, store)
                store[str(result[id_field])] = result
            self._apply_fields(action, result, {**context, "_id": result.get(id_field)})
        return self._ok(action, self._wrap(action, result))

    def _fresh_id(
        self, schema: dict[str, Any], id_field: str, number: int, taken: dict[str, Any]
    ) -> Any:
        """A new id never handed out before in this store, of the id's declared pattern."""
        sub = schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" in sub:
            # Numbered apart from the synthetic list items' ids (positions 1..records).
            made = from_pattern(sub["pattern"], _FRESH_BASE + number)
            if made is not None and re.search(sub["pattern"], made) and made not in taken:
                return made
            for attempt in range(20):
                value = synthesize(sub, self.spec.defs, rng_for(number, f"id:{attempt}"))
                if str(value) not in taken:
                    return value
        # Integer ids count on from the synthetic list items' (1..records).
        return _typed_id(f"mock_{number}", schema, id_field, self.options.records + number)

    def _known(
        self, action: Action, collection: str, data: dict[str, Any], item_id: str, id_key: str
    ) -> bool:
        """Whether an id the store never made exists at the vendor: always, unless the spec says
        unknown ids are not found; then only the ids the collection's list shows."""
        if action.mock is None or action.mock.unknown_ids != "not_found":
            return True
        lister = next(
            (
                a
                for a in self.spec.actions
                if a.method == "GET"
                and a.pagination is not None
                and self._collection(a) == (collection, False)
            ),
            None,
        )
        if lister is None:
            return False
        return item_id in self._synthetic_ids(lister, id_key)

    def _synthetic_ids(self, lister: Action, id_key: str) -> frozenset[str]:
        """The ids of a list action's synthetic items (made once: they depend on nothing else)."""
        key = (lister.name, id_key)
        found = self._known_ids.get(key)
        if found is None:
            items = self._dataset(lister, {})
            found = frozenset(str(i.get(id_key)) for i in items if isinstance(i, dict))
            self._known_ids[key] = found
        return found

    # ---------------------------------------------------------------------------------- pages

    def _resource(
        self, action: Action, effect: ResourceEffect, data: dict[str, Any], url: httpx.URL
    ) -> Reply:
        """Create, read, change or delete one item of the resource the spec names: state for
        APIs whose paths do not show it (RPC methods, ids with a suffix). Items are found by id
        alone; the partitions they were created in (a channel, a board) only filter lists."""
        key = f"resource:{effect.name}"
        store = self.store.setdefault(key, {})
        gone = self.deleted.setdefault(key, set())
        schema = self._result_schema(action) or {}
        item_schema = schema_at_path(schema, effect.item_path, self.spec.defs) or {}
        item_schema = resolve_schema(item_schema, self.spec.defs)
        id_field = effect.id_field or effect.id or "id"
        if effect.op == "create":
            number = self._issued[key] = self._issued.get(key, len(store) + len(gone)) + 1
            item = self._synthesized(item_schema, f"{action.name}:{number}")
            item = item if isinstance(item, dict) else {}
            item.update(self._shape_new(action, item_schema, data))
            item[id_field] = self._new_id(effect, item_schema, number, store)
            self._apply_fields(action, item, self._context(url, data, {"_id": item[id_field]}))
            item_id = str(item[id_field])
            store[item_id] = item
            self.partitions[(key, item_id)] = _partition(effect, data)
        else:
            item_id = str(data.get(effect.id or "", ""))
            found = store.get(item_id)
            if item_id in gone or (
                found is None
                and action.mock is not None
                and action.mock.unknown_ids == "not_found"
                and not self._listed_id(effect, item_id)
            ):
                return self._error(
                    "not_found",
                    f"no such {effect.name}: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            if found is None:  # any id exists until deleted, as with REST paths
                found = self._synthesized(item_schema, f"{action.name}:{item_id}")
                found = found if isinstance(found, dict) else {}
                found[id_field] = _typed_id(item_id, item_schema, id_field)
            item = found
            if effect.op == "update":
                # Object fields merge (HubSpot's properties not sent keep their values).
                for name, value in self._shape_new(action, item_schema, data).items():
                    old = item.get(name)
                    item[name] = (
                        {**old, **value}
                        if isinstance(old, dict) and isinstance(value, dict)
                        else value
                    )
                store[item_id] = item
            elif effect.op == "delete":
                gone.add(item_id)
                store.pop(item_id, None)
        result: Any = item
        if effect.item_path or effect.op == "delete":
            # The item inside the response (Slack's message), or a delete's receipt; top-level
            # fields named like the id or a scope input carry their values (Slack's channel, ts).
            result = self._synthesized(schema, action.name)
            result = result if isinstance(result, dict) else {}
            if effect.item_path:
                set_path(result, effect.item_path, item)
            props = schema.get("properties", {})
            if id_field in props and id_field in item:
                result[id_field] = item[id_field]
            for name in effect.scope.values():
                if name in props and name in data:
                    result[name] = data[name]
        return self._ok(action, self._wrap(action, result))

    def _listed_id(self, effect: ResourceEffect, item_id: str) -> bool:
        """Whether the resource's list action shows an item with this id (a synthetic one)."""
        id_field = effect.id_field or effect.id or "id"
        for other in self.spec.actions:
            mine = other.resource
            if mine is not None and mine.name == effect.name and mine.op == "list":
                return item_id in self._synthetic_ids(other, id_field)
        return False

    def _new_id(
        self,
        effect: ResourceEffect,
        item_schema: dict[str, Any],
        number: int,
        taken: dict[str, Any],
    ) -> Any:
        """A fresh id valid where it will be used: the item's id field, or the input that names
        the item in a sibling action (Slack's ts looks like 1503435956.000247, a Twilio sid
        like SM + 32 hex digits)."""
        id_field = effect.id_field or effect.id or "id"
        sub = item_schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" not in sub and "format" not in sub:
            for other in self.spec.actions:
                mine = other.resource
                if mine is not None and mine.name == effect.name and mine.id is not None:
                    named = input_schema(other, self.spec.defs)["properties"].get(mine.id, {})
                    if "pattern" in named or "format" in named:
                        sub = resolve_schema(named, self.spec.defs)
                        break
        if "pattern" in sub or "format" in sub:
            for attempt in range(20):
                value = synthesize(sub, self.spec.defs, rng_for(number, f"id:{attempt}"))
                if str(value) not in taken:
                    return value
        return _typed_id(f"mock_{number}", item_schema, id_field, number)

    def _listed(self, effect: ResourceEffect, data: dict[str, Any]) -> list[Any]:
        """Stored items of a resource in the partition a list asks for."""
        key = f"resource:{effect.name}"
        wanted = _partition(effect, data)
        gone = self.deleted.get(key, set())
        out = []
        for item_id, item in self.store.get(key, {}).items():
            made_in = self.partitions.get((key, item_id), {})
            if item_id not in gone and all(
                made_in.get(part, value) == value for part, value in wanted.items()
            ):
                out.append(item)
        return out[::-1]  # newest first, as lists of new records usually are

    def _dataset(self, action: Action, data: dict[str, Any]) -> list[Any]:
        pag = action.pagination
        assert pag is not None
        items_schema = schema_at_path(action.output.schema_, pag.items_path, self.spec.defs)
        raw_item = (items_schema or {}).get("items", {})
        item_schema = resolve_schema(raw_item, self.spec.defs) if isinstance(raw_item, dict) else {}
        collection, _ = self._collection(action)
        item_action = self._item_action(collection)
        id_field = self._id_field(item_action, item_schema) if item_action is not None else "id"
        try:
            concrete = render(
                collection, {**self.options.variables, **{k: str(v) for k, v in data.items()}}
            )
        except KeyError:
            concrete = collection
        stored = [
            v
            for k, v in self.store.get(concrete, {}).items()
            if k not in self.deleted.get(concrete, set())
        ]
        if action.resource is not None:  # the spec says which resource this lists
            stored = self._listed(action.resource, data)
        # Records a trigger polls look like the ones it wants (GitHub issues, not pull requests):
        # synthesized fields a trigger's conditions exclude are left out, stored ones included.
        wanted = [c for t in self.spec.triggers.polling if t.action == action.name for c in t.where]
        if wanted:
            stored = [copy.deepcopy(v) for v in stored]
            for item in stored:
                if isinstance(item, dict):
                    satisfy(item, wanted)
        filters = action.mock.filters if action.mock else {}
        # An absent filter takes its documented default, as at the vendor (GitHub: state=open).
        defaults = {
            p.name: resolve_schema(p.schema_, self.spec.defs).get("default")
            for p in action.parameters
            if p.name in filters
        }
        asked = {
            name: data[name] if name in data else defaults.get(name)
            for name in filters
            if name in data or defaults.get(name) is not None
        }
        wanted_values = {
            path: asked[name]
            for name, path in filters.items()
            if name in asked and self._can_hold(item_schema, path, asked[name])
        }
        synthetic = []
        for n in range(self.options.records):
            item = self._synthesized(item_schema, f"{action.name}:{n}")
            if isinstance(item, dict) and id_field in item_schema.get("properties", {}):
                item[id_field] = self._listed_item_id(action, item_schema, id_field, n)
            if isinstance(item, dict):
                satisfy(item, wanted)
            synthetic.append(item)
        if wanted_values:
            # The vendor's filters: only items whose field equals what the list asked for.
            return [
                i
                for i in stored + synthetic
                if all(get_path(i, p, MISSING) == v for p, v in wanted_values.items())
            ]
        return stored + synthetic

    def _can_hold(self, item_schema: dict[str, Any], path: str, value: Any) -> bool:
        """Whether an item's field may take ``value``: a filter value outside the field's enum
        (GitHub's ``state=all``) selects everything, as the vendor's does."""
        sub = schema_at_path(item_schema, path, self.spec.defs)
        enum = resolve_schema(sub, self.spec.defs).get("enum") if isinstance(sub, dict) else None
        return not isinstance(enum, list) or value in enum

    def _listed_item_id(
        self, action: Action, item_schema: dict[str, Any], id_field: str, n: int
    ) -> Any:
        """A synthetic item's id: distinct per position, of the declared pattern if any."""
        key = (action.name, id_field, n)
        if key not in self._item_ids:
            self._item_ids[key] = self._make_item_id(item_schema, id_field, n)
        return self._item_ids[key]

    def _make_item_id(self, item_schema: dict[str, Any], id_field: str, n: int) -> Any:
        sub = item_schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" in sub:
            value = from_pattern(sub["pattern"], n + 1)
            if value is not None and re.search(sub["pattern"], value):
                return value
        return _typed_id(f"mock_item_{n}", item_schema, id_field, n + 1)

    def _page_size(
        self, action: Action, query: list[tuple[str, str]], body: bytes, content_type: str
    ) -> int:
        pag = action.pagination
        assert pag is not None
        size = pag.page_size
        default = (size.default if size and size.default else None) or 10
        if size is None:
            return default
        raw = dict(query).get(size.param)
        if raw is None and size.in_ == "body":
            raw = _body_fields(body, content_type).get(size.param)
            raw = raw[0] if isinstance(raw, list) else raw
        try:
            value = int(raw) if raw is not None else default
        except (TypeError, ValueError):
            value = default
        return max(1, min(value, size.max or value))

    def _start(
        self, action: Action, query: list[tuple[str, str]], body: bytes, content_type: str
    ) -> int:
        pag = action.pagination
        params = dict(query)
        fields = _body_fields(body, content_type)

        def value(name: str, where: str) -> Any:
            raw = fields.get(name) if where == "body" else params.get(name)
            return raw[0] if isinstance(raw, list) else raw

        if _PAGE_PARAM in params:
            return int(params[_PAGE_PARAM])
        page_param = action.mock.page_param if action.mock else None
        if page_param and not isinstance(pag, PagePagination):
            raw = params.get(page_param)
            page = int(raw) if raw is not None and raw.isdigit() else 1
            return (max(page, 1) - 1) * self._page_size(action, query, body, content_type)
        if isinstance(pag, CursorPagination):
            cursor = value(pag.cursor_param, pag.cursor_in)
            if cursor is None:
                return 0
            if pag.cursor_from_last_item is not None:
                return -1 if cursor == "" else _after_id(self, action, str(cursor))
            return _offset_of(str(cursor))
        if isinstance(pag, OffsetPagination):
            raw = value(pag.offset_param, pag.param_in)
            return int(raw) if raw is not None else pag.start
        if isinstance(pag, PagePagination):
            raw = value(pag.page_param, pag.param_in)
            page = int(raw) if raw is not None else pag.start
            return (page - pag.start) * self._page_size(action, query, body, content_type)
        return 0

    def _page(
        self,
        action: Action,
        data: dict[str, Any],
        offset: int,
        url: httpx.URL,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str = "",
    ) -> Reply:
        pag = action.pagination
        assert pag is not None
        items = self._dataset(action, data)
        size = self._page_size(action, query or [], body, content_type)
        offset = max(offset, 0)
        chunk = items[offset : offset + size]
        nxt = offset + size
        more = nxt < len(items)
        envelope = self._synthesized(action.output.schema_, action.name)
        if pag.items_path == "":
            envelope = chunk
        else:
            if not isinstance(envelope, dict):
                envelope = {}
            set_path(envelope, pag.items_path, chunk)
        headers: dict[str, str] = {}
        if isinstance(envelope, dict):
            if pag.has_more_path:
                set_path(envelope, pag.has_more_path, more)
            # On the last page the "next" pointer is absent (Slack: an empty string).
            if isinstance(pag, CursorPagination) and pag.next_cursor_path:
                if more:
                    set_path(envelope, pag.next_cursor_path, f"mock-cursor-{nxt}")
                elif not pag.stop_on_empty_page:
                    set_path(envelope, pag.next_cursor_path, "")
                else:
                    self._drop_pointer(action, envelope, pag.next_cursor_path)
            if isinstance(pag, OffsetPagination):
                if pag.next_offset_path and more:
                    set_path(envelope, pag.next_offset_path, nxt)
                elif pag.next_offset_path:
                    self._drop_pointer(action, envelope, pag.next_offset_path)
                if pag.total_path:
                    set_path(envelope, pag.total_path, len(items))
            if isinstance(pag, PagePagination) and pag.total_pages_path:
                set_path(envelope, pag.total_pages_path, max(1, -(-len(items) // size)))
            if isinstance(pag, NextUrlPagination):
                if more:
                    set_path(envelope, pag.next_url_path, self._page_url(action, url, nxt, size))
                else:
                    self._drop_pointer(action, envelope, pag.next_url_path)
            if action.mock and action.mock.fields:
                page_context: dict[str, Any] = {
                    "_page": offset // size,
                    "_page_number": offset // size + 1,
                    "_page_size": size,
                    "_total": len(items),
                }
                wanted = "".join(action.mock.fields.values())
                # URLs only when a template names them (building them costs per request).
                for name, at in (("_first", 0), ("_uri", offset), ("_next", nxt)):
                    if "{" + name + "}" in wanted and (name != "_next" or more):
                        page_context[name] = self._page_url(action, url, at, size)
                self._apply_fields(action, envelope, self._context(url, data, page_context))
            envelope = self._defuse(envelope)
            if isinstance(pag, ContinueEndpointPagination):
                # After the last page the cursor marks the end: later records come after it.
                set_path(envelope, pag.cursor_path, f"mock-cursor-{min(nxt, len(items))}")
        if isinstance(pag, LinkHeaderPagination):
            links = self._links(action, url, offset, size, len(items))
            if links:
                headers["Link"] = links
        return self._ok(action, envelope, headers)

    def _page_url(self, action: Action, url: httpx.URL, offset: int, size: int) -> str:
        """The URL of the page at ``offset``, in the vendor's form: its own page-number
        parameter, and relative (the vendor's path) or absolute (this mock's URL)."""
        spec = action.mock
        if spec is not None and spec.page_param:
            params = [
                (k, v)
                for k, v in url.params.multi_items()
                if k not in (_PAGE_PARAM, spec.page_param)
            ]
            params.append((spec.page_param, str(offset // size + 1)))
            full = str(url.copy_with(query=urlencode(params).encode()))
        else:
            full = _with_page(url, offset)
        if spec is not None and spec.next_url == "relative":
            target = httpx.URL(full)
            query = target.query.decode()
            return self._vendor_path(target) + (f"?{query}" if query else "")
        return full

    def _links(self, action: Action, url: httpx.URL, offset: int, size: int, total: int) -> str:
        """A ``Link`` header with the relations the vendor sends (next only, by default)."""
        pag = action.pagination
        assert isinstance(pag, LinkHeaderPagination)
        rels = (action.mock.link_rels if action.mock else []) or [pag.rel]
        last = max(0, (total - 1) // size * size)
        targets = {
            "next": offset + size if offset + size < total else None,
            "prev": offset - size if offset > 0 else None,
            "first": 0 if offset > 0 else None,
            "last": last if offset < last else None,
        }
        targets[pag.rel] = targets["next"]
        parts = [
            f'<{self._page_url(action, url, at, size)}>; rel="{rel}"'
            for rel in rels
            if (at := targets.get(rel)) is not None
        ]
        return ", ".join(parts)

    # ------------------------------------------------------------------------------- serving

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An ``httpx.MockTransport`` handler: time is virtual, a slow reply is a timeout."""
        request.read()
        reply = self.handle(request.method, request.url, dict(request.headers), request.content)
        timeout = request.extensions.get("timeout", {}).get("read")
        if reply.delay and timeout is not None and reply.delay > timeout:
            raise httpx.ReadTimeout("the mock answered too slowly", request=request)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point (for ``httpx.ASGITransport`` and uvicorn); delays really wait."""
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        # Keep the path as sent (percent-encoded): Starlette's url is built from the decoded one.
        raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
        query: bytes = scope.get("query_string", b"")
        origin = httpx.URL(str(request.url.replace(path="/", query="")))
        url = origin.copy_with(raw_path=raw_path + (b"?" + query if query else b""))
        reply = self.handle(request.method, url, dict(request.headers), body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        await Response(reply.content, status_code=reply.status, headers=reply.headers)(
            scope, receive, send
        )

    def local_base_url(self, origin: str) -> str:
        """Where a client should send this connector's requests on a server at ``origin``."""
        base = self.router.base_path
        return origin.rstrip("/") + self.options.mount.rstrip("/") + base

    def reset(self) -> None:
        self.requests.clear()
        self.store.clear()
        self.deleted.clear()
        self.partitions.clear()


def _rule_status(rule: Any, code: str) -> int:
    """The status a rule's own conditions allow, preferring the code's usual one."""
    wanted = STATUS_FOR_CODE.get(code, 400)
    allowed = rule.when.status
    if not allowed or wanted in allowed:
        return wanted if allowed else 200
    first = allowed[0]
    return first if isinstance(first, int) else int(first[0]) * 100


def _fill(value: Any, values: dict[str, str]) -> Any:
    """``{name}`` placeholders in every string of a declared body, filled in."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _as_pairs(body: bytes, content_type: str, encodings: Sequence[str]) -> list[tuple[str, str]]:
    """A form or JSON body's fields as query pairs (nested JSON stays JSON text)."""
    if "form" in encodings and "application/x-www-form-urlencoded" in content_type:
        return parse_qsl(body.decode(), keep_blank_values=True)
    if "json" in encodings and "json" in content_type:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            return [
                (k, v if isinstance(v, str) else json.dumps(v))
                for k, v in decoded.items()
                if v is not None
            ]
    return []


def _render_value(template: str, context: dict[str, Any]) -> Any:
    """A ``mock.fields`` template filled in; one bare placeholder keeps its value's type;
    MISSING when a name is unknown (the field then keeps what it had)."""
    whole = re.fullmatch(r"\{([\w.]+)\}", template)
    if whole:
        return context.get(whole.group(1), MISSING)
    names = re.findall(r"\{([\w.]+)\}", template)
    if any(n not in context for n in names):
        return MISSING
    return re.sub(r"\{([\w.]+)\}", lambda m: str(context[m.group(1)]), template)


def _after_prefix(sent: str, prefixes: list[str]) -> str | None:
    """What follows the first of ``prefixes`` that ``sent`` starts with (case-insensitively,
    as HTTP auth schemes are), or None."""
    for prefix in prefixes:
        if sent[: len(prefix)].lower() == prefix.lower():
            return sent[len(prefix) :]
    return None


def _basic_pair(header: str) -> tuple[str, str] | None:
    """The user and password of a Basic ``Authorization`` header."""
    encoded = _after_prefix(header, ["Basic "])
    if encoded is None:
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _fits(template: str, sent: str, values: dict[str, str], fields: dict[str, Any]) -> bool:
    """Whether a credential the client sent is one the mock takes: the printed fake, or, for a
    template that is one credential field with a declared pattern, any value of that shape
    (``sk_test_...``, ``xoxb-...``), as an SDK user's own test credential would be."""
    if sent == render(template, values):
        return True
    m = re.fullmatch(r"\{(\w+)\}", template)
    field_spec = fields.get(m.group(1)) if m else None
    pattern = getattr(field_spec, "pattern", None)
    return bool(sent) and isinstance(pattern, str) and re.search(pattern, sent) is not None


def _partition(effect: ResourceEffect, data: dict[str, Any]) -> dict[str, str]:
    """The partition values an action's input gives (a Slack channel, a Trello board)."""
    return {part: str(data[name]) for part, name in effect.scope.items() if name in data}


def _offset_of(cursor: str) -> int:
    m = re.fullmatch(r"mock-cursor-(\d+)", cursor)
    return int(m.group(1)) if m else 0


def _after_id(server: MockServer, action: Action, item_id: str) -> int:
    pag = action.pagination
    assert isinstance(pag, CursorPagination) and pag.cursor_from_last_item is not None
    for i, item in enumerate(server._dataset(action, {})):
        if str(get_path(item, pag.cursor_from_last_item, "")) == item_id:
            return i + 1
    return 0


def _with_page(url: httpx.URL, offset: int) -> str:
    params = [(k, v) for k, v in url.params.multi_items() if k != _PAGE_PARAM]
    params.append((_PAGE_PARAM, str(offset)))
    return str(url.copy_with(query=urlencode(params).encode()))


def _pager_params(action: Action) -> list[str]:
    pag = action.pagination
    names = [_PAGE_PARAM]
    if pag is None:
        return names
    declared = {p.name for p in action.parameters}
    if isinstance(pag, CursorPagination):
        names.append(pag.cursor_param)
    if isinstance(pag, OffsetPagination):
        names.append(pag.offset_param)
    if isinstance(pag, PagePagination):
        names.append(pag.page_param)
    if pag.page_size is not None:
        names.append(pag.page_size.param)
    if action.mock is not None and action.mock.page_param:
        names.append(action.mock.page_param)
    return [n for n in names if n not in declared]


def _same_position(
    fixture: Fixture, action: Action, query: dict[str, list[str]], body: Any
) -> bool:
    """Whether ``fixture`` answers the same page: a recorded first page (no cursor) must not
    answer a request for a later one, or an SDK's auto-pager would be handed page one forever.
    A position the fixture leaves out is the first page (no cursor, the offset or page start),
    which a client may also send explicitly."""
    pag = action.pagination
    if pag is None:
        return True
    first: dict[str, list[str]] = {_PAGE_PARAM: []}
    if isinstance(pag, CursorPagination):
        first[pag.cursor_param] = []
    if isinstance(pag, OffsetPagination):
        first[pag.offset_param] = [str(pag.start)]
    if isinstance(pag, PagePagination):
        first[pag.page_param] = [str(pag.start)]
    if action.mock is not None and action.mock.page_param:
        first.setdefault(action.mock.page_param, [])
    req = fixture.request
    fixture_body = req.body if isinstance(req.body, dict) else {}
    sent_body = body if isinstance(body, dict) else {}
    for name, start in first.items():
        for recorded, sent in (
            (req.query.get(name), query.get(name)),
            (fixture_body.get(name), sent_body.get(name)),
        ):
            want = _as_values(recorded)
            got = _as_values(sent)
            if want != got and not (not want and got in ([], [""], start)):
                return False
    return True


def _as_values(value: Any) -> list[str]:
    """A query or body value as the list of strings it was sent as (absent: none)."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """The body's top-level fields, when it has any (a JSON object or a form)."""
    decoded = decode_body(body, content_type)
    return decoded if isinstance(decoded, dict) else {}


def satisfy(body: dict[str, Any], conditions: list[Condition]) -> None:
    """Make ``body`` meet the conditions it can be made to meet (equals, in, exists)."""
    for cond in conditions:
        fields = cond.model_fields_set
        if "equals" in fields:
            set_path(body, cond.path, cond.equals)
        elif "in_" in fields and cond.in_:
            set_path(body, cond.path, cond.in_[0])
        elif "exists" in fields and not cond.exists:
            remove_path(body, cond.path)
        elif cond.exists and get_path(body, cond.path) is MISSING:
            set_path(body, cond.path, "present")


def _typed_id(value: str, schema: Any, id_field: str, number: int | None = None) -> Any:
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    kind = props.get(id_field, {}).get("type") if isinstance(props.get(id_field), dict) else None
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        digits = re.sub(r"\D", "", value)
        return number if number is not None else int(digits or 0)
    return value


class MountedMocks:
    """Several connectors' mocks on one ASGI app, each under its own path prefix."""

    def __init__(self, servers: list[MockServer]) -> None:
        self.servers = sorted(servers, key=lambda s: -len(s.options.mount))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        for server in self.servers:
            mount = server.options.mount.rstrip("/")
            if path == mount or path.startswith(mount + "/"):
                await server.app(scope, receive, send)
                return
        await Response(b'{"message": "no connector is mounted here"}', status_code=404)(
            scope, receive, send
        )
