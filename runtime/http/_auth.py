"""Auth injectors: how a request is signed for each auth variant of a spec.

Static credentials (bearer, api_key, basic) are rendered once per executor, so signing a request
costs a dict update. OAuth2 tokens come from a :class:`TokenProvider`, asked
before every attempt by the request flow, which is how a forced refresh after an expiry signal
reaches the next attempt.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http._connection import Connection, render_config
from patchbay.runtime.spec._model import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ConnectorSpec,
    OAuth2Auth,
)


@dataclass(frozen=True, slots=True)
class AuthInjector:
    """Headers and query parameters to add to every request, plus an optional token header."""

    variant: str
    headers: dict[str, str] = field(default_factory=dict)
    params: tuple[tuple[str, str], ...] = ()
    token_header: str | None = None
    token_prefix: str = ""
    refreshable: bool = False
    secrets: tuple[str, ...] = ()
    sensitive_headers: tuple[str, ...] = ()
    sensitive_params: tuple[str, ...] = ()

    @property
    def needs_token(self) -> bool:
        return self.token_header is not None

    def apply(
        self, headers: dict[str, str], params: list[tuple[str, str]], token: str | None
    ) -> None:
        if self.headers:
            headers.update(self.headers)
        if self.params:
            names = {name for name, _ in self.params}
            params[:] = [p for p in params if p[0] not in names]
            params.extend(self.params)
        if self.token_header is not None:
            if token is None:
                raise ConfigError("an OAuth2 connection needs a token provider", action=None)
            headers[self.token_header] = self.token_prefix + token


def select_variant(
    spec: ConnectorSpec, connection: Connection
) -> BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth:
    if connection.auth is None:
        return spec.auth[0]
    try:
        return spec.auth_variant(connection.auth)
    except KeyError:
        names = ", ".join(v.name for v in spec.auth)
        raise ConfigError(
            f"auth variant {connection.auth!r} does not exist (have: {names})", connector=spec.name
        ) from None


def build_auth(
    spec: ConnectorSpec, connection: Connection, variables: dict[str, str]
) -> AuthInjector:
    """Render the connection's credentials into an injector for its auth variant."""
    variant = select_variant(spec, connection)
    for name in variant.fields:
        if not connection.credentials.get(name):
            raise ConfigError(
                f"credential {name!r} is missing for auth variant {variant.name!r}",
                connector=spec.name,
            )
    values = {**variables, **connection.credentials}
    what = f"auth variant {variant.name!r}"

    def fill(template: str) -> str:
        return render_config(template, values, what=what, connector=spec.name)

    secrets = tuple(connection.credentials.values())
    if isinstance(variant, BearerAuth):
        token = fill(variant.token)
        return AuthInjector(
            variant.name,
            headers={variant.header: variant.prefix + token},
            secrets=(*secrets, token),
            sensitive_headers=(variant.header,),
        )
    if isinstance(variant, ApiKeyAuth):
        rendered = [(p.name, p.prefix + fill(p.value)) for p in variant.params]
        values_only = tuple(v for _, v in rendered)
        names = tuple(n for n, _ in rendered)
        if variant.in_ == "header":
            return AuthInjector(
                variant.name,
                headers=dict(rendered),
                secrets=(*secrets, *values_only),
                sensitive_headers=names,
            )
        return AuthInjector(
            variant.name,
            params=tuple(rendered),
            secrets=(*secrets, *values_only),
            sensitive_params=names,
        )
    if isinstance(variant, BasicAuth):
        pair = f"{fill(variant.username)}:{fill(variant.password)}"
        encoded = base64.b64encode(pair.encode()).decode()
        return AuthInjector(
            variant.name,
            headers={"Authorization": f"Basic {encoded}"},
            # The pair itself: the redactor derives every base64 form of it (and of the
            # password inside it) from the plain value.
            secrets=(*secrets, pair, encoded, fill(variant.password)),
            sensitive_headers=("Authorization",),
        )
    if connection.token_provider is None:
        raise ConfigError(
            f"auth variant {variant.name!r} is OAuth2: the connection needs a token provider",
            connector=spec.name,
        )
    return AuthInjector(
        variant.name,
        token_header=variant.header,
        token_prefix=variant.prefix,
        refreshable=variant.refresh.supported,
        secrets=secrets,
        sensitive_headers=(variant.header,),
    )
