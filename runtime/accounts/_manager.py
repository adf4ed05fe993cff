"""The IntegrationManager: one entry point to run any action of any stored connection.

Routing: a registered bespoke client wins; otherwise the GenericExecutor runs the spec when
``GENERIC_EXECUTOR_ENABLED`` is on (environment or ``.env``); otherwise
:class:`ConnectorUnavailable` names the flag. Stored connections come from a token store, so
OAuth2 connections get a refreshing token provider without the caller doing anything.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TypeVar

import httpx

from patchbay.runtime.accounts._oauth import OAuthClient
from patchbay.runtime.accounts._token_store import TokenStore
from patchbay.runtime.errors import (
    ConfigError,
    ConnectorUnavailable,
    PatchbayError,
    describe_unexpected,
)
from patchbay.runtime.http._connection import Connection
from patchbay.runtime.http._executors import AsyncGenericExecutor, GenericExecutor
from patchbay.runtime.http._options import CallOptions, ExecutorOptions
from patchbay.runtime.settings import generic_executor_enabled
from patchbay.runtime.spec._model import ConnectorSpec
from patchbay.runtime.spec._registry import SpecRegistry


class ActionClient(Protocol):
    """What a bespoke client offers: the same ``call`` as the GenericExecutor."""

    def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = ...
    ) -> Any: ...


BespokeFactory = Callable[[GenericExecutor], ActionClient]
Route = Literal["bespoke", "generic"]
C = TypeVar("C")


class IntegrationManager:
    def __init__(
        self,
        registry: SpecRegistry | None = None,
        *,
        store: TokenStore | None = None,
        generic_enabled: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        options: ExecutorOptions | None = None,
        oauth_client: Callable[[str], OAuthClient] = OAuthClient.from_env,
        bespoke: Mapping[str, BespokeFactory] | None = None,
    ) -> None:
        self.registry = registry or SpecRegistry()
        self.store = store
        self.generic_enabled = (
            generic_executor_enabled() if generic_enabled is None else generic_enabled
        )
        self._transport = transport
        self._async_transport = async_transport
        self._options = options
        self._oauth_client = oauth_client
        # Handed in, never looked up: the runtime holds no connector's own code.
        self._bespoke: dict[str, BespokeFactory] = dict(bespoke or {})

    def register_bespoke(self, connector: str, factory: BespokeFactory) -> None:
        """Use hand-written code for ``connector`` (it gets a GenericExecutor to build on)."""
        self._bespoke[connector] = factory

    # -------------------------------------------------------------------------- routing

    def route(self, connector: str) -> Route:
        self.registry.get(connector)  # unknown connector -> config error naming close ones
        if connector in self._bespoke:
            return "bespoke"
        if self.generic_enabled:
            return "generic"
        raise ConnectorUnavailable(
            f"connector {connector!r} has no bespoke client and the generic executor is off; "
            "set GENERIC_EXECUTOR_ENABLED=true (environment or .env) or register a bespoke client",
            connector=connector,
        )

    # ---------------------------------------------------------------------- connections

    def connection(self, connection_id: str) -> tuple[ConnectorSpec, Connection]:
        """A stored connection, ready for an executor (OAuth2 gets a refreshing provider)."""
        from patchbay.runtime.accounts._connect import runtime_connection

        if self.store is None:
            raise ConfigError("this IntegrationManager has no token store")
        stored = self.store.get(connection_id)
        spec = self.registry.get(stored.connector)
        client = None
        if spec.auth_variant(stored.auth).type == "oauth2":
            client = self._oauth_client(spec.name)
        conn = runtime_connection(
            spec, stored, self.store, oauth_client=client, transport=self._transport
        )
        return spec, conn

    def client(self, connection: Connection | str) -> ActionClient:
        """The client the routing picks, for a runtime connection or a stored one's id."""
        if isinstance(connection, str):
            spec, connection = self.connection(connection)
        else:
            spec = self.registry.get(connection.connector)
        route = self.route(spec.name)
        executor = GenericExecutor(
            spec, connection, transport=self._transport, options=self._options
        )
        if route == "bespoke":
            return self._bespoke[spec.name](executor)
        return executor

    def execute(
        self,
        connection: Connection | str,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions | None = None,
    ) -> Any:
        """Run one action through whichever client the routing picks."""
        try:
            client = self.client(connection)
            try:
                return client.call(action, data, options or CallOptions())
            finally:
                close = getattr(client, "close", None)
                if callable(close):
                    close()
        except PatchbayError:
            raise
        except Exception as exc:  # a bespoke client's bug: still a Patchbay error, type only
            error = ConfigError(f"{describe_unexpected(exc)} in {action!r}", action=action)
        raise error

    call = execute

    async def aexecute(
        self,
        connection: Connection | str,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions | None = None,
    ) -> Any:
        """The async twin: the generic path runs on the AsyncGenericExecutor; a bespoke client
        runs in a worker thread (it is synchronous)."""
        try:
            if isinstance(connection, str):
                spec, conn = self.connection(connection)
            else:
                spec, conn = self.registry.get(connection.connector), connection
            if self.route(spec.name) == "bespoke":
                return await asyncio.to_thread(self.execute, conn, action, data, options)
            async with AsyncGenericExecutor(
                spec, conn, transport=self._async_transport, options=self._options
            ) as executor:
                return await executor.call(action, data, options or CallOptions())
        except PatchbayError:
            raise
        except Exception as exc:
            error = ConfigError(f"{describe_unexpected(exc)} in {action!r}", action=action)
        raise error

    def typed(self, connection_id: str, client_class: type[C]) -> C:
        """A generated client (``generated.<connector>.<Name>Client``) bound to a stored
        connection: typed methods, the same executor underneath."""
        spec, conn = self.connection(connection_id)
        module = importlib.import_module(client_class.__module__)
        from patchbay.runtime.http._client_base import Credentials, OAuth2Credentials

        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, Credentials) and obj.variant == conn.auth:
                creds: Credentials
                if issubclass(obj, OAuth2Credentials) and conn.token_provider is not None:
                    creds = obj(token_provider=conn.token_provider)
                else:
                    creds = obj.model_validate(conn.credentials)
                made: C = client_class(  # type: ignore[call-arg]
                    creds, variables=conn.variables, transport=self._transport
                )
                return made
        raise ConfigError(
            f"{client_class.__name__} has no credentials class for auth variant {conn.auth!r}",
            connector=spec.name,
        )
