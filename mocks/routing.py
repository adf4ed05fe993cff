"""The router: which spec action a request was for, with which path parameters.

The mock server (paths under its mount), the recorder and replay (absolute vendor URLs, or
URLs of a local stand-in for the vendor) all ask this one question, so a spec's actions are
compiled into routes once, here, and every caller agrees on the answer.

A route's template is the base URL's path plus the action's path (a continue endpoint and the
spec's test-connection probe are routes too). Precedence, when several routes match one path:

1. Segment by segment from the left, a literal segment beats one mixing literal text with a
   variable (``{sid}.json``), which beats a bare variable: ``/files/list`` beats
   ``/files/{id}``, and the longer literal prefix wins (``/a/b/{y}`` beats ``/a/{x}/c``).
   Between two mixed segments, the one with more literal text wins.
2. Routes of the same shape keep spec order: actions, each followed by its continue endpoint,
   then the probe (so an action sharing the probe's path answers as itself).

Matching is on the raw, percent-encoded path: an encoded ``/`` stays inside its segment, and
parameter values are decoded afterwards. Query strings and fragments are ignored; a trailing
slash or an empty segment is a different path. Method and path are matched separately, so a
caller can tell "no route for this path" from "this path, another method" (:meth:`allowed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from patchbay.runtime.spec import Action, ConnectorSpec, ContinueEndpointPagination

PROBE = "test_connection"
_VAR = re.compile(r"(\{[^{}]+\})")


def _base(template: str, variables: dict[str, str]) -> tuple[str, str]:
    """A base URL template as (origin template, path template without a trailing slash), known
    variables filled in; unknown ones stay placeholders and match any value. A leading variable
    is the whole origin (Salesforce's ``{instance_url}``) unless its value is known."""
    if template.startswith("{"):
        name, rest = template[1:].split("}", 1)
        value = variables.get(name, "")
        if "://" not in value:
            return "{" + name + "}", _fill(rest, variables).rstrip("/")
        template = value + rest
    scheme, sep, rest = template.partition("://")
    if not sep:
        scheme, rest = "", template
    host, slash, path = rest.partition("/")
    return _fill(f"{scheme}{sep}{host}", variables), _fill(slash + path, variables).rstrip("/")


def _fill(template: str, variables: dict[str, str]) -> str:
    return _VAR.sub(lambda m: variables.get(m.group(1)[1:-1], m.group(1)), template)


def _segment_rank(segment: str) -> tuple[int, int]:
    """How specific one template segment is: literal > mixed (by literal length) > variable.
    Two literal segments rank equal: if both match a path they are the same text."""
    parts = _VAR.split(segment)
    if len(parts) == 1:
        return (2, 0)
    literal = sum(len(p) for p in parts[0::2])
    return (1, literal) if literal else (0, 0)


def _regex(template: str, host: bool = False) -> tuple[str, tuple[str, ...]]:
    """A template as a regex (one group per variable, in order) and the variable names."""
    parts = _VAR.split(template)
    value = "[^/]+?" if host else "[^/]+"
    regex = "".join(f"({value})" if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return regex, tuple(p[1:-1] for p in parts[1::2])


@dataclass(frozen=True)
class _Origin:
    """The origin part of a base URL template: scheme and host, variables captured."""

    pattern: re.Pattern[str]
    names: tuple[str, ...]

    @classmethod
    def of(cls, template: str) -> _Origin:
        if template.startswith("{"):  # the variable is the whole origin
            return cls(re.compile(r"(https?://[^/]+)"), (template[1:-1],))
        regex, names = _regex(template, host=True)
        return cls(re.compile(regex), names)

    def match(self, origin: str) -> dict[str, str] | None:
        m = self.pattern.fullmatch(origin)
        return None if m is None else dict(zip(self.names, m.groups(), strict=True))


@dataclass(frozen=True)
class Route:
    """One method and path template answering for an action."""

    action: Action
    method: str
    template: str  # mount + base path + action (or continue) path
    pattern: re.Pattern[str]
    names: tuple[str, ...]  # the template's variables, in order
    base_count: int  # how many of them belong to the base URL
    origin: _Origin
    continuation: bool = False
    probe: bool = False

    def __repr__(self) -> str:
        kind = " (continue)" if self.continuation else " (probe)" if self.probe else ""
        return f"<Route {self.method} {self.template} -> {self.action.name}{kind}>"

    @property
    def precedence(self) -> tuple[tuple[int, int], ...]:
        """Higher sorts first (see the module docstring)."""
        return tuple(_segment_rank(s) for s in self.template.split("/"))


@dataclass(frozen=True)
class RouteMatch:
    """A route that answers a request: the action's path parameters and the connection
    variables the URL carries (host parts such as ``{subdomain}`` when an absolute URL was
    matched, base-path parts such as Twilio's ``{account_sid}``), decoded, and mapped back
    through a variable's value map where one applies (``api.eu.mailgun.net`` -> ``eu``)."""

    route: Route
    path_params: dict[str, str]
    variables: dict[str, str]

    @property
    def action(self) -> Action:
        return self.route.action

    @property
    def continuation(self) -> bool:
        return self.route.continuation


class Router:
    """A spec's actions compiled into routes once; :meth:`match` answers a method and either a
    path (the mock's view, ``mount`` included) or an absolute URL (the recorder's view).

    ``variables`` fixes base-URL variables (a mock configured for one Twilio account answers
    only that account's paths); unknown ones match any value. Hosts in ``stand_ins`` (a local
    server standing in for the vendor) match on the path alone. ``probe`` adds the spec's
    test-connection request as a route whose action is named ``test_connection``.
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        stand_ins: Iterable[str] = (),
        *,
        variables: dict[str, str] | None = None,
        mount: str = "",
        probe: bool = False,
    ) -> None:
        self.spec = spec
        self.stand_ins = {h.lower() for h in stand_ins}
        declared = spec.connection.variables
        # A variable's value map applies before templating (Mailgun's region "eu" is a host):
        # fixed values are mapped in, values read off a URL are mapped back.
        self.variables = {
            name: (declared[name].map or {}).get(value, value) if name in declared else value
            for name, value in (variables or {}).items()
        }
        self._unmap = {
            name: {host: key for key, host in var.map.items()}
            for name, var in declared.items()
            if var.map
        }
        self.mount = mount.rstrip("/")
        routes: list[Route] = []
        for action in spec.actions:
            base = action.base_url or spec.connection.base_url
            routes.append(self._compile(action, action.method, base, action.path))
            # Methods the vendor also takes for this action (Slack: GET or POST).
            for other in action.mock.methods if action.mock else ():
                if other != action.method:
                    routes.append(self._compile(action, other, base, action.path))
            # Other paths the vendor answers it on (HubSpot's v3 paths).
            for alias in action.mock.aliases if action.mock else ():
                for method in {action.method, *(action.mock.methods if action.mock else [])}:
                    routes.append(self._compile(action, method, base, alias))
            pag = action.pagination
            if isinstance(pag, ContinueEndpointPagination):
                routes.append(
                    self._compile(
                        action, pag.continue_method, base, pag.continue_path, continuation=True
                    )
                )
        if probe:
            tc = spec.test_connection
            action = Action(name=PROBE, method=tc.method, path=tc.path)
            routes.append(
                self._compile(action, tc.method, spec.connection.base_url, tc.path, probe=True)
            )
        # Most specific first; sorting is stable, so routes of one shape keep spec order.
        self.routes = tuple(sorted(routes, key=lambda r: r.precedence, reverse=True))
        self._table: dict[tuple[str, int], list[Route]] = {}
        for route in self.routes:
            key = (route.method, route.template.count("/"))
            self._table.setdefault(key, []).append(route)
        self._methods = tuple(sorted({r.method for r in self.routes}))

    def _compile(
        self,
        action: Action,
        method: str,
        base: str,
        path: str,
        *,
        continuation: bool = False,
        probe: bool = False,
    ) -> Route:
        origin, base_path = _base(base, self.variables)
        template = self.mount + base_path + path
        regex, names = _regex(template)
        return Route(
            action,
            method,
            template,
            pattern=re.compile(regex),
            names=names,
            base_count=len(_VAR.findall(self.mount + base_path)),
            origin=_Origin.of(origin),
            continuation=continuation,
            probe=probe,
        )

    def vendor_origins(self) -> list[str]:
        """The vendor's own origins as templates (``https://{subdomain}.zendesk.com``; known
        variables filled in), for finding the vendor's URLs in a recorded or documented answer.
        An origin that is a whole variable (Salesforce's ``{instance_url}``) names no host and
        is left out."""
        bases = {self.spec.connection.base_url}
        bases |= {a.base_url for a in self.spec.actions if a.base_url is not None}
        origins = {_base(base, self.variables)[0] for base in bases}
        return sorted(o for o in origins if not o.startswith("{"))

    @property
    def base_path(self) -> str:
        """The path of the connection's base URL as routed (Twilio's
        ``/2010-04-01/Accounts/{account_sid}``; ``""`` for a bare origin), mount excluded."""
        return _base(self.spec.connection.base_url, self.variables)[1]

    def match(self, method: str, target: str) -> RouteMatch | None:
        """The route answering ``method`` on ``target``: a raw path (``/v1/customers/a%2Fb``)
        or an absolute URL; None when no route does (see :meth:`allowed` for why)."""
        origin = None
        if target.startswith("/"):
            path = target.partition("?")[0].partition("#")[0]
        else:
            parts = urlsplit(target)
            path = parts.path
            if parts.netloc.lower() not in self.stand_ins:
                origin = f"{parts.scheme}://{parts.netloc}"
        for route in self._table.get((method.upper(), path.count("/")), ()):
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            variables: dict[str, str] = {}
            if origin is not None:
                found = route.origin.match(origin)
                if found is None:
                    continue
                variables.update(found)
            values = [unquote(v) for v in m.groups()]
            n = route.base_count
            variables.update(zip(route.names[:n], values[:n], strict=True))
            params = dict(zip(route.names[n:], values[n:], strict=True))
            if self._unmap:
                variables = {k: self._unmap.get(k, {}).get(v, v) for k, v in variables.items()}
            return RouteMatch(route, params, variables)
        return None

    def allowed(self, target: str) -> tuple[str, ...]:
        """The methods some route answers on ``target``: empty when the path is unknown, else a
        method mismatch (what an HTTP server would answer 405 for)."""
        return tuple(m for m in self._methods if self.match(m, target) is not None)
