"""Access tokens from a stored connection, refreshed ahead of expiry and single-flight.

Refresh rules (DESIGN.md §5): proactive when the token expires within ``skew_seconds``; forced
once after the vendor's expiry signal; one refresh at a time per connection across threads
(a lock), asyncio tasks (a lock per loop) and processes (the store's write transaction); the
rotated refresh token is committed to the store *before* the new access token is handed out;
``invalid_grant`` marks the connection ``needs_reauth`` and keeps everything else as it was.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

import httpx
from prometheus_client import CollectorRegistry

from .errors import AuthExpired, NetworkError, PatchbayError, Timeout
from .oauth import OAuthClient, TokenSet, oauth_variant, read_token_response, refresh_request
from .observability import metrics_for
from .spec import ConnectorSpec
from .token_store import StoredConnection, TokenStore


class StoredTokenProvider:
    """A :class:`~runtime.connection.TokenProvider` backed by a :class:`TokenStore`."""

    _thread_locks: ClassVar[dict[str, threading.Lock]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        store: TokenStore,
        connection_id: str,
        spec: ConnectorSpec,
        client: OAuthClient,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        recent_seconds: float = 10.0,
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.spec = spec
        self.client = client
        self._transport = transport
        self._async_transport = async_transport
        self._clock = clock
        self._recent = recent_seconds
        self._async_locks: dict[int, asyncio.Lock] = {}
        self._refreshes = metrics_for(metrics_registry).refreshes
        stored = store.get(connection_id)
        self.variant = oauth_variant(spec, stored.auth)

    def __repr__(self) -> str:
        return f"StoredTokenProvider(connection={self.connection_id!r})"

    # ------------------------------------------------------------------------------ checks

    def _usable(self, conn: StoredConnection, *, forced: bool) -> str | None:
        """The stored access token if it may be used as is, else ``None``."""
        if conn.status != "active":
            raise AuthExpired(
                f"connection {conn.id} is {conn.status}: reconnect with "
                f"`patchbay connect {conn.connector}`",
                connector=conn.connector,
                retryable=False,
            )
        tokens = conn.tokens
        if tokens is None or not tokens.access_token:
            return None
        now = self._clock()
        if forced:
            # Someone refreshed a moment ago (the other 99 callers that saw the same 401).
            return tokens.access_token if now - tokens.obtained_at < self._recent else None
        skew = self.variant.refresh.skew_seconds
        if tokens.expires_at is None or tokens.expires_at - skew > now:
            return tokens.access_token
        return None

    def _lock(self) -> threading.Lock:
        key = f"{id(self.store)}:{self.connection_id}"
        with self._registry_lock:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _async_lock(self) -> asyncio.Lock:
        loop = id(asyncio.get_running_loop())
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    # ----------------------------------------------------------------------------- refresh

    def _prepare(self, conn: StoredConnection) -> httpx.Request:
        tokens = conn.tokens
        if not self.variant.refresh.supported or tokens is None or not tokens.refresh_token:
            raise AuthExpired(
                f"the access token of connection {conn.id} expired and cannot be refreshed; "
                f"reconnect with `patchbay connect {conn.connector}`",
                connector=conn.connector,
                retryable=False,
            )
        return refresh_request(
            self.spec, self.variant, self.client, tokens.refresh_token, conn.variables
        )

    def _commit(
        self, conn: StoredConnection, response: httpx.Response | Exception
    ) -> str | PatchbayError:
        """Store the new tokens (or the needs_reauth status) and say what to hand out.

        An error is *returned*, not raised, so the surrounding transaction commits the status
        change before the caller raises it; transport failures change nothing in the store.
        """
        counted = self._refreshes
        if isinstance(response, httpx.TimeoutException):
            counted.labels(conn.connector, "timeout").inc()
            raise Timeout("token refresh timed out", connector=conn.connector)
        if isinstance(response, Exception):
            counted.labels(conn.connector, "network").inc()
            raise NetworkError(
                f"token refresh failed: {type(response).__name__}", connector=conn.connector
            )
        previous = conn.tokens.refresh_token if conn.tokens else None
        try:
            tokens: TokenSet = read_token_response(
                self.spec,
                self.variant,
                response,
                previous_refresh_token=previous,
                now=self._clock(),
            )
        except AuthExpired as exc:
            # Keep every stored value; only the status says the user must reconnect.
            counted.labels(conn.connector, "needs_reauth").inc()
            self.store.save(replace(conn, status="needs_reauth"))
            exc.message += f"; reconnect with `patchbay connect {conn.connector}`"
            return exc
        except PatchbayError as exc:  # the vendor failed (5xx, a malformed answer): keep all
            counted.labels(conn.connector, exc.code).inc()
            raise
        saved = self.store.save(
            replace(conn, tokens=tokens, variables={**conn.variables, **tokens.variables})
        )
        assert saved.tokens is not None
        counted.labels(conn.connector, "ok").inc()
        return saved.tokens.access_token

    def get_token(self, *, force_refresh: bool = False) -> str:
        token = self._usable(self.store.get(self.connection_id), forced=force_refresh)
        if token is not None:
            return token
        with self._lock(), self.store.transaction(self.connection_id):
            conn = self.store.get(self.connection_id)
            token = self._usable(conn, forced=force_refresh)
            if token is not None:
                return token
            request = self._prepare(conn)
            with httpx.Client(transport=self._transport) as http:
                try:
                    response: httpx.Response | Exception = http.send(request)
                except httpx.HTTPError as exc:
                    response = exc
            outcome = self._commit(conn, response)
        if isinstance(outcome, PatchbayError):
            raise outcome
        return outcome

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        token = self._usable(self.store.get(self.connection_id), forced=force_refresh)
        if token is not None:
            return token
        async with self._async_lock():
            token = self._usable(self.store.get(self.connection_id), forced=force_refresh)
            if token is not None:
                return token
            with self.store.transaction(self.connection_id):
                conn = self.store.get(self.connection_id)
                token = self._usable(conn, forced=force_refresh)
                if token is not None:
                    return token
                request = self._prepare(conn)
                async with httpx.AsyncClient(transport=self._async_transport) as http:
                    try:
                        response: httpx.Response | Exception = await http.send(request)
                    except httpx.HTTPError as exc:
                        response = exc
                outcome = self._commit(conn, response)
        if isinstance(outcome, PatchbayError):
            raise outcome
        return outcome
