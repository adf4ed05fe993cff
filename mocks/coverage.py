"""Coverage levels computed from what exists (DESIGN.md §7), never from what a spec claims.

Each criterion is *exercised*, not looked up: auth runs end to end against the spec-driven mock
(the OAuth dance through :class:`~mocks.oauth_provider.MockOAuthProvider`, or a key the mock
accepts and a wrong one it refuses), Test Connection runs, every golden fixture goes through the
contract suite, every paging action is paged over three pages or more, the polling trigger
polls, webhooks are registered through the mock and a signed delivery is verified, the mock is
fuzzed for a bounded number of examples, and the rate-limit and expired-token scenarios run
through the executor. A criterion that cannot run fails with the reason as its detail.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from patchbay.mocks.contract import DEFAULT_PACKAGE, ContractCase, ContractResult, run_case
from patchbay.mocks.golden import GOLDEN_DIR, all_fixtures
from patchbay.mocks.server import (
    SCENARIO_HEADER,
    MockOptions,
    MockServer,
    default_variables,
    well_formed_wrong,
)
from patchbay.mocks.synthesis import rng_for, synthesize
from patchbay.runtime import (
    Connection,
    ExecutorOptions,
    GenericExecutor,
    PatchbayError,
    RetryPolicy,
    StaticTokenProvider,
    ValidationFailed,
)
from patchbay.runtime.http import input_schema
from patchbay.runtime.spec import (
    Action,
    AuthVariant,
    ConnectorSpec,
    ManualRegistration,
    OAuth2Auth,
    SpecRegistry,
    Webhook,
)
from patchbay.runtime.triggers import poll

Level = Literal["none", "bronze", "silver", "gold"]
LEVELS: tuple[Level, ...] = ("none", "bronze", "silver", "gold")
BRONZE_ACTIONS = 6
SILVER_ACTIONS = 8
MIN_PAGES = 3
AUTH_CODES = ("auth_invalid", "auth_expired")
OAUTH_CLIENT_ID = "client_FAKE_id"
OAUTH_CLIENT_SECRET = "client_FAKE_secret"


@dataclass(frozen=True)
class Criterion:
    """One verdict: ``ok`` or not, ``applicable`` False when the spec has nothing to check
    (no webhooks declared), and a detail naming what passed or what is missing."""

    key: str
    level: Level
    title: str
    ok: bool
    detail: str = ""
    applicable: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "level": self.level,
            "title": self.title,
            "ok": self.ok,
            "applicable": self.applicable,
            "detail": self.detail,
        }


@dataclass
class ConnectorCoverage:
    connector: str
    actions: int
    criteria: list[Criterion] = field(default_factory=list)
    seconds: float = 0.0

    def met(self, level: Level) -> bool:
        """Every criterion of ``level`` holds (not applicable counts as held)."""
        return all(c.ok for c in self.criteria if c.level == level)

    @property
    def level(self) -> Level:
        reached: Level = "none"
        for level in LEVELS[1:]:
            if not self.met(level):
                break
            reached = level
        return reached

    @property
    def next_level(self) -> Level | None:
        index = LEVELS.index(self.level)
        return LEVELS[index + 1] if index + 1 < len(LEVELS) else None

    @property
    def missing(self) -> list[Criterion]:
        """What stands between this connector and its next level."""
        nxt = self.next_level
        return [c for c in self.criteria if c.level == nxt and not c.ok]

    def criterion(self, key: str) -> Criterion:
        return next(c for c in self.criteria if c.key == key)

    def as_json(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "actions": self.actions,
            "level": self.level,
            "next_level": self.next_level,
            "missing": [c.key for c in self.missing],
            "criteria": [c.as_json() for c in self.criteria],
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class CoverageOptions:
    """Where fixtures live and how much fuzzing runs: ``fuzz_examples`` generated requests per
    operation (schemathesis, fixed seed) keep ``patchbay coverage`` fast enough for CI."""

    golden_root: Path = GOLDEN_DIR
    fuzz_examples: int = 3
    seed: int = 0
    package: str = DEFAULT_PACKAGE


# ------------------------------------------------------------------------------ helpers


def _connection(
    spec: ConnectorSpec,
    server: MockServer,
    variables: Mapping[str, str],
    provider: Any = None,
    credentials: Mapping[str, str] | None = None,
    variant: AuthVariant | None = None,
) -> Connection:
    variant = variant or spec.auth[0]
    if isinstance(variant, OAuth2Auth):
        token = provider or StaticTokenProvider(server.options.access_tokens[0])
        return Connection(
            spec.name, auth=variant.name, variables=dict(variables), token_provider=token
        )
    values = credentials or {f: server.credentials[f] for f in variant.fields}
    return Connection(
        spec.name, auth=variant.name, variables=dict(variables), credentials=dict(values)
    )


def _executor(
    spec: ConnectorSpec,
    server: MockServer,
    variables: Mapping[str, str],
    *,
    provider: Any = None,
    credentials: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = lambda s: None,
    options: ExecutorOptions | None = None,
    variant: AuthVariant | None = None,
) -> GenericExecutor:
    return GenericExecutor(
        spec,
        _connection(spec, server, variables, provider, credentials, variant),
        transport=transport or server.transport(),
        sleep=sleep,
        options=options,
    )


def _server(spec: ConnectorSpec, **kwargs: Any) -> tuple[MockServer, dict[str, str]]:
    variables = {**default_variables(spec), **kwargs.pop("variables", {})}
    options = MockOptions(golden_root=None, variables=variables, **kwargs)
    return MockServer(spec, options), variables


def sample_inputs(
    spec: ConnectorSpec, action: Action, golden_root: Path, exclude: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Inputs to try, best first: the required fields of each success fixture's input (page
    and cursor fields left out), then the required fields synthesized from the input schema."""
    schema = input_schema(action, spec.defs)
    required = set(schema.get("required", [])) - set(exclude)
    found = all_fixtures(spec.name, golden_root).get(action.name, [])
    out = [
        {k: v for k, v in f.input.items() if k in required}
        for _, f in found
        if f.response.status < 400
    ]
    value = synthesize(schema, dict(spec.defs), rng_for(0, f"coverage:{action.name}"))
    out.append({k: v for k, v in (value or {}).items() if k in required})
    unique: list[dict[str, Any]] = []
    for candidate in out:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def first_working[T](candidates: list[dict[str, Any]], attempt: Callable[[dict[str, Any]], T]) -> T:
    """The result for the first input the executor accepts (invalid ones are skipped)."""
    last: Exception | None = None
    for data in candidates:
        try:
            return attempt(data)
        except ValidationFailed as exc:
            last = exc
    raise last or ValueError("no input to try")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, PatchbayError):
        return f"[{exc.code}] {exc}"
    return f"{type(exc).__name__}: {exc}"


class _FirstRequests(httpx.BaseTransport):
    """Sends the first ``count`` requests with an ``X-Mock-Scenario``, the rest plain."""

    def __init__(self, inner: httpx.BaseTransport, scenario: str, count: int = 1) -> None:
        self.inner = inner
        self.scenario = scenario
        self.left = count

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.left > 0:
            self.left -= 1
            request.headers[SCENARIO_HEADER] = self.scenario
        return self.inner.handle_request(request)


class _CountingProvider:
    """A token provider that records every force-refresh the executor asks for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.refreshes = 0

    def get_token(self, *, force_refresh: bool = False) -> str:
        self.refreshes += force_refresh
        return self.token

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        return self.get_token(force_refresh=force_refresh)


# ------------------------------------------------------------------------------- bronze


def check_auth(spec: ConnectorSpec) -> Criterion:
    """Every auth variant, end to end. OAuth2: authorize, exchange the code at the mock
    provider, call with the issued token. Others: the mock accepts the credentials the spec
    sends and refuses wrong ones. Only the auth verdict counts here (a Test Connection failing
    for another reason is its own item)."""
    title = "auth works end to end against the mock (every variant)"
    problems, done = [], []
    for variant in spec.auth:
        problem = _auth_problem(spec, variant)
        if problem is None:
            done.append(f"{variant.name} ({variant.type})")
        else:
            problems.append(f"{variant.name}: {problem}")
    if problems:
        return Criterion("auth", "bronze", title, False, "; ".join(problems))
    return Criterion("auth", "bronze", title, True, "works: " + ", ".join(done))


def _auth_problem(spec: ConnectorSpec, variant: AuthVariant) -> str | None:
    try:
        if isinstance(variant, OAuth2Auth):
            if variant.grant != "authorization_code":
                return f"the {variant.grant} grant is not exercised against the mock provider"
            token, token_vars = _oauth_dance(spec, variant)
            server, variables = _server(spec, access_tokens=(token,), variables=token_vars)
            good_token, bad_token = StaticTokenProvider(token), StaticTokenProvider("at_FAKE_bad")
            good = _executor(spec, server, variables, provider=good_token, variant=variant)
            bad = _executor(spec, server, variables, provider=bad_token, variant=variant)
        else:
            server, variables = _server(spec)
            wrong = {f: well_formed_wrong(server.credentials[f]) for f in variant.fields}
            good = _executor(spec, server, variables, variant=variant)
            bad = _executor(spec, server, variables, credentials=wrong, variant=variant)
        with good, bad:
            ok_check, bad_check = good.test_connection(), bad.test_connection()
    except Exception as exc:
        return _error_text(exc)
    if ok_check.error is not None and ok_check.error.code in AUTH_CODES:
        return f"good credentials refused: {ok_check.error}"
    if bad_check.ok or bad_check.error is None:
        return "the mock accepted wrong credentials"
    if bad_check.error.code not in AUTH_CODES:
        return f"wrong credentials ended in [{bad_check.error.code}], not an auth error"
    return None


def _oauth_dance(spec: ConnectorSpec, variant: OAuth2Auth) -> tuple[str, dict[str, str]]:
    from patchbay.mocks.oauth_provider import MockOAuthProvider
    from patchbay.runtime.accounts import (
        OAuthClient,
        authorize_url,
        code_request,
        pkce_pair,
        read_token_response,
    )

    provider = MockOAuthProvider(spec, variant)
    client = OAuthClient(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET)
    variables = default_variables(spec)
    redirect = "http://127.0.0.1:9/callback"
    verifier, challenge = pkce_pair()
    url = authorize_url(
        spec,
        variant,
        client,
        redirect_uri=redirect,
        state="coverage",
        code_challenge=challenge,
        variables=variables,
    )
    location = httpx.URL(provider.handler(httpx.Request("GET", url)).headers["location"])
    if location.params.get("state") != "coverage":
        raise AssertionError("the authorization redirect lost the state")
    request = code_request(
        spec,
        variant,
        client,
        code=location.params["code"],
        redirect_uri=redirect,
        code_verifier=verifier,
        variables=variables,
    )
    tokens = read_token_response(spec, variant, provider.handler(request))
    return tokens.access_token, dict(tokens.variables)


def check_test_connection(spec: ConnectorSpec) -> Criterion:
    title = "Test Connection passes against the mock"
    server, variables = _server(spec)
    try:
        with _executor(spec, server, variables) as ex:
            result = ex.test_connection()
    except Exception as exc:
        return Criterion("test_connection", "bronze", title, False, _error_text(exc))
    if not result.ok:
        return Criterion("test_connection", "bronze", title, False, str(result.error))
    if spec.test_connection.account_label_path and not result.account_label:
        detail = "no account label at the spec's account_label_path"
        return Criterion("test_connection", "bronze", title, False, detail)
    return Criterion("test_connection", "bronze", title, True, f"account {result.account_label}")


def _bodiless(spec: ConnectorSpec, action: Action, golden_root: Path) -> bool:
    """True when the golden fixtures show the action answers no body (a 204 delete): such an
    action has nothing to declare as its output."""
    found = all_fixtures(spec.name, golden_root).get(action.name, [])
    answers = [f.response for _, f in found if f.response.status < 400]
    return bool(answers) and all(r.body in (None, "") for r in answers)


def schemaless(spec: ConnectorSpec, golden_root: Path = GOLDEN_DIR) -> list[str]:
    """Actions missing an input or an output schema: a parameter or body without a schema,
    or a JSON output without one (unless its fixtures show it answers no body)."""
    out = []
    for action in spec.actions:
        no_input = any(not p.schema_ for p in action.parameters) or (
            action.body is not None and not action.body.schema_
        )
        no_output = (
            action.output.format == "json"
            and not action.output.schema_
            and not _bodiless(spec, action, golden_root)
        )
        if no_input or no_output:
            out.append(action.name)
    return out


def check_actions(spec: ConnectorSpec, level: Level, minimum: int, golden_root: Path) -> Criterion:
    lacking = schemaless(spec, golden_root)
    typed = len(spec.actions) - len(lacking)
    title = f">= {minimum} actions with input and output schemas"
    detail = f"{typed} of {len(spec.actions)} actions typed"
    if lacking:
        detail += f"; without schemas: {', '.join(lacking)}"
    return Criterion(f"actions_{minimum}", level, title, typed >= minimum, detail)


def check_polling(spec: ConnectorSpec, golden_root: Path) -> Criterion:
    """The first polling trigger polls the mock once (a first poll reads or sets the cursor)."""
    title = "a polling trigger polls the mock"
    triggers = spec.triggers.polling
    if not triggers:
        return Criterion("polling_trigger", "bronze", title, False, "no polling trigger")
    trigger = triggers[0]
    server, variables = _server(spec)
    try:
        action = spec.action(trigger.action)
        inputs = sample_inputs(spec, action, golden_root, exclude=trigger.input)
        with _executor(spec, server, variables) as ex:
            batch = first_working(
                inputs, lambda data: poll(ex, trigger.name, params=data, max_items=50)
            )
    except Exception as exc:
        return Criterion("polling_trigger", "bronze", title, False, _error_text(exc))
    detail = (
        f"{trigger.name}: {len(batch.items)} item(s), cursor {'set' if batch.cursor else 'unset'}"
    )
    return Criterion("polling_trigger", "bronze", title, True, detail)


def check_fixtures(spec: ConnectorSpec, golden_root: Path) -> Criterion:
    have = {a for a, found in all_fixtures(spec.name, golden_root).items() if found}
    lacking = [a.name for a in spec.actions if a.name not in have]
    title = "every action has a golden fixture"
    detail = f"without a fixture: {', '.join(lacking)}" if lacking else f"{len(have)} actions"
    return Criterion("fixtures", "bronze", title, not lacking, detail)


def run_contract(
    spec: ConnectorSpec, golden_root: Path, package: str = DEFAULT_PACKAGE
) -> list[ContractResult]:
    results = []
    known = {a.name for a in spec.actions}
    for action, found in all_fixtures(spec.name, golden_root).items():
        for path, fixture in found:
            case = ContractCase(spec.name, action, path.stem, path, fixture)
            if action not in known:
                result = ContractResult(case, [f"no action {action} in the spec"])
            else:
                try:
                    result = run_case(spec, case, package=package)
                except Exception as exc:
                    result = ContractResult(case, [_error_text(exc)])
            results.append(result)
    return results


def check_contract(spec: ConnectorSpec, results: list[ContractResult]) -> Criterion:
    title = "every contract case passes"
    failed = [r.case.id.split(".", 1)[1] for r in results if not r.ok]
    if not results:
        return Criterion("contract", "bronze", title, False, "no contract case")
    if failed:
        first = next(r for r in results if not r.ok).problems[0]
        detail = f"{len(failed)} of {len(results)} failed: {', '.join(failed)} ({first})"
        return Criterion("contract", "bronze", title, False, detail)
    return Criterion("contract", "bronze", title, True, f"{len(results)} cases pass")


def pages_seen(spec: ConnectorSpec, action: Action, golden_root: Path = GOLDEN_DIR) -> int:
    """Pages with items the executor reads from the mock for one paging action: a small page
    size where the action takes one, and records for more than three pages even if a later
    request falls back to the default size (a continue call that carries only the cursor)."""
    pag = action.pagination
    assert pag is not None
    default = (pag.page_size.default if pag.page_size else None) or 10
    size = None if pag.page_size is None else min(2, pag.page_size.max or 2)
    server, variables = _server(spec, records=max(size or 0, default) * MIN_PAGES + 1)

    def count(data: dict[str, Any]) -> int:
        with _executor(spec, server, variables) as ex:
            pager = ex.paginate(action.name, data, page_size=size, max_pages=MIN_PAGES + 2)
            return sum(1 for page in pager.pages() if page.items)

    return first_working(sample_inputs(spec, action, golden_root), count)


def check_pagination(spec: ConnectorSpec, golden_root: Path) -> Criterion:
    title = f"paging exercised over >= {MIN_PAGES} pages for every paging action"
    paging = [a for a in spec.actions if a.pagination is not None]
    short = []
    for action in paging:
        try:
            count = pages_seen(spec, action, golden_root)
        except Exception as exc:
            short.append(f"{action.name} ({_error_text(exc)})")
            continue
        if count < MIN_PAGES:
            short.append(f"{action.name} ({count} page(s))")
    if short:
        return Criterion("pagination", "bronze", title, False, "; ".join(short))
    detail = f"{len(paging)} paging action(s)" if paging else "no action pages"
    return Criterion("pagination", "bronze", title, True, detail)


# ------------------------------------------------------------------------------- silver


def check_webhooks(spec: ConnectorSpec) -> Criterion:
    title = "webhook verification and registration"
    hooks = spec.triggers.webhooks
    if not hooks:
        return Criterion("webhooks", "silver", title, True, "no webhooks declared", False)
    problems = [f"{hook.name}: {p}" for hook in hooks for p in _webhook_problems(spec, hook)]
    if problems:
        return Criterion("webhooks", "silver", title, False, "; ".join(problems))
    how = {True: "declared manual", False: "registered"}
    done = [
        f"{h.name}: {how[isinstance(h.registration, ManualRegistration)]} and verified"
        for h in hooks
    ]
    return Criterion("webhooks", "silver", title, True, "; ".join(done))


def _webhook_problems(spec: ConnectorSpec, hook: Webhook) -> list[str]:
    """Register through the mock, then verify a signed delivery and refuse a tampered one."""
    from patchbay.mocks.webhook_sender import build_delivery
    from patchbay.runtime.accounts import Encryptor, new_key
    from patchbay.runtime.webhooks import (
        SQLiteWebhookStore,
        WebhookManager,
        WebhookSubscription,
        caller_params,
        new_secret,
        register,
    )

    if hook.registration is None:
        return ["no registration block (registered by hand)"]
    events = [e for e in hook.events if e not in hook.ack_only_events]
    if hook.handshake is not None:
        events = [e for e in events if e != hook.handshake.type_value]
    event = events[0] if events else "coverage.event"
    server, variables = _server(spec)
    with tempfile.TemporaryDirectory(prefix="patchbay-coverage-") as tmp:
        store = SQLiteWebhookStore(Path(tmp) / "webhooks.db", Encryptor([new_key()]))
        try:
            reg = hook.api_registration
            if reg is None:  # declared manual: stored as `patchbay webhooks url` stores it
                sub = store.create(
                    WebhookSubscription(
                        id="",
                        connector=spec.name,
                        webhook=hook.name,
                        secrets=(new_secret(),),
                        registration={"manual": True},
                    )
                )
            else:
                params = {p: f"mock_{p}" for p in caller_params(reg) if p not in reg.defaults}
                with _executor(spec, server, variables) as ex:
                    sub = register(
                        spec,
                        ex,
                        store,
                        "https://hooks.example.test",
                        webhook=hook.name,
                        params=params,
                    )
            secret = store.get(sub.id).secrets[0]
            manager = WebhookManager(_Specs(spec), store)
            signed = build_delivery(spec, hook, event, secret)
            good = manager.handle(spec.name, sub.id, signed.headers, signed.body)
            forged = build_delivery(spec, hook, event, secret + "x")
            bad = manager.handle(spec.name, sub.id, forged.headers, forged.body)
        except Exception as exc:
            return [_error_text(exc)]
    problems = []
    if good.status != 200:
        problems.append(f"a signed {event} delivery was answered {good.status}")
    if bad.status < 400:
        problems.append(f"a delivery signed with a wrong secret was answered {bad.status}")
    return problems


class _Specs:
    def __init__(self, spec: ConnectorSpec) -> None:
        self.spec = spec

    def get(self, name: str) -> ConnectorSpec:
        if name != self.spec.name:
            raise KeyError(name)
        return self.spec


def check_fuzz(spec: ConnectorSpec, examples: int, seed: int) -> Criterion:
    """A short, seeded schemathesis run over the spec's OpenAPI against its mock."""
    from patchbay.codegen.openapi import openapi_document
    from patchbay.mocks.fuzzing import run_schemathesis

    title = f"fuzzing clean ({examples} examples per operation, seed {seed})"
    try:
        report = run_schemathesis(spec, openapi_document(spec), max_examples=examples, seed=seed)
    except Exception as exc:
        return Criterion("fuzz", "silver", title, False, _error_text(exc))
    failures = [f"{op}: {f.kind}" for op, f in report.failures]
    if failures:
        return Criterion("fuzz", "silver", title, False, "; ".join(failures[:5]))
    return Criterion("fuzz", "silver", title, True, f"{report.examples} requests, no failure")


def _sourced(
    results: list[ContractResult], source: str, key: str, level: Level, title: str
) -> Criterion:
    mine = [r for r in results if r.case.fixture.source == source]
    if not mine:
        return Criterion(key, level, title, False, f"no fixture with source {source!r}")
    failed = [r.case.id.split(".", 1)[1] for r in mine if not r.ok]
    if failed:
        return Criterion(key, level, title, False, f"failing: {', '.join(failed)}")
    return Criterion(key, level, title, True, f"{len(mine)} {source} fixture(s) pass")


# --------------------------------------------------------------------------------- gold


def check_scenarios(spec: ConnectorSpec) -> Criterion:
    """``rate_limited``: a lasting one ends in ``rate_limited``, a single one is waited out
    and retried. ``expired_token``: an OAuth2 connection refreshes once and succeeds; a key
    ends in a normalized auth error."""
    title = "rate-limit and token-expiry scenarios"
    problems = _rate_limit_problems(spec) + _expiry_problems(spec)
    if problems:
        return Criterion("scenarios", "gold", title, False, "; ".join(problems))
    return Criterion("scenarios", "gold", title, True, "rate limit waited out, expiry handled")


def _rate_limit_problems(spec: ConnectorSpec) -> list[str]:
    server, variables = _server(spec, scenario="rate_limited", retry_after=2.0)
    once = RetryPolicy(max_attempts=1)
    try:
        with _executor(spec, server, variables, options=ExecutorOptions(retry=once)) as ex:
            lasting = ex.test_connection()
        server.options.scenario = None
        waits: list[float] = []
        flaky = _FirstRequests(server.transport(), "rate_limited")
        with _executor(spec, server, variables, transport=flaky, sleep=waits.append) as ex:
            recovered = ex.test_connection()
    except Exception as exc:
        return [f"rate limit: {_error_text(exc)}"]
    problems = []
    code = lasting.error.code if lasting.error is not None else "ok"
    if code != "rate_limited":
        problems.append(f"a lasting rate limit ended in [{code}], not [rate_limited]")
    if not recovered.ok:
        problems.append(f"a single rate limit was not retried: {recovered.error}")
    elif not waits:
        problems.append("the retry after a rate limit did not wait")
    return problems


def _expiry_problems(spec: ConnectorSpec) -> list[str]:
    server, variables = _server(spec)
    expired = _FirstRequests(server.transport(), "expired_token")
    oauth = isinstance(spec.auth[0], OAuth2Auth)
    provider = _CountingProvider(server.options.access_tokens[0]) if oauth else None
    try:
        with _executor(spec, server, variables, provider=provider, transport=expired) as ex:
            result = ex.test_connection()
    except Exception as exc:
        return [f"token expiry: {_error_text(exc)}"]
    if provider is not None:
        if provider.refreshes == 1 and result.ok:
            return []
        code = result.error.code if result.error is not None else "ok"
        return [f"an expired token was not refreshed (ended in [{code}])"]
    if result.error is not None and result.error.code in ("auth_expired", "auth_invalid"):
        return []
    code = result.error.code if result.error is not None else "ok"
    return [f"an expired credential ended in [{code}], not an auth error"]


# ------------------------------------------------------------------------------ report


def connector_coverage(spec: ConnectorSpec, options: CoverageOptions) -> ConnectorCoverage:
    """Every criterion of every level for one connector (all run, so the report shows what
    is missing beyond the next level too)."""
    started = time.perf_counter()
    results = run_contract(spec, options.golden_root, options.package)
    criteria = [
        check_auth(spec),
        check_test_connection(spec),
        check_actions(spec, "bronze", BRONZE_ACTIONS, options.golden_root),
        check_polling(spec, options.golden_root),
        check_fixtures(spec, options.golden_root),
        check_contract(spec, results),
        check_pagination(spec, options.golden_root),
        check_actions(spec, "silver", SILVER_ACTIONS, options.golden_root),
        check_webhooks(spec),
        check_fuzz(spec, options.fuzz_examples, options.seed),
        _sourced(
            results, "recorded", "recorded", "silver", "a recorded fixture set replays and passes"
        ),
        _sourced(
            results,
            "documented",
            "documented",
            "gold",
            "documented vendor examples parse with the generated models",
        ),
        check_scenarios(spec),
    ]
    return ConnectorCoverage(spec.name, len(spec.actions), criteria, time.perf_counter() - started)


def coverage_report(
    registry: SpecRegistry,
    connectors: Iterable[str] | None = None,
    options: CoverageOptions | None = None,
) -> list[ConnectorCoverage]:
    options = options or CoverageOptions()
    names = list(connectors or []) or registry.names()
    return [connector_coverage(registry.get(name), options) for name in names]


def coverage_table(report: list[ConnectorCoverage]) -> str:
    """One line per connector, then what each one misses for its next level."""
    header = f"{'connector':<16} {'actions':>7}  {'level':<7} missing for next level"
    lines = [header, "-" * len(header)]
    for item in report:
        nxt = item.next_level
        todo = "-" if nxt is None else f"{nxt}: " + ", ".join(c.key for c in item.missing)
        lines.append(f"{item.connector:<16} {item.actions:>7}  {item.level:<7} {todo}")
    for item in report:
        if item.missing:
            lines.append("")
            lines.append(f"{item.connector} -> {item.next_level}:")
            lines += [f"  - {c.title}: {c.detail}" for c in item.missing]
    return "\n".join(lines)


__all__ = [
    "LEVELS",
    "ConnectorCoverage",
    "CoverageOptions",
    "Criterion",
    "connector_coverage",
    "coverage_report",
    "coverage_table",
]
