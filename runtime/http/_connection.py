"""What one connected account is: the variables and credentials an executor runs with, how
they are checked before anything is sent or stored, and how they fill base URLs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http._redaction import REDACTED
from patchbay.runtime.http._templating import render, template_names
from patchbay.runtime.http._urls import (
    check_override,
    quote_segment,
    render_url,
)
from patchbay.runtime.spec._model import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    OAuth2Auth,
)
from patchbay.runtime.spec._values import url_templates, value_problem

AuthVariantModel = BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies OAuth2 access tokens; ``force_refresh`` is set after the vendor said 'expired'.

    The connections issue fills this with a store-backed provider that refreshes single-flight;
    the executor only asks for a token before each attempt.
    """

    def get_token(self, *, force_refresh: bool = False) -> str: ...

    async def aget_token(self, *, force_refresh: bool = False) -> str: ...


class StaticTokenProvider:
    """A provider for a token obtained elsewhere; it cannot refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *, force_refresh: bool = False) -> str:
        return self._token

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        return self._token

    def __repr__(self) -> str:
        return f"StaticTokenProvider({REDACTED})"


@dataclass(repr=False)
class Connection:
    """One account of one connector. ``repr`` never shows a credential value."""

    connector: str
    auth: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    token_provider: TokenProvider | None = None

    def __repr__(self) -> str:
        creds = ", ".join(f"{k}={REDACTED}" for k in sorted(self.credentials))
        return (
            f"Connection(connector={self.connector!r}, auth={self.auth!r}, "
            f"variables={sorted(self.variables)!r}, credentials={{{creds}}})"
        )

    def secret_values(self, spec: ConnectorSpec) -> list[str]:
        """Every value that must never be shown: credentials and secret variables."""
        values = list(self.credentials.values())
        for name, var in spec.connection.variables.items():
            if var.secret and name in self.variables:
                values.append(self.variables[name])
        return values


#: Shortest credential accepted: a shorter value could never be redacted by value.
MIN_CREDENTIAL_LENGTH = 4


def _header_names(spec: ConnectorSpec) -> set[str]:
    """Names whose values end up in a header: header templates, bearer tokens, header keys."""
    templates = list(spec.connection.headers.values())
    for action in spec.actions:
        templates += action.headers.values()
    for variant in spec.auth:
        if isinstance(variant, BearerAuth):
            templates.append(variant.token)
        elif isinstance(variant, ApiKeyAuth) and variant.in_ == "header":
            templates += [p.value for p in variant.params]
    return {name for t in templates for name in template_names(t)}


def origin_variables(spec: ConnectorSpec) -> set[str]:
    """Variables that are a whole origin somewhere (Salesforce's ``{instance_url}``), or say
    they are one (``format: https_origin``)."""
    names = {n for n, v in spec.connection.variables.items() if v.format == "https_origin"}
    for _, template in url_templates(spec):
        if template.startswith("{"):
            names.add(template_names(template)[0])
    return names


def check_variables(spec: ConnectorSpec, variables: Mapping[str, str]) -> None:
    """Every given connection variable has its declared enum, pattern and format and nothing
    that could break a URL or a header; the error names the variable, never its value."""
    in_headers = _header_names(spec) if variables else set()
    for name, value in variables.items():
        var = spec.connection.variables.get(name)
        enum = None
        if var is not None:
            enum = var.enum if var.enum is not None else (list(var.map) if var.map else None)
        problem = value_problem(
            value,
            pattern=var.pattern if var is not None else None,
            enum=enum,
            format=var.format if var is not None else None,
            header=name in in_headers,
        )
        if problem is not None:
            raise ConfigError(f"connection variable {name!r} {problem}", connector=spec.name)


def check_credentials(
    spec: ConnectorSpec, variant: AuthVariantModel, credentials: Mapping[str, str]
) -> None:
    """The credentials given for ``variant`` are acceptable: declared pattern and format, at
    least :data:`MIN_CREDENTIAL_LENGTH` characters, printable ASCII where a header carries
    them. Missing ones are left to the auth builder, which names them."""
    in_headers = _header_names(spec)
    for name, value in credentials.items():
        declared = variant.fields.get(name)
        if value == "" or declared is None:
            continue  # missing: the auth builder names it; undeclared: never sent
        if isinstance(value, str) and len(value) < MIN_CREDENTIAL_LENGTH:
            raise ConfigError(
                f"credential {name!r} is too short to be real "
                f"(at least {MIN_CREDENTIAL_LENGTH} characters)",
                connector=spec.name,
            )
        problem = value_problem(
            value,
            pattern=declared.pattern,
            format=declared.format,
            header=name in in_headers,
        )
        if problem is not None:
            raise ConfigError(f"credential {name!r} {problem}", connector=spec.name)


def check_connection(spec: ConnectorSpec, connection: Connection) -> None:
    """Check a connection's variables and its auth variant's credentials before any use."""
    check_variables(spec, connection.variables)
    if connection.credentials:
        try:
            variant = (
                spec.auth[0] if connection.auth is None else spec.auth_variant(connection.auth)
            )
        except KeyError:
            return  # the auth builder names the unknown variant
        check_credentials(spec, variant, connection.credentials)


def resolve_variables(spec: ConnectorSpec, connection: Connection) -> dict[str, str]:
    """Connection variables after checks (:func:`check_connection`), defaults and value maps
    (``region`` -> host)."""
    check_connection(spec, connection)
    resolved: dict[str, str] = {}
    for name, var in spec.connection.variables.items():
        value = connection.variables.get(name, var.default)
        if value is None:
            continue
        if var.map is not None:
            value = var.map[value]
        resolved[name] = value
    for name in connection.variables:
        if name not in spec.connection.variables:
            resolved.setdefault(name, connection.variables[name])
    return resolved


def render_config(template: str, values: dict[str, str], *, what: str, connector: str) -> str:
    """Render a connection-level template; a missing variable is a ``config`` error naming it."""

    def missing(name: str) -> ConfigError:
        return ConfigError(
            f"connection variable {name!r} is not set (needed by {what})", connector=connector
        )

    return render(template, values, missing=missing)


def render_base_url(
    spec: ConnectorSpec,
    template: str,
    values: Mapping[str, str],
    *,
    what: str,
    override: str | None = None,
) -> str:
    """A base (or OAuth) URL whose origin is the template's: host placeholders hold one DNS
    label (or a spec-authored mapped host), path placeholders one encoded segment, a leading
    origin placeholder exactly ``https://host[:port]``. ``override`` (``--base-url``) is the
    user's own choice and wins, but must be an http(s) URL."""
    if override is not None:

        def bad_override(url: str) -> ConfigError:
            return ConfigError(
                "the base URL override is not a valid http(s) URL "
                "(scheme://host[:port][/path], no spaces or fragment)",
                connector=spec.name,
            )

        return check_override(override, refuse=bad_override)
    declared = spec.connection.variables
    names = template_names(template)
    trusted = frozenset(
        n for n in names if (v := declared.get(n)) is not None and (v.map or v.enum) is not None
    )
    used = tuple((n, values[n]) for n in names if n in values)
    return _render_checked(spec.name, template, used, trusted, what)


@lru_cache(maxsize=512)
def _render_checked(
    connector: str,
    template: str,
    used: tuple[tuple[str, str], ...],
    trusted: frozenset[str],
    what: str,
) -> str:
    """The checks of :func:`render_base_url`, once per distinct input: ``request()`` renders
    the base URL on every call. Refusals are raised, so never cached."""

    def refuse(name: str, why: str) -> ConfigError:
        subject = f"connection variable {name!r}" if name else what
        return ConfigError(f"{subject} {why} (in {what})", connector=connector)

    def missing(name: str) -> ConfigError:
        return ConfigError(
            f"connection variable {name!r} is not set (needed by {what})", connector=connector
        )

    return render_url(
        template, dict(used), trusted=trusted.__contains__, refuse=refuse, missing=missing
    )


def render_path(path: str, values: Mapping[str, str], *, what: str, connector: str) -> str:
    """A path template with variables, each encoded as (part of) one path segment."""

    def missing(name: str) -> ConfigError:
        return ConfigError(
            f"connection variable {name!r} is not set (needed by {what})", connector=connector
        )

    return render(path, values, missing=missing, quote=quote_segment)


def connection_from_sources(
    spec: ConnectorSpec,
    *,
    auth: str | None = None,
    fields: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
) -> Connection:
    """A connection from explicit values, falling back to ``PATCHBAY_<CONNECTOR>_<NAME>`` env vars.

    Explicit values win; the environment fills credential fields and variables left unset.
    """
    environ = environ or {}
    try:
        variant = spec.auth[0] if auth is None else spec.auth_variant(auth)
    except KeyError:
        names = ", ".join(v.name for v in spec.auth)
        raise ConfigError(
            f"auth variant {auth!r} does not exist (have: {names})", connector=spec.name
        ) from None
    prefix = f"PATCHBAY_{spec.name.upper()}_"
    creds = dict(fields or {})
    for name in variant.fields:
        if name not in creds and prefix + name.upper() in environ:
            creds[name] = environ[prefix + name.upper()]
    values = dict(variables or {})
    for name in spec.connection.variables:
        if name not in values and prefix + name.upper() in environ:
            values[name] = environ[prefix + name.upper()]
    return Connection(spec.name, auth=variant.name, variables=values, credentials=creds)
