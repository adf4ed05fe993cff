"""The spec compiled for one connection: plans, and the flows both executors drive."""

from __future__ import annotations

import difflib
import logging
import time
import uuid
from collections.abc import (
    Callable,
    Mapping,
)
from typing import TYPE_CHECKING, Any

import httpx

from patchbay.runtime.errors import (
    BadResponse,
    ConfigError,
    NetworkError,
    PatchbayError,
    RateLimited,
    Timeout,
    ValidationFailed,
    describe_unexpected,
)
from patchbay.runtime.http._auth import AuthInjector, build_auth
from patchbay.runtime.http._budget import RequestBudget
from patchbay.runtime.http._connection import (
    Connection,
    render_base_url,
    render_config,
    render_path,
    resolve_variables,
)
from patchbay.runtime.http._error_mapping import ErrorMapper, match_holds
from patchbay.runtime.http._flow import (
    AcquireToken,
    Cut,
    Emit,
    Flow,
    Send,
    Sleep,
)
from patchbay.runtime.http._limits import (
    JSONTooDeep,
    loads_json,
)
from patchbay.runtime.http._options import (
    NO_OPTIONS,
    USER_AGENT,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    Page,
    timeout_table,
)
from patchbay.runtime.http._pagination import PageWalker
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._plan import ActionPlan
from patchbay.runtime.http._redaction import Redactor
from patchbay.runtime.http._requests import RequestParts
from patchbay.runtime.http._retry import RetryPolicy
from patchbay.runtime.observability import log_event, logger, metric_method, metrics_for
from patchbay.runtime.spec._model import IDEMPOTENT_METHODS, Action, Body, ConnectorSpec

if TYPE_CHECKING:
    pass


class ExecutorCore:
    """A spec compiled for one connection; produces the flows both executors drive."""

    def __init__(
        self,
        spec: ConnectorSpec,
        connection: Connection,
        *,
        base_url: str | None = None,
        options: ExecutorOptions | None = None,
    ) -> None:
        if connection.connector != spec.name:
            raise ConfigError(
                f"connection is for {connection.connector!r}, spec is {spec.name!r}",
                connector=spec.name,
            )
        self.spec = spec
        self.connection = connection
        self.options = options or ExecutorOptions()
        self.base_url_override = base_url.rstrip("/") if base_url else None
        self.variables = resolve_variables(spec, connection)
        self.auth: AuthInjector = build_auth(spec, connection, self.variables)
        self.redactor = Redactor(
            (*connection.secret_values(spec), *self.auth.secrets),
            headers=self.auth.sensitive_headers,
            params=self.auth.sensitive_params,
        )
        self.mapper = ErrorMapper(spec, redact=self.redactor.text, clock=self.options.clock)
        self.metrics = metrics_for(self.options.metrics_registry)
        self._timeouts = timeout_table(self.options.timeout)
        budget = spec.rate_limits.budget
        self.budget = RequestBudget(budget.requests, budget.per_seconds) if budget else None
        self._plans: dict[str, ActionPlan] = {}
        self._request_children: dict[tuple[str, str], Any] = {}
        self._connection_headers = {
            k: render_config(v, self.variables, what=f"header {k!r}", connector=spec.name)
            for k, v in spec.connection.headers.items()
        }

    def __repr__(self) -> str:
        return f"ExecutorCore(spec={self.spec.name!r}, connection={self.connection!r})"

    def default_headers(self, action: Action) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(self._connection_headers)
        for key, value in action.headers.items():
            headers[key] = render_config(
                value, self.variables, what=f"header {key!r}", connector=self.spec.name
            )
        return headers

    def plan(self, name: str) -> ActionPlan:
        plan = self._plans.get(name)
        if plan is None:
            try:
                action = self.spec.action(name)
            except KeyError:
                known = [a.name for a in self.spec.actions]
                close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ConfigError(
                    f"unknown action {name!r} for connector {self.spec.name!r}{hint}",
                    connector=self.spec.name,
                ) from None
            plan = self._plans[name] = ActionPlan(self, action)
        return plan

    def prepare(
        self, name: str, data: Mapping[str, Any] | None, opts: CallOptions
    ) -> tuple[ActionPlan, RequestParts]:
        """Validate input (before any I/O) and build the first request."""
        plan = self.plan(name)
        data = {} if data is None else data
        try:
            plan.check.check(data)
        except ValidationFailed as exc:
            exc.message = self.redactor.text(exc.message)
            raise
        parts = plan.builder.build(data)
        if opts.extra_headers:
            parts.headers.update(opts.extra_headers)
        idem = plan.idempotency
        if idem is not None:
            key = opts.idempotency_key or (str(uuid.uuid4()) if idem.auto else None)
            if key is not None:
                if len(key) > idem.max_length:
                    raise ValidationFailed(
                        f"idempotency key is longer than {idem.max_length} characters",
                        connector=self.spec.name,
                        action=name,
                        retryable=False,
                    )
                parts.headers[idem.header] = key
        elif opts.idempotency_key is not None:
            raise ConfigError(
                f"action {name!r} does not take an idempotency key",
                connector=self.spec.name,
                action=name,
            )
        return plan, parts

    def pages_factory(
        self,
        action: str,
        data: Mapping[str, Any] | None,
        options: CallOptions,
        *,
        max_pages: int | None,
        max_items: int | None,
        page_size: int | None,
    ) -> Callable[[], Flow[None]]:
        """Validate now; return a maker of fresh paging flows (a pager may be iterated again)."""
        plan, parts = self.prepare(action, data, options)

        def make() -> Flow[None]:
            return self.pages_flow(
                plan,
                parts.copy(),
                options,
                max_pages=max_pages,
                max_items=max_items,
                page_size=page_size,
            )

        return make

    def call_flow(self, plan: ActionPlan, parts: RequestParts, opts: CallOptions) -> Flow[Any]:
        _response, body = yield from self.exchange(plan, parts, opts)
        return get_path(body, plan.action.output.result_path, None)

    def pages_flow(
        self,
        plan: ActionPlan,
        parts: RequestParts,
        opts: CallOptions,
        *,
        max_pages: int | None,
        max_items: int | None,
        page_size: int | None,
    ) -> Flow[None]:
        action = plan.action
        pagination = action.pagination
        if pagination is None:
            _response, body = yield from self.exchange(plan, parts, opts)
            result = get_path(body, action.output.result_path, None)
            items = result if isinstance(result, list) else [result]
            yield Emit(
                Page(
                    1,
                    items[:max_items] if max_items is not None else items,
                    body,
                    _response.status_code,
                )
            )
            return
        walker = PageWalker(
            pagination,
            parts,
            base_url=plan.builder.base_url,
            page_size=page_size,
            connector=self.spec.name,
            action=action.name,
            allowed_origins=self.spec.connection.allowed_origins,
        )
        request: RequestParts | None = walker.first
        number = 0
        delivered = 0
        hard_cap = self.options.max_pages_hard_cap
        while request is not None:
            if number >= hard_cap:
                raise BadResponse(
                    f"pagination stopped after the hard cap of {hard_cap} pages; "
                    "pass max_pages or raise ExecutorOptions.max_pages_hard_cap",
                    connector=self.spec.name,
                    action=action.name,
                    retryable=False,
                )
            response, body = yield from self.exchange(plan, request, opts)
            number += 1
            items = get_path(body, pagination.items_path, None)
            if items is None:
                items = []
            if not isinstance(items, list):
                raise BadResponse(
                    f"expected a list at {pagination.items_path!r}, got {type(items).__name__}",
                    connector=self.spec.name,
                    action=action.name,
                    status=response.status_code,
                    retryable=False,
                )
            shown = items
            if max_items is not None:
                shown = items[: max(0, max_items - delivered)]
            delivered += len(shown)
            yield Emit(Page(number, shown, body, response.status_code))
            if max_pages is not None and number >= max_pages:
                return
            if max_items is not None and delivered >= max_items:
                return
            request = walker.next_request(response, body, items)

    def raw_parts(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> RequestParts:
        """A request outside any action (Test Connection, bespoke clients): same base URL,
        default headers and auth, no input schema."""
        base = render_base_url(
            self.spec,
            self.spec.connection.base_url,
            self.variables,
            what="the base URL",
            override=self.base_url_override,
        )
        rendered = render_path(
            path, self.variables, what=f"path {path!r}", connector=self.spec.name
        )
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **self._connection_headers,
        }
        return RequestParts(
            method=method,
            url=base.rstrip("/") + rendered,
            params=list((query or {}).items()),
            headers=headers,
            body=Body(encoding="json") if json_body is not None else None,
            body_fields=dict(json_body or {}),
        )

    def request_flow(self, parts: RequestParts, label: str) -> Flow[Any]:
        _response, body = yield from self.exchange(None, parts, NO_OPTIONS, label=label)
        return body

    def test_connection_flow(self) -> Flow[ConnectionCheck]:
        tc = self.spec.test_connection
        parts = self.raw_parts(tc.method, tc.path, query=tc.query, json_body=tc.body)
        try:
            response, body = yield from self.exchange(
                None, parts, NO_OPTIONS, label="test_connection", safe=True
            )
        except PatchbayError as exc:
            return ConnectionCheck(ok=False, error=exc)
        if tc.success is not None and not match_holds(
            tc.success, response.status_code, response.headers, body
        ):
            return ConnectionCheck(
                ok=False,
                error=BadResponse(
                    "the test request did not meet the spec's success conditions",
                    connector=self.spec.name,
                    status=response.status_code,
                ),
            )
        label = get_path(body, tc.account_label_path, None) if tc.account_label_path else None
        account = get_path(body, tc.account_id_path, None) if tc.account_id_path else None
        return ConnectionCheck(
            ok=True,
            account_label=None if label is None else str(label),
            account_id=None if account is None else str(account),
        )

    def exchange(
        self,
        plan: ActionPlan | None,
        parts: RequestParts,
        opts: CallOptions,
        *,
        label: str | None = None,
        safe: bool = False,
    ) -> Flow[tuple[httpx.Response, Any]]:
        """Sign, send, decode and classify one request, retrying and refreshing as allowed,
        all within one deadline."""
        spec = self.spec
        options = self.options
        action_name = label or (plan.action.name if plan is not None else "")
        policy = options.retry
        if opts.retries is not None:
            policy = RetryPolicy(
                max_attempts=opts.retries + 1,
                base_delay=policy.base_delay,
                max_delay=policy.max_delay,
                max_wait=policy.max_wait,
                random=policy.random,
            )
        timeouts, longest = self._timeouts
        if opts.timeout is not None:
            timeouts, longest = timeout_table(opts.timeout)
        monotonic = options.monotonic
        allowed = opts.deadline if opts.deadline is not None else options.deadline
        deadline = None if allowed is None else monotonic() + allowed
        max_bytes = options.max_response_bytes
        idem_header = plan.idempotency.header if plan is not None and plan.idempotency else None
        # ``safe``: a probe that changes nothing whatever its method (Slack's POST auth.test).
        default_repeatable = safe or parts.method in IDEMPOTENT_METHODS
        repeatable = (plan.repeatable if plan is not None else default_repeatable) or (
            idem_header is not None and idem_header in parts.headers
        )
        output_format = plan.action.output.format if plan is not None else "json"
        auth = self.auth
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self.budget is not None:
                wait = self.budget.reserve()
                if wait > 0:
                    if deadline is not None and monotonic() + wait >= deadline:
                        raise self._past_deadline(allowed, action_name, "the rate budget's wait")
                    yield Sleep(wait)
            headers = dict(parts.headers)
            params = list(parts.params)
            token: str | None = None
            if auth.needs_token:
                provider = self.connection.token_provider
                assert provider is not None
                # Not interrupted at the deadline: a refresh cut in half could lose a refresh
                # token the vendor already rotated. The deadline is checked once it returns.
                token = yield AcquireToken(provider, force_refresh=refreshed)
                self.redactor.add(token or "")
            auth.apply(headers, params, token)
            request = parts.to_request(None, headers=headers, params=params)
            if deadline is not None:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    raise self._past_deadline(allowed, action_name, "the request could be sent")
                if remaining < longest:
                    request.extensions["timeout"] = {
                        k: remaining if v is None or v > remaining else v
                        for k, v in timeouts.items()
                    }
                else:
                    request.extensions["timeout"] = timeouts
            else:
                request.extensions["timeout"] = timeouts
            debug = logger.isEnabledFor(logging.DEBUG)
            if debug:
                log_event(
                    logging.DEBUG,
                    "http.request",
                    connector=spec.name,
                    action=action_name,
                    method=request.method,
                    url=self.redactor.url(request.url),
                    attempt=attempt,
                )
            started = time.perf_counter()
            outcome = yield Send(request, deadline, max_bytes, monotonic)
            elapsed = time.perf_counter() - started
            body: Any = None
            error: PatchbayError | None
            safe_to_repeat = repeatable
            if isinstance(outcome, httpx.Response):
                response = outcome
                status_class = f"{response.status_code // 100}xx"
                body, error = self._decode(response, output_format, action_name)
                if error is None:
                    error = self.mapper.classify(
                        response, body, connector=spec.name, action=action_name
                    )
                if error is None and plan is not None and plan.output_validator is not None:
                    error = self._check_output(plan, body, response.status_code)
            elif isinstance(outcome, Cut):
                status_class = "error" if outcome.status is None else f"{outcome.status // 100}xx"
                error = self._cut_error(outcome, allowed, max_bytes, action_name)
            else:
                error = self._transport_error(outcome, action_name)
                status_class = "error"
                # A connection that never opened sent nothing: safe to retry whatever the method.
                safe_to_repeat = repeatable or isinstance(
                    outcome, httpx.ConnectError | httpx.ConnectTimeout
                )
            self._count(plan, action_name, request.method, status_class, elapsed)
            if debug and isinstance(outcome, httpx.Response):
                log_event(
                    logging.DEBUG,
                    "http.response",
                    connector=spec.name,
                    action=action_name,
                    status=outcome.status_code,
                    elapsed_ms=round(elapsed * 1000, 3),
                )
            if error is None:
                assert isinstance(outcome, httpx.Response)
                return outcome, body
            if (
                error.code == "auth_expired"
                and auth.needs_token
                and auth.refreshable
                and not refreshed
            ):
                refreshed = True
                log_event(logging.INFO, "auth.refresh", connector=spec.name, action=action_name)
                continue
            delay = policy.delay_for(error, attempt, repeatable=safe_to_repeat)
            if delay is not None and deadline is not None and monotonic() + delay >= deadline:
                # Waiting would pass the deadline: give up now with the error that made us wait
                # (its code and retry_after say more than a timeout would).
                error.message = (
                    f"{error.message} (not retried: waiting {delay:g}s would pass the "
                    f"{allowed:g}s deadline)"
                )
                delay = None
            if delay is None:
                if (
                    isinstance(error, RateLimited)
                    and error.retry_after is not None
                    and error.retry_after > policy.max_wait
                ):
                    error.message = (
                        f"{error.message} (vendor asks to wait {error.retry_after:g}s, "
                        f"over the {policy.max_wait:g}s ceiling: not waiting)"
                    )
                self.metrics.errors.labels(spec.name, action_name, error.code).inc()
                log_event(
                    logging.WARNING,
                    "http.error",
                    connector=spec.name,
                    action=action_name,
                    code=error.code,
                    status=error.status,
                    message=error.message,
                    attempt=attempt,
                )
                raise error
            self.metrics.retries.labels(spec.name, action_name, error.code).inc()
            log_event(
                logging.INFO,
                "http.retry",
                connector=spec.name,
                action=action_name,
                code=error.code,
                status=error.status,
                delay_s=round(delay, 3),
                attempt=attempt,
            )
            yield Sleep(delay)

    def _past_deadline(self, allowed: float | None, action: str, what: str) -> Timeout:
        error = Timeout(
            f"the call passed its {allowed:g}s deadline before {what}",
            connector=self.spec.name,
            action=action,
            retryable=False,
        )
        self.metrics.errors.labels(self.spec.name, action, error.code).inc()
        return error

    def _cut_error(
        self, cut: Cut, allowed: float | None, max_bytes: int, action: str
    ) -> PatchbayError:
        if cut.reason == "deadline":
            return Timeout(
                f"the response was still arriving when the call's {allowed:g}s deadline passed",
                connector=self.spec.name,
                action=action,
                status=cut.status,
                retryable=False,
            )
        return BadResponse(
            f"the response body is larger than the {max_bytes}-byte limit "
            "(ExecutorOptions.max_response_bytes; decompressed size counts)",
            connector=self.spec.name,
            action=action,
            status=cut.status,
            retryable=False,
        )

    def surface(self, exc: Exception, action: str | None) -> PatchbayError:
        """What leaves a public method for any exception: a redacted :class:`PatchbayError`.

        An exception Patchbay did not raise itself (``httpx.InvalidURL`` for CR/LF in a base
        URL, ``UnicodeEncodeError`` for a non-ASCII credential, ``RecursionError``…) becomes a
        ``config``/``bad_response`` error naming only its type. The original is *not* kept, as
        ``__cause__`` or ``__context__``: its text or ``repr`` can hold a credential in a form no
        redaction recognizes (the ``repr`` of a ``UnicodeEncodeError`` carries the whole
        ``Authorization`` value).
        """
        error: PatchbayError
        if isinstance(exc, PatchbayError):
            error = exc
        elif isinstance(exc, httpx.InvalidURL):
            error = ConfigError(
                "the request URL is invalid: a base URL, variable or path holds characters a "
                "URL cannot (httpx.InvalidURL)",
                connector=self.spec.name,
                action=action,
            )
        else:
            cls = BadResponse if isinstance(exc, RecursionError) else ConfigError
            error = cls(
                describe_unexpected(exc), connector=self.spec.name, action=action, retryable=False
            )
            log_event(
                logging.WARNING,
                "executor.unexpected_error",
                connector=self.spec.name,
                action=action,
                type=type(exc).__name__,
                code=error.code,
            )
        error.redact(self.redactor.text)
        if not isinstance(error.__cause__, PatchbayError):
            error.__cause__ = None
        if not isinstance(error.__context__, PatchbayError):
            error.__context__ = None
        return error

    def _count(
        self, plan: ActionPlan | None, action: str, method: str, status_class: str, elapsed: float
    ) -> None:
        key = (method, status_class)
        cache = plan.metric_children if plan is not None else self._request_children
        children = cache.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(
                    self.spec.name, action, metric_method(method), status_class
                ),
                self.metrics.latency.labels(self.spec.name, action),
            )
            cache[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def _decode(
        self, response: httpx.Response, output_format: str, action: str
    ) -> tuple[Any, PatchbayError | None]:
        content = response.content
        ok = response.status_code < 300
        if ok and output_format == "binary":
            return content, None
        if ok and output_format == "text":
            return response.text, None
        if not content:
            return None, None
        try:
            return loads_json(content, max_depth=self.options.max_json_depth), None
        except JSONTooDeep:
            return None, BadResponse(
                f"the response JSON nests deeper than {self.options.max_json_depth} levels "
                "(ExecutorOptions.max_json_depth)",
                connector=self.spec.name,
                action=action,
                status=response.status_code,
                retryable=False,
            )
        except ValueError:
            if not ok:
                return response.text, None
            return None, BadResponse(
                "the response body is not valid JSON",
                connector=self.spec.name,
                action=action,
                status=response.status_code,
                retryable=False,
            )

    def _check_output(self, plan: ActionPlan, body: Any, status: int) -> PatchbayError | None:
        validator = plan.output_validator
        assert validator is not None
        if validator.is_valid(body):
            return None
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(body))
        pointer = "".join(f"/{p}" for p in error.absolute_path) if error else ""
        detail = self.redactor.text(error.message) if error else ""
        return BadResponse(
            f"response does not match the output schema: {detail}",
            connector=self.spec.name,
            action=plan.action.name,
            status=status,
            pointer=pointer,
            retryable=False,
        )

    def _transport_error(self, exc: httpx.HTTPError, action: str) -> PatchbayError:
        detail = self.redactor.text(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return Timeout(
                f"request timed out ({type(exc).__name__}: {detail})",
                connector=self.spec.name,
                action=action,
            )
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigError(
                f"unsupported URL: {detail}", connector=self.spec.name, action=action
            )
        if isinstance(exc, httpx.LocalProtocolError):
            # We built a request HTTP cannot carry (CR/LF or NUL in a header value). h11 quotes
            # the offending bytes in its message, escaped, so value-based redaction would miss
            # a credential there: name the problem, never the detail. Repeating cannot help.
            return ConfigError(
                "the request could not be sent: a header holds characters HTTP does not allow "
                "(CR, LF, NUL or other control characters)",
                connector=self.spec.name,
                action=action,
                retryable=False,
            )
        if isinstance(exc, httpx.DecodingError):
            return BadResponse(
                f"could not decode the response: {detail}", connector=self.spec.name, action=action
            )
        return NetworkError(
            f"{type(exc).__name__}: {detail}", connector=self.spec.name, action=action
        )


def compile_core(
    spec: ConnectorSpec,
    connection: Connection,
    base_url: str | None,
    options: ExecutorOptions | None,
) -> ExecutorCore:
    """Compile the core; whatever goes wrong is a redacted :class:`PatchbayError` too."""
    try:
        return ExecutorCore(spec, connection, base_url=base_url, options=options)
    except PatchbayError as exc:
        error: PatchbayError = exc
    except Exception as exc:
        error = ConfigError(
            f"could not prepare the connector: {describe_unexpected(exc)}",
            connector=spec.name,
            retryable=False,
        )
    # No redactor exists yet: scrub what the connection itself holds.
    error.redact(Redactor(connection.secret_values(spec)).text)
    error.__cause__ = error.__context__ = None
    raise error
