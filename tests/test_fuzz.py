"""Schema fuzzing (issue item "Schema fuzzing"): the mock, the executor's input gate, the client.

Three targets, all in process (no sockets):

1. schemathesis against each connector's mock (``mocks.fuzzing.run_schemathesis``): no 5xx, 2xx
   bodies match the generated OpenAPI document.
2. hypothesis inputs through the executor into the mock: valid input is accepted by the mock,
   invalid input is rejected with ``validation`` before any request.
3. hypothesis attacks on the client: adversarial-but-legal pages for paginated actions; the
   executor ends with pages or a ``PatchbayError``, never hangs and never leaks a raw exception.

The bugs the fuzzers found when this was written (a mock crash on encoded paths, Stripe's
delete shape, input types echoed into resources, synthesized strings ignoring ``pattern``,
OpenAPI 200 schemas without Slack's ok:false bodies, empty comma lists) were fixed; each keeps a
minimal regression test at the end of this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from patchbay.mocks.fuzzing import FuzzReport, auth_for, mock_options, run_schemathesis
from patchbay.mocks.server import MockServer, default_credentials
from patchbay.mocks.vendor_errors import error_response, set_path
from patchbay.runtime import Connection, ConnectorSpec, GenericExecutor, load_spec
from patchbay.runtime.errors import ERROR_CODES, PatchbayError
from patchbay.runtime.http import ExecutorOptions
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._retry import RetryPolicy
from patchbay.runtime.http._validation import fast_validator, input_schema, input_validator_class
from patchbay.runtime.spec._checks import resolve_schema
from patchbay.runtime.spec._model import Action

ROOT = Path(__file__).resolve().parent.parent
CONNECTORS = ("stripe", "github", "slack")
HARD_CAP = 50
MAX_WAIT = 60.0

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@cache
def spec_of(name: str) -> ConnectorSpec:
    return load_spec(ROOT / "specs" / f"{name}.json")


def openapi_of(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "generated" / name / "openapi.json").read_text())
    return doc


def executor_for(
    spec: ConnectorSpec, transport: httpx.BaseTransport, sleep: Callable[[float], None]
) -> GenericExecutor:
    """An executor whose auth is the spec's first variant, with the mock's default credentials."""
    connection = Connection(
        spec.name, auth=spec.auth[0].name, credentials=default_credentials(spec)
    )
    options = ExecutorOptions(
        max_pages_hard_cap=HARD_CAP, retry=RetryPolicy(max_attempts=3, max_wait=MAX_WAIT)
    )
    return GenericExecutor(spec, connection, transport=transport, options=options, sleep=sleep)


# ------------------------------------------------------------- input strategies from schemas

# Path values may hold any character, "/" and control characters included: the executor
# percent-encodes them and the mock routes on the raw path.
Alphabet = st.SearchStrategy[str]
_CHARS: Alphabet = st.characters(codec="utf-8", exclude_categories=("Cs",))
_PATH_CHARS: Alphabet = _CHARS
_TEXT = st.text(_CHARS, max_size=12)
_JSON_SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | _TEXT


def _string(schema: dict[str, Any], chars: Alphabet) -> st.SearchStrategy[Any]:
    pattern = schema.get("pattern")
    if pattern:
        return st.from_regex(pattern, fullmatch=True)
    fmt = schema.get("format")
    if fmt == "date-time":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=0).isoformat() + "Z"
        )
    if fmt == "uri":
        return st.from_regex(r"https://[a-z]{1,8}\.test/[a-z0-9]{0,8}", fullmatch=True)
    low = int(schema.get("minLength", 0))
    high = min(int(schema.get("maxLength", low + 12)), low + 12)
    return st.text(chars, min_size=low, max_size=high)


def strategy_for(
    schema: Any, defs: dict[str, Any], *, chars: Alphabet = _CHARS, depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values valid under ``schema`` for the keywords the specs use (the caller filters the rest).

    Written here because hypothesis-jsonschema 0.23.1 fails on hypothesis 6.170 ('many' object
    has no attribute 'more').
    """
    if schema is True or schema == {} or schema is None:
        return _JSON_SCALARS
    schema = resolve_schema(schema, defs)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of(
                [strategy_for(b, defs, chars=chars, depth=depth + 1) for b in schema[key]]
            )
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(
            [strategy_for({**schema, "type": k}, defs, chars=chars, depth=depth) for k in kind]
        )
    if kind is None:
        kind = "object" if "properties" in schema else None
    if kind == "string":
        return _string(schema, chars)
    if kind == "integer":
        low = schema.get("minimum", -(10**6))
        return st.integers(low, schema.get("maximum", max(low, 0) + 10**6))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = strategy_for(schema.get("items", {}), defs, chars=chars, depth=depth + 1)
        low = int(schema.get("minItems", 0))
        high = min(int(schema.get("maxItems", low + 3)), low + 3)
        if schema.get("uniqueItems"):
            return st.lists(items, min_size=low, max_size=high, unique_by=json.dumps)
        return st.lists(items, min_size=low, max_size=high)
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = {
            k: strategy_for(v, defs, chars=chars, depth=depth + 1)
            for k, v in props.items()
            if k in required
        }
        optional = {
            k: strategy_for(v, defs, chars=chars, depth=depth + 1)
            for k, v in props.items()
            if k not in required
        }
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = schema.get("additionalProperties", True)
        if props or extra is False or depth > 3:
            return base
        values = _JSON_SCALARS if extra is True else strategy_for(extra, defs, chars=chars)
        return st.dictionaries(_TEXT, values, max_size=3)
    return _JSON_SCALARS


def valid_inputs(spec: ConnectorSpec, action: Action) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs the action's own input check accepts."""
    validator = input_validator_class()(input_schema(action, spec.defs))
    return near_valid_inputs(spec, action).filter(validator.is_valid)


def near_valid_inputs(spec: ConnectorSpec, action: Action) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs built property by property from the schema; body-level rules (anyOf, oneOf ...)
    are not steered, so some of them are invalid."""
    schema = input_schema(action, spec.defs)
    defs = dict(spec.defs)
    path_names = {p.name for p in action.parameters if p.in_ == "path"}
    fixed: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, sub in schema["properties"].items():
        chars = _PATH_CHARS if name in path_names else _CHARS
        target = fixed if name in schema.get("required", []) else optional
        target[name] = strategy_for(sub, defs, chars=chars)
    return st.fixed_dictionaries(fixed, optional=optional)


def _sample(spec: ConnectorSpec, count: int = 6) -> list[str]:
    """A spread of actions: every paginated one plus the first few others (keeps runs short)."""
    paged = [a.name for a in spec.actions if a.pagination is not None][:2]
    other = [a.name for a in spec.actions if a.pagination is None and a.name not in paged]
    return paged + other[: count - len(paged)]


ACTION_CASES = [(c, a) for c in CONNECTORS for a in _sample(spec_of(c))]


# ---------------------------------------------------------------- 2a. valid input is accepted


@pytest.mark.parametrize(("connector", "action_name"), ACTION_CASES)
def test_valid_input_reaches_the_mock_and_is_accepted(connector: str, action_name: str) -> None:
    spec = spec_of(connector)
    action = spec.action(action_name)

    @SETTINGS
    @given(data=valid_inputs(spec, action))
    def check(data: dict[str, Any]) -> None:
        mock = MockServer(spec, mock_options(spec))
        with executor_for(spec, mock.transport(), lambda s: None) as ex:
            try:
                ex.call(action_name, data)
            except PatchbayError as exc:
                assert exc.code != "validation", f"the mock rejected valid input {data!r}: {exc}"
        assert len(mock.requests) == 1, "exactly one request (nothing here is retryable)"
        assert mock.requests[0].action == action_name or action.path.count("{") > 0

    check()


# ---------------------------------------------- 2b. invalid input never leaves the executor


def _wrong_type(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of a JSON type the property does not allow (in JSON Schema bool is no integer)."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    pool: list[st.SearchStrategy[Any]] = []
    if "string" not in kinds:
        pool.append(_TEXT)
    if not {"integer", "number"} & set(kinds):
        pool.append(st.integers(-5, 5))
    if "boolean" not in kinds:
        pool.append(st.booleans())
    if "null" not in kinds:
        pool.append(st.none())
    if "array" not in kinds:
        pool.append(st.lists(st.integers(), max_size=2))
    if "object" not in kinds:
        pool.append(st.just({"x": 1}))
    return st.one_of(pool)


@st.composite
def invalid_inputs(draw: st.DrawFn, spec: ConnectorSpec, action: Action) -> tuple[str, Any]:
    """A valid input broken one way: an unknown key, a missing required key, or a wrong type."""
    data = dict(draw(valid_inputs(spec, action)))
    schema = input_schema(action, spec.defs)
    props = schema["properties"]
    typed = sorted(k for k, v in props.items() if "type" in v and "enum" not in v)
    ways = (
        ["unknown"] + (["missing"] if schema.get("required") else []) + (["type"] if typed else [])
    )
    way = draw(st.sampled_from(ways))
    if way == "unknown":
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in props))
        data[key] = draw(_JSON_SCALARS)
    elif way == "missing":
        data.pop(draw(st.sampled_from(schema["required"])))
    else:
        key = draw(st.sampled_from(typed))
        data[key] = draw(_wrong_type(props[key]))
    return way, data


@pytest.mark.parametrize(("connector", "action_name"), ACTION_CASES)
def test_invalid_input_is_rejected_before_any_request(connector: str, action_name: str) -> None:
    spec = spec_of(connector)
    action = spec.action(action_name)
    validator = input_validator_class()(input_schema(action, spec.defs))
    mock = MockServer(spec, mock_options(spec))

    @SETTINGS
    @given(case=invalid_inputs(spec, action))
    def check(case: tuple[str, Any]) -> None:
        way, data = case
        assert not validator.is_valid(data), f"test premise: {way} mutation left {data!r} valid"
        with executor_for(spec, mock.transport(), lambda s: None) as ex:
            with pytest.raises(PatchbayError) as caught:
                ex.call(action_name, data)
            assert caught.value.code == "validation", caught.value
            if action.pagination is not None:
                with pytest.raises(PatchbayError) as paged:
                    ex.paginate(action_name, data)
                assert paged.value.code == "validation"
        assert mock.requests == [], f"{way}: a request left for invalid input {data!r}"

    check()


# ------------------------------------------------------- 3. adversarial pages for the client

BEHAVIOURS = (
    "normal",
    "repeat",  # the previous page again: same cursor / next URL / last item
    "empty",  # items emptied (after a full page: a legal end)
    "error_body",  # 200 whose body matches one of the spec's error rules
    "retry_after_huge",  # 429 + Retry-After far beyond RetryPolicy.max_wait
    "retry_after_date",  # 503 + Retry-After as an HTTP date
    "retry_after_small",  # 429 + Retry-After 1: a retry should follow
    "shuffled_times",  # items reversed with out-of-order timestamps
    "not_a_list",  # the items path holds an object / string / number
    "malformed",  # truncated JSON
    "more_without_cursor",  # has_more true but no way forward
)


class Adversary:
    """A transport that lets the real mock answer, then bends the reply per a drawn script."""

    def __init__(self, spec: ConnectorSpec, action: Action, script: list[str], draw: Any) -> None:
        self.spec = spec
        self.action = action
        self.mock = MockServer(spec, mock_options(spec))
        self.script = script
        self.draw = draw
        self.calls = 0
        self.previous: httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        # A hang guard: the hard cap times attempts is far below this.
        assert self.calls <= HARD_CAP * 3 + 10, "the executor keeps asking: runaway paging"
        real = self.mock.handler(request)
        what = self.script[self.calls - 1] if self.calls <= len(self.script) else "normal"
        return self.bend(what, real)

    def bend(self, what: str, real: httpx.Response) -> httpx.Response:
        pag = self.action.pagination
        assert pag is not None
        if what == "repeat" and self.previous is not None:
            return self.previous
        if what == "retry_after_huge":
            return httpx.Response(429, headers={"Retry-After": "86400"}, json={})
        if what == "retry_after_date":
            when = datetime.now(UTC) + timedelta(days=3)
            return httpx.Response(
                503, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}, json={}
            )
        if what == "retry_after_small":
            return httpx.Response(429, headers={"Retry-After": "1"}, json={})
        if what == "malformed":
            return httpx.Response(200, content=real.content[: len(real.content) // 2] + b'{"')
        if what == "error_body":
            codes = sorted({r.code for r in self.spec.errors.rules})
            shaped = error_response(self.spec, self.draw(st.sampled_from(codes)), "fuzzed")
            body = shaped[2] if shaped else {"error": "fuzzed"}
            return httpx.Response(200, json=body)
        body = real.json()
        items = get_path(body, pag.items_path, None) if pag.items_path else body
        if what == "empty":
            body = self._with_items(body, [])
        elif what == "shuffled_times" and isinstance(items, list):
            stamps = self.draw(st.lists(st.integers(0, 2**31), min_size=len(items)))
            pairs = zip(reversed(items), stamps, strict=False)
            bent = [_retime(item, stamp) for item, stamp in pairs]
            body = self._with_items(body, bent)
        elif what == "not_a_list":
            body = self._with_items(body, self.draw(st.sampled_from([{"a": 1}, "items", 7])))
        elif what == "more_without_cursor" and isinstance(body, dict):
            if pag.has_more_path:
                set_path(body, pag.has_more_path, True)
            for path in ("next_cursor_path", "next_url_path", "cursor_path"):
                if getattr(pag, path, None):
                    set_path(body, getattr(pag, path), None)
        response = httpx.Response(real.status_code, headers=real.headers, json=body)
        self.previous = response
        return response

    def _with_items(self, body: Any, items: Any) -> Any:
        pag = self.action.pagination
        assert pag is not None
        if not pag.items_path:
            return items
        set_path(body, pag.items_path, items)
        return body


def _retime(item: Any, stamp: int) -> Any:
    """Rewrite timestamp-looking fields (created, ts, *_at) to the drawn, unordered values."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    for key, value in item.items():
        if key in ("created", "ts") or key.endswith("_at"):
            if isinstance(value, int):
                out[key] = stamp
            elif isinstance(value, str):
                out[key] = (
                    f"{stamp}.000100"
                    if key == "ts"
                    else datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                )
    return out


PAGED_CASES = [
    (c, a.name) for c in CONNECTORS for a in spec_of(c).actions if a.pagination is not None
]


@pytest.mark.parametrize(("connector", "action_name"), PAGED_CASES)
def test_adversarial_pages_end_cleanly(connector: str, action_name: str) -> None:
    spec = spec_of(connector)
    action = spec.action(action_name)
    inputs = valid_inputs(spec, action)

    @settings(SETTINGS, max_examples=30)
    @given(
        data=inputs,
        script=st.lists(st.sampled_from(BEHAVIOURS), min_size=1, max_size=6),
        draw=st.data(),
    )
    def check(data: dict[str, Any], script: list[str], draw: st.DataObject) -> None:
        data = {k: v for k, v in data.items() if k not in _pager_inputs(action)}
        adversary = Adversary(spec, action, script, draw.draw)
        sleeps: list[float] = []
        with executor_for(spec, httpx.MockTransport(adversary), sleeps.append) as ex:
            try:
                pages = list(ex.paginate(action_name, data).pages())
            except PatchbayError as exc:
                assert exc.code in ERROR_CODES
                _explain(exc, script, adversary.calls)
            except Exception as exc:  # the point of the test: nothing raw may escape
                pytest.fail(f"raw {type(exc).__name__} escaped for script {script}: {exc!r}")
            else:
                assert 1 <= len(pages) <= HARD_CAP
                assert all(isinstance(p.items, list) for p in pages)
                # Each page is one successful exchange; retries only add calls.
                assert adversary.calls >= len(pages)
        assert all(0 <= s <= MAX_WAIT for s in sleeps), f"slept {sleeps} for {script}"
        assert adversary.calls <= HARD_CAP * 3

    check()


def _pager_inputs(action: Action) -> set[str]:
    """Inputs the pager owns (a caller-set cursor would start mid-way, still legal but noisy)."""
    pag = action.pagination
    names = {getattr(pag, n, None) for n in ("cursor_param", "offset_param", "page_param")}
    return {n for n in names if isinstance(n, str)}


def _explain(exc: PatchbayError, script: list[str], calls: int) -> None:
    """The error must be one the script can cause at the step it was reached."""
    reached = script[:calls]
    allowed = {"bad_response"} if {"malformed", "not_a_list", "repeat"} & set(reached) else set()
    if {"retry_after_huge", "retry_after_small"} & set(reached):
        allowed.add("rate_limited")
    if "retry_after_date" in reached:
        allowed |= {"upstream_unavailable", "rate_limited"}
    if "error_body" in reached:
        allowed |= set(ERROR_CODES)  # whatever the matched rule maps to
    assert exc.code in allowed, f"{exc.code} ({exc}) not explained by {reached}"
    if exc.code == "rate_limited" and "retry_after_huge" in reached:
        assert exc.retry_after is None or exc.retry_after > 0


def test_huge_retry_after_fails_fast_without_sleeping() -> None:
    """Pins the property the fuzzer relies on, so a regression names itself.

    Slack declares its Retry-After header; Stripe declares none, so there a 429 is retried with
    jittered backoff whatever Retry-After says (the spec decides, see the report).
    """
    spec = spec_of("slack")
    action = spec.action("list_users")
    adversary = Adversary(spec, action, ["retry_after_huge"], lambda s: None)
    sleeps: list[float] = []
    transport = httpx.MockTransport(adversary)
    with executor_for(spec, transport, sleeps.append) as ex, pytest.raises(PatchbayError) as caught:
        list(ex.paginate("list_users").pages())
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after == 86400
    assert sleeps == [] and adversary.calls == 1


# ------------------------------------------------------------- 1+4. schemathesis on the mocks


_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ALL_CONNECTORS = tuple(
    sorted(p.stem for p in ROOT.joinpath("specs").glob("*.json") if p.stem != "connector.schema")
)


@pytest.mark.parametrize("connector", ALL_CONNECTORS)
def test_schemathesis_is_clean(connector: str) -> None:
    report: FuzzReport = run_schemathesis(
        spec_of(connector), openapi_of(connector), max_examples=15, seed=0
    )
    document = openapi_of(connector)
    operations = [m for item in document["paths"].values() for m in item if m in _METHODS]
    assert len(report.operations) == len(operations) >= len(spec_of(connector).actions)
    assert all(op.examples > 0 for op in report.operations), report.summary()
    assert sum(op.statuses[200] for op in report.operations) > 0, "nothing ever succeeded"
    assert not report.failures, "fuzzing failures:\n" + report.summary()


# ------------------------------------------------- regression tests for what the fuzzers found


def _stripe_client(spec: ConnectorSpec, mock: MockServer) -> httpx.Client:
    headers, _ = auth_for(spec, mock.options)
    transport = httpx.MockTransport(mock.handler)
    return httpx.Client(transport=transport, base_url="https://api.stripe.com", headers=headers)


def test_mock_routes_encoded_path_values() -> None:
    import asyncio

    spec = spec_of("stripe")
    mock = MockServer(spec, mock_options(spec))
    headers, _ = auth_for(spec, mock.options)

    async def get(path: str) -> int:
        transport = httpx.ASGITransport(app=mock.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get(path, headers=headers)).status_code

    # Charges: any id is found (customers that were never created are Stripe's 404 now).
    assert asyncio.run(get("/v1/charges/a%2Fb")) == 200
    assert asyncio.run(get("/v1/charges/a%1Bb")) == 200


def test_mock_delete_answers_in_the_delete_shape() -> None:
    spec = spec_of("stripe")
    mock = MockServer(spec, mock_options(spec))
    with _stripe_client(spec, mock) as client:
        made = client.post("/v1/customers", data={"name": "x"})  # unknown ids are Stripe's 404
        body = client.delete(f"/v1/customers/{made.json()['id']}").json()
    assert body.get("deleted") is True, body


def test_mock_never_echoes_wrongly_typed_input() -> None:
    spec = spec_of("github")
    mock = MockServer(spec, mock_options(spec))
    with executor_for(spec, mock.transport(), lambda s: None) as ex:
        issue = ex.call("create_issue", {"owner": "o", "repo": "r", "title": 100})
    assert isinstance(issue["title"], str), issue["title"]


def test_mock_synthesis_honours_pattern() -> None:
    spec = spec_of("slack")
    mock = MockServer(spec, mock_options(spec))
    with executor_for(spec, mock.transport(), lambda s: None) as ex:
        message = ex.call("post_message", {"channel": "C1", "text": "hi"})
    assert re.fullmatch(r"[0-9]+\.[0-9]+", message["ts"]), message


def test_openapi_200_admits_slack_error_bodies() -> None:
    schema = openapi_of("slack")
    ok = schema["paths"]["/chat.postMessage"]["post"]["responses"]["200"]
    body_schema = {**ok["content"]["application/json"]["schema"]}
    body_schema["components"] = schema["components"]
    validator = Draft202012Validator(body_schema)
    assert validator.is_valid({"ok": False, "error": "invalid_arguments"})


def test_empty_comma_list_sends_nothing() -> None:
    spec = spec_of("github")
    mock = MockServer(spec, mock_options(spec))
    with executor_for(spec, mock.transport(), lambda s: None) as ex:
        ex.call("list_repos_for_authenticated_user", {"affiliation": []})
    assert mock.requests[0].query == []


# ------------------------------------- 2c. the fast input check agrees with jsonschema's verdict

AGREEMENT = settings(SETTINGS, max_examples=10)


@st.composite
def candidate_inputs(draw: st.DrawFn, spec: ConnectorSpec, action: Action) -> Any:
    """A near-valid input, left alone or broken one way (unknown key, dropped key, wrong type,
    not an object at all)."""
    data = dict(draw(near_valid_inputs(spec, action)))
    props = input_schema(action, spec.defs)["properties"]
    way = draw(st.sampled_from(["as is", "unknown", "drop", "type", "not an object"]))
    if way == "unknown":
        data[draw(_TEXT.filter(lambda k: k not in props))] = draw(_JSON_SCALARS)
    elif way == "drop" and data:
        data.pop(draw(st.sampled_from(sorted(data))))
    elif way == "type" and props:
        key = draw(st.sampled_from(sorted(props)))
        data[key] = draw(_JSON_SCALARS | st.lists(_JSON_SCALARS, max_size=2))
    elif way == "not an object":
        return draw(_JSON_SCALARS | st.lists(_JSON_SCALARS, max_size=2))
    return data


def _check_agreement(spec: ConnectorSpec, action: Action, verdicts: set[bool]) -> None:
    schema = input_schema(action, spec.defs)
    slow = input_validator_class()(schema)
    fast = fast_validator(schema)
    assert fast is not None, f"{spec.name}.{action.name}: jsonschema-rs cannot compile it"

    @AGREEMENT
    @given(data=candidate_inputs(spec, action))
    def check(data: Any) -> None:
        verdict = slow.is_valid(data)
        assert fast(data) is verdict, f"{action.name}: jsonschema says {verdict} for {data!r}"
        verdicts.add(verdict)

    check()


@pytest.mark.parametrize("connector", ALL_CONNECTORS)
def test_fast_input_check_agrees_with_jsonschema(connector: str) -> None:
    """The executor trusts jsonschema-rs's "valid" without asking jsonschema: on generated
    inputs for every action, valid and invalid, both validators give the same verdict."""
    spec = spec_of(connector)
    verdicts: set[bool] = set()
    for action in spec.actions:
        _check_agreement(spec, action, verdicts)
    assert verdicts == {True, False}, "the generated inputs must include valid and invalid ones"
