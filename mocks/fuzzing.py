"""Schema fuzzing of a connector's mock: schemathesis against the in-process ASGI app.

Every operation of ``generated/<connector>/openapi.json`` gets generated requests carrying the
auth the spec requires; each response must not be a 5xx and a 2xx must match its documented
schema. Failures are collected (deduplicated per operation, with a curl line to reproduce) rather
than raised, so one run tells everything that is wrong instead of stopping at the first problem.
"""

from __future__ import annotations

import base64
import copy
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime.http import render
from patchbay.runtime.spec import (
    ApiKeyAuth,
    AuthVariant,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    OAuth2Auth,
)

__all__ = [
    "FuzzFailure",
    "FuzzReport",
    "OperationReport",
    "auth_for",
    "mock_options",
    "run_schemathesis",
]


@dataclass
class FuzzFailure:
    """One distinct problem of one operation; ``count`` is how many generated cases hit it."""

    kind: str  # "server_error" | "schema_violation" | "crash" | "check_error"
    summary: str
    status: int | None
    reproduction: str
    body: str = ""  # the start of the response body, when there was one
    count: int = 1

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        body = f"\n      body: {self.body}" if self.body else ""
        return f"{self.kind}{status} x{self.count}: {self.summary}\n      {self.reproduction}{body}"


# Values that differ between cases of one problem (positions, quoted data, numbers).
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


def _signature(failure: FuzzFailure) -> tuple[str, str]:
    return failure.kind, _VARYING.sub("_", failure.summary)


@dataclass
class OperationReport:
    """What one operation answered: examples sent, statuses seen, distinct failures."""

    operation: str
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[FuzzFailure] = field(default_factory=list)

    def add(self, failure: FuzzFailure) -> None:
        for known in self.failures:
            if _signature(known) == _signature(failure):
                known.count += 1
                return
        self.failures.append(failure)


@dataclass
class FuzzReport:
    """The outcome of fuzzing one connector's mock."""

    connector: str
    max_examples: int
    seed: int
    operations: list[OperationReport] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, FuzzFailure]]:
        return [(op.operation, f) for op in self.operations for f in op.failures]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def examples(self) -> int:
        return sum(op.examples for op in self.operations)

    def summary(self) -> str:
        """A readable table and every failure, for assertion messages and the console."""
        lines = [f"{self.connector}: {self.examples} requests, {len(self.failures)} failure(s)"]
        for op in self.operations:
            statuses = ", ".join(f"{s}x{n}" for s, n in sorted(op.statuses.items()))
            lines.append(f"  {op.operation:<55} {op.examples:>4}  [{statuses}]")
            lines += [f"    - {f}" for f in op.failures]
        return "\n".join(lines)


def mock_options(spec: ConnectorSpec) -> MockOptions:
    """The mock set-up fuzzing uses: default credentials, no golden fixtures (synthetic data)."""
    return MockOptions(credentials=default_credentials(spec), golden_root=None)


def auth_for(
    spec: ConnectorSpec, options: MockOptions, variant: AuthVariant | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query parameters that satisfy the mock for ``variant`` (default: the first).

    Mirrors how the executor signs requests, so the fuzzer passes the auth check and reaches
    the interesting code instead of collecting 401s.
    """
    variant = variant or spec.auth[0]
    values = {**options.variables, **(options.credentials or default_credentials(spec))}
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    if isinstance(variant, BearerAuth):
        headers[variant.header] = variant.prefix + render(variant.token, values)
    elif isinstance(variant, ApiKeyAuth):
        target = headers if variant.in_ == "header" else query
        for param in variant.params:
            target[param.name] = param.prefix + render(param.value, values)
    elif isinstance(variant, BasicAuth):
        pair = f"{render(variant.username, values)}:{render(variant.password, values)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif isinstance(variant, OAuth2Auth):
        headers[variant.header] = variant.prefix + options.access_tokens[0]
    return headers, query


def _curl(case: Any, headers: dict[str, str]) -> str:
    try:
        return str(case.as_curl_command(headers=headers))
    except Exception as exc:  # a malformed case can break curl rendering too
        return f"<no curl: {type(exc).__name__}>; case={case!r}"


def _excerpt(response: Any, limit: int = 300) -> str:
    try:
        text = str(response.text)
    except Exception:  # undecodable bytes: the status and check message still say enough
        return ""
    return text if len(text) <= limit else text[:limit] + "..."


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _fuzz_operation(
    operation: Any,
    report: OperationReport,
    *,
    headers: dict[str, str],
    query: dict[str, str],
    max_examples: int,
    seed: int,
) -> None:
    """Run one operation's generated cases through the app; record instead of raising."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import response_schema_conformance

    checks = [not_a_server_error, response_schema_conformance]

    @hypothesis_seed(seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        report.examples += 1
        try:
            response = case.call(headers=headers, params=query or None)
        except Exception as exc:  # the app raised: a real server would answer 500
            report.add(
                FuzzFailure(
                    "crash",
                    f"the mock raised {type(exc).__name__}: {_first_line(str(exc))}",
                    None,
                    _curl(case, headers),
                )
            )
            return
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                kind = "server_error" if response.status_code >= 500 else "schema_violation"
                detail = _first_line(failure.message) or failure.title
                report.add(
                    FuzzFailure(
                        kind,
                        f"{failure.title}: {detail}",
                        response.status_code,
                        _curl(case, headers),
                        _excerpt(response),
                    )
                )
        except Exception as exc:  # a check itself broke: report it, it is not a pass
            report.add(
                FuzzFailure(
                    "check_error",
                    f"{type(exc).__name__}: {_first_line(str(exc))}",
                    response.status_code,
                    _curl(case, headers),
                )
            )

    run()


def run_schemathesis(
    spec: ConnectorSpec,
    openapi: dict[str, Any],
    *,
    max_examples: int,
    seed: int,
    server: MockServer | None = None,
) -> FuzzReport:
    """Fuzz every operation of ``openapi`` against the spec's mock, in process (no sockets).

    ``server`` lets a caller inspect the mock afterwards; by default a fresh one is built with
    :func:`mock_options`. One server serves all operations, so state carries across them (a
    created or deleted resource is seen by the next operation), as with a real vendor.
    """
    import schemathesis
    from schemathesis.core.result import Ok

    server = server or MockServer(spec, mock_options(spec))
    headers, query = auth_for(spec, server.options)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi), config=schemathesis.Config())
    schema.app = server.app
    report = FuzzReport(spec.name, max_examples, seed)
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # the document itself is broken: not a mock finding
            raise result.err()
        operation = result.ok()
        op_report = OperationReport(operation.label)
        report.operations.append(op_report)
        _fuzz_operation(
            operation,
            op_report,
            headers=headers,
            query=query,
            max_examples=max_examples,
            seed=seed,
        )
    return report
