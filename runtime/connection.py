"""What one connected account is: the variables and credentials an executor runs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .errors import ConfigError
from .redaction import REDACTED
from .spec import ConnectorSpec
from .templating import render


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


def resolve_variables(spec: ConnectorSpec, connection: Connection) -> dict[str, str]:
    """Connection variables after defaults, enum checks and value maps (``region`` -> host)."""
    resolved: dict[str, str] = {}
    for name, var in spec.connection.variables.items():
        value = connection.variables.get(name, var.default)
        if value is None:
            continue
        if var.enum is not None and value not in var.enum:
            raise ConfigError(
                f"connection variable {name!r} must be one of {var.enum}, got {value!r}",
                connector=spec.name,
            )
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
