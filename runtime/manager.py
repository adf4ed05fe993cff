"""The IntegrationManager: one entry point to call any action of any connector by name.

Routing: a registered bespoke client wins; otherwise the GenericExecutor runs the spec when
``GENERIC_EXECUTOR_ENABLED`` is on; otherwise :class:`ConnectorUnavailable` says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import httpx

from .connection import Connection
from .errors import ConfigError, ConnectorUnavailable
from .executor import CallOptions, ExecutorOptions, GenericExecutor
from .registry import SpecRegistry
from .settings import generic_executor_enabled
from .spec import ConnectorSpec


class ActionClient(Protocol):
    """What a bespoke client offers: the same ``call`` as the GenericExecutor."""

    def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = ...
    ) -> Any: ...


BespokeFactory = Callable[[ConnectorSpec | None, Connection], ActionClient]
Route = Literal["bespoke", "generic"]


class IntegrationManager:
    def __init__(
        self,
        registry: SpecRegistry | None = None,
        *,
        generic_enabled: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        options: ExecutorOptions | None = None,
    ) -> None:
        self.registry = registry or SpecRegistry()
        self.generic_enabled = (
            generic_executor_enabled() if generic_enabled is None else generic_enabled
        )
        self._transport = transport
        self._options = options
        self._bespoke: dict[str, BespokeFactory] = {}

    def register_bespoke(self, connector: str, factory: BespokeFactory) -> None:
        """Use hand-written code for ``connector`` instead of its spec."""
        self._bespoke[connector] = factory

    def route(self, connector: str) -> Route:
        if connector in self._bespoke:
            return "bespoke"
        self.registry.get(connector)  # unknown connector -> config error naming close ones
        if self.generic_enabled:
            return "generic"
        raise ConnectorUnavailable(
            f"connector {connector!r} has no bespoke client and the generic executor is off; "
            "set GENERIC_EXECUTOR_ENABLED=true (environment or .env) or register a bespoke client",
            connector=connector,
        )

    def client(self, connection: Connection, *, base_url: str | None = None) -> ActionClient:
        route = self.route(connection.connector)
        if route == "bespoke":
            try:
                spec: ConnectorSpec | None = self.registry.get(connection.connector)
            except ConfigError:
                spec = None
            return self._bespoke[connection.connector](spec, connection)
        return GenericExecutor(
            self.registry.get(connection.connector),
            connection,
            transport=self._transport,
            base_url=base_url,
            options=self._options,
        )

    def call(
        self,
        connection: Connection,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions | None = None,
    ) -> Any:
        """Run one action through whichever client the routing picks."""
        client = self.client(connection)
        try:
            return client.call(action, data, options or CallOptions())
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
