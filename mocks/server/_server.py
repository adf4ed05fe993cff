"""The mock server: one core (:meth:`MockServer.handle`) served as a transport or ASGI."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from patchbay.mocks.golden import decode_body, matches, multi
from patchbay.mocks.request_parsing import decode_input, form_as_object
from patchbay.mocks.routing import Route
from patchbay.mocks.server._auth import _Auth
from patchbay.mocks.server._helpers import (
    _offset_of,
    _pager_params,
    _same_position,
    input_pairs,
    satisfy,
)
from patchbay.mocks.server._options import (
    _PAGE_PARAM,
    MOCK_ACCOUNT_LABEL,
    SCENARIO_HEADER,
    SCENARIOS,
    RecordedRequest,
    Reply,
)
from patchbay.mocks.server._pages import _Pages
from patchbay.mocks.vendor_errors import set_path
from patchbay.runtime.errors import ValidationFailed
from patchbay.runtime.spec import (
    Action,
    ApiKeyAuth,
    ContinueEndpointPagination,
)


class MockServer(_Auth, _Pages):
    """A mock of one connector, built from its spec alone."""

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
            extra = input_pairs(body, content_type, action.mock.encodings)
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
                return self._recorded(fixture.response)
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
