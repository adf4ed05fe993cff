"""The contract suite: every golden fixture of every action, through the generated client,
against the spec-driven mock.

Each case calls the action's generated method with the fixture's input; the mock must receive
the fixture's request and answer from the fixture; the response must validate against the
action's output schema and decode into the generated model (or, for an error fixture, raise the
normalized error the spec maps it to). ``run_case`` returns a normalized record that the tests
snapshot; ``patchbay contract`` prints a table of the same results.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import httpx
from jsonschema import Draft202012Validator
from pydantic import BaseModel, SecretStr

from patchbay.codegen.contexts import RESERVED_KWARGS
from patchbay.mocks.golden import GOLDEN_DIR, Fixture, all_fixtures, decode_body, multi
from patchbay.mocks.request_parsing import multipart_fields
from patchbay.mocks.routing import Router
from patchbay.mocks.server import MockOptions, MockServer, default_credentials, default_variables
from patchbay.runtime import PatchbayError, StaticTokenProvider
from patchbay.runtime.http import Credentials
from patchbay.runtime.spec import Action, ConnectorSpec, OAuth2Auth, SpecRegistry


@dataclass(frozen=True)
class ContractCase:
    connector: str
    action: str
    name: str
    path: Path
    fixture: Fixture

    @property
    def id(self) -> str:
        return f"{self.connector}.{self.action}.{self.name}"


@dataclass
class ContractResult:
    case: ContractCase
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def contract_cases(
    registry: SpecRegistry, golden_root: Path = GOLDEN_DIR, connectors: list[str] | None = None
) -> list[ContractCase]:
    """Cases of the named connectors (bundled ones too), else of the project's own."""
    cases = []
    for name in connectors or registry.names():
        for action, found in all_fixtures(name, golden_root).items():
            for path, fixture in found:
                cases.append(ContractCase(name, action, path.stem, path, fixture))
    return cases


def missing_fixtures(
    registry: SpecRegistry, golden_root: Path = GOLDEN_DIR, connectors: list[str] | None = None
) -> list[str]:
    """``connector.action`` for every action that has no golden fixture."""
    out = []
    for name in connectors or registry.names():
        have = {a for a, found in all_fixtures(name, golden_root).items() if found}
        out += [f"{name}.{a.name}" for a in registry.get(name).actions if a.name not in have]
    return out


# The bundled clients' package; a user's project passes its own (``generate --package``).
DEFAULT_PACKAGE = "patchbay.connectors"


def _client_module(connector: str, package: str = DEFAULT_PACKAGE) -> Any:
    return importlib.import_module(f"{package}.{connector}.client")


def _credentials(module: Any, spec: ConnectorSpec, values: dict[str, str]) -> Credentials:
    variant = spec.auth[0]
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, Credentials) and obj.variant == variant.name:
            if isinstance(variant, OAuth2Auth):
                cred: Credentials = cast(Any, obj)(
                    token_provider=StaticTokenProvider("mock_access_token")
                )
                return cred
            kwargs = {
                name: SecretStr(values[info.alias or name])
                if info.annotation is SecretStr
                else values[info.alias or name]
                for name, info in obj.model_fields.items()
            }
            made: Credentials = obj(**kwargs)
            return made
    raise LookupError(f"no generated credentials class for {spec.name}.{variant.name}")


def _kwargs(
    client: Any, method: str, input_class: type[BaseModel], data: dict[str, Any]
) -> dict[str, Any]:
    params = inspect.signature(getattr(client, method)).parameters
    out = {}
    for name, info in input_class.model_fields.items():
        wire = info.alias or name
        if wire in data:
            kwarg = f"{name}_" if name in RESERVED_KWARGS else name
            if kwarg not in params:
                raise LookupError(f"generated method {method} has no argument for {wire!r}")
            out[kwarg] = data[wire]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def _output_problems(spec: ConnectorSpec, action: Action, body: Any) -> list[str]:
    schema = dict(action.output.schema_)
    if not schema or action.output.format != "json":
        return []
    if spec.defs:
        schema["$defs"] = spec.defs
    validator = Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(body):
        where = "/".join(map(str, error.absolute_path))
        problems.append(
            f"response body does not match the output schema at /{where}: {error.message}"
        )
    return problems


def fixture_variables(spec: ConnectorSpec, action: Action, fixture: Fixture) -> dict[str, str]:
    """Connection variables the fixture's request implies: read off its path by the router
    where the base URL carries them (Twilio's account SID), else defaults or obvious fakes."""
    values = default_variables(spec, action.base_url or spec.connection.base_url)
    found = Router(spec).match(fixture.request.method, fixture.request.path)
    if found is not None:
        values.update(found.variables)
    return values


def run_case(
    spec: ConnectorSpec,
    case: ContractCase,
    *,
    mount: str = "",
    transport_for: Callable[[MockServer], httpx.BaseTransport] | None = None,
    package: str = DEFAULT_PACKAGE,
) -> ContractResult:
    """Run one case in-process, or (``mount`` + ``transport_for``) against the same mock served
    some other way, e.g. under ``mock serve``'s ``/<connector>`` prefix over real HTTP."""
    result = ContractResult(case)
    fixture = case.fixture
    action = spec.action(case.action)
    module = _client_module(spec.name, package)
    models = importlib.import_module(f"{package}.{spec.name}.models")
    creds = default_credentials(spec)
    variables = fixture_variables(spec, action, fixture)
    # Only this case's fixture, so a documented success and error for the same request
    # (Slack's already_reacted) never shadow each other.
    options = MockOptions(
        fixtures={action.name: [fixture]}, credentials=creds, variables=variables, mount=mount
    )
    server = MockServer(spec, options)
    transport = transport_for(server) if transport_for is not None else server.transport()
    client_cls: Any = next(
        obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and name.endswith("Client")
        and not name.startswith("Async")
        and obj.__module__ == module.__name__
    )
    client = client_cls(_credentials(module, spec, creds), variables=variables, transport=transport)
    from patchbay.codegen.naming import pascal, snake

    method = snake(action.name)
    input_class = getattr(models, f"{pascal(action.name)}Input")
    try:
        kwargs = _kwargs(client, method, input_class, fixture.input)
        outcome: Any
        if action.pagination is not None:
            outcome = next(iter(getattr(client, method)(**kwargs, max_pages=1).pages()), None)
            typed = list(getattr(client, method)(**kwargs, max_pages=1))
            outcome = {"items": _plain(typed)}
        else:
            outcome = {"result": _plain(getattr(client, method)(**kwargs))}
    except PatchbayError as exc:
        outcome = {"error": exc.code, "status": exc.status}
    except Exception as exc:  # a model that does not decode is a contract failure, not a crash
        result.problems.append(f"{type(exc).__name__}: {exc}")
        outcome = {"crash": type(exc).__name__}
    client.close()
    first = next((r for r in server.requests if r.action == action.name), None)
    if first is not None and mount:
        first = replace(first, path=first.path.removeprefix(mount.rstrip("/")))
    if first is None:
        result.problems.append("the mock received no request for this action")
    else:
        req = fixture.request
        if (first.method, first.path) != (req.method, req.path):
            result.problems.append(
                f"request went to {first.method} {first.path}, fixture has {req.method} {req.path}"
            )
    if first is not None and server.fixture_hits == 0:
        differences = request_differences(
            fixture, first.method, first.path, first.query, first.body, first.headers
        )
        result.problems.append(
            "the mock did not answer from the fixture (its request never matched)"
            + (": " + "; ".join(differences) if differences else "")
        )
    expected_error = fixture.response.status >= 400 or _is_body_error(spec, fixture)
    if expected_error and "error" not in outcome:
        result.problems.append("the fixture is an error response but the client did not raise")
    if not expected_error:
        if "error" in outcome:
            result.problems.append(f"the client raised {outcome['error']} for a success fixture")
        result.problems += [
            f"{case.path}: {problem}"
            for problem in _output_problems(spec, action, fixture.response.body)
        ]
    result.record = {
        "request": {
            "method": first.method if first else None,
            "path": first.path if first else None,
            "query": sorted(first.query) if first else [],
            "body": _decoded(first.body, first.headers) if first else None,
        },
        "response": {"status": fixture.response.status, **outcome},
    }
    return result


def _is_body_error(spec: ConnectorSpec, fixture: Fixture) -> bool:
    """True when a 2xx fixture is an error by the spec's rules (Slack's ``ok: false``)."""

    from patchbay.runtime.http import match_holds

    headers = httpx.Headers(fixture.response.headers)
    return any(
        match_holds(rule.when, fixture.response.status, headers, fixture.response.body)
        for rule in spec.errors.rules
    )


_ABSENT = object()


def _shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def request_differences(
    fixture: Fixture,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes,
    headers: dict[str, str],
) -> list[str]:
    """Why a sent request does not match the fixture's, field by field (what the mock's
    fixture lookup compares: method, path, each query key and each body field it names)."""
    req = fixture.request
    out: list[str] = []
    if (method, path) != (req.method, req.path):
        out.append(f"sent {method} {path}, fixture has {req.method} {req.path}")
    sent_query = multi(query)
    for key, want in sorted(req.query.items()):
        got = sent_query.get(key)
        if got != want:
            shown = "not sent" if got is None else f"sent {_shown(got)}"
            out.append(f"query {key!r}: {shown}, fixture has {_shown(want)}")
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    sent_body = decode_body(body, content_type)
    if isinstance(req.body, dict):
        if not isinstance(sent_body, dict):
            out.append(f"body: sent {_shown(sent_body)}, fixture has an object")
        else:
            for key, want in sorted(req.body.items()):
                got = sent_body.get(key, _ABSENT)
                if got != want:
                    shown = "not sent" if got is _ABSENT else f"sent {_shown(got)}"
                    out.append(f"body field {key!r}: {shown}, fixture has {_shown(want)}")
    elif req.body is not None and req.body != sent_body:
        out.append(f"body: sent {_shown(sent_body)}, fixture has {_shown(req.body)}")
    return out


def _decoded(body: bytes, headers: dict[str, str]) -> Any:
    """The request body for a snapshot: JSON decoded, multipart as its fields (the boundary is
    random), anything else as text."""
    if not body:
        return None
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "multipart/form-data" in content_type:
        return multipart_fields(body, content_type)
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def run_suite(
    registry: SpecRegistry,
    connectors: list[str] | None = None,
    golden_root: Path = GOLDEN_DIR,
    package: str = DEFAULT_PACKAGE,
) -> dict[str, list[ContractResult]]:
    """Every fixture of the registry's connectors (or the named ones) as a contract case."""
    results: dict[str, list[ContractResult]] = {}
    for case in contract_cases(registry, golden_root, connectors):
        if connectors and case.connector not in connectors:
            continue
        spec = registry.get(case.connector)
        results.setdefault(case.connector, []).append(run_case(spec, case, package=package))
    return results
