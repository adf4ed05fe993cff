"""Access tokens from a stored connection, refreshed ahead of expiry and single-flight.

Refresh rules (DESIGN.md §5): proactive when the token expires within ``skew_seconds``; forced
once after the vendor's expiry signal; the rotated refresh token is committed to the store
*before* the new access token is handed out; ``invalid_grant`` marks the connection
``needs_reauth`` and keeps everything else as it was.

Single flight comes from the store's refresh lease (:class:`RefreshLeases`),
never from a lock or transaction held across the vendor call:

1. claim the lease in one short write (only when it is free or its holder's time ran out);
2. call the token endpoint with no transaction open, within ``refresh_deadline``;
3. commit the outcome and free the lease in a second short write, only if still the holder.

Everyone else (threads, tasks, processes) polls the store with a growing pause until the holder
commits, then uses the token it stored; a holder that died stops blocking them when its lease
expires. The lease lasts ``refresh_deadline`` plus one per-read timeout plus a margin
(:data:`LEASE_MARGIN`), so a live holder finishes first. A thread lock per connection and an
asyncio lock per event loop only spare the store some polling. In async code every store call
runs in a worker thread, so waiting never blocks the event loop, and a refresh that started
runs to its end even when its caller is cancelled, so a rotated refresh token is never dropped.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

import httpx
from prometheus_client import CollectorRegistry

from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    TokenSet,
    oauth_variant,
    read_token_response,
    refresh_request,
)
from patchbay.runtime.accounts._token_store import StoredConnection, TokenStore
from patchbay.runtime.errors import (
    AuthExpired,
    BadResponse,
    ConfigError,
    NetworkError,
    PatchbayError,
    Timeout,
)
from patchbay.runtime.http._limits import DEFAULT_MAX_JSON_DEPTH, json_depth_exceeds
from patchbay.runtime.observability import metrics_for
from patchbay.runtime.spec._model import ConnectorSpec

#: Per-phase timeout (connect, each read, each write) of the token request, in seconds; a
#: shorter ``refresh_deadline`` lowers it too. A synchronous read is checked against the
#: deadline between body chunks, so it may overrun it by one such timeout.
REFRESH_TIMEOUT = 10.0
#: Total time the token request may take, answer read included, in seconds.
REFRESH_DEADLINE = 20.0
#: What a lease adds to the deadline and one read timeout, for a slow store write or a pause.
LEASE_MARGIN = 15.0
#: Largest token endpoint answer read; a real one is well under a kilobyte.
MAX_TOKEN_RESPONSE_BYTES = 256 * 1024
_POLL_FIRST, _POLL_MAX = 0.01, 0.25

_Outcome = httpx.Response | PatchbayError


class StoredTokenProvider:
    """A :class:`~runtime.http._connection.TokenProvider` backed by a :class:`TokenStore`."""

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
        refresh_deadline: float = REFRESH_DEADLINE,
        lease_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.spec = spec
        self.client = client
        self._transport = transport
        self._async_transport = async_transport
        self._clock = clock
        self._recent = recent_seconds
        self.refresh_deadline = refresh_deadline
        self._timeout = min(REFRESH_TIMEOUT, refresh_deadline)
        if lease_seconds is None:
            lease_seconds = refresh_deadline + self._timeout + LEASE_MARGIN
        self.lease_seconds = lease_seconds
        # Long enough for a holder to finish or for a dead holder's lease to run out, twice.
        self._max_wait = 2 * self.lease_seconds + refresh_deadline
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._background: set[asyncio.Task[str]] = set()
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
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    def _new_owner(self) -> str:
        """A lease owner: unique per attempt; host and pid only help someone reading the row."""
        return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"

    def _still_waiting(self, started: float, connector: str) -> None:
        if time.monotonic() - started > self._max_wait:
            raise Timeout(
                f"another caller's token refresh of connection {self.connection_id} did not "
                f"finish within {self._max_wait:g}s; retry",
                connector=connector,
            )

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
        try:
            return refresh_request(
                self.spec, self.variant, self.client, tokens.refresh_token, conn.variables
            )
        except PatchbayError:
            raise
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:  # the message may hold values
            raise ConfigError(
                f"cannot build the token refresh request of connection {conn.id}: "
                f"{type(exc).__name__}",
                connector=conn.connector,
            ) from None

    def _transport_error(self, conn: StoredConnection, exc: Exception) -> PatchbayError:
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return Timeout(
                f"token refresh timed out (deadline {self.refresh_deadline:g}s)",
                connector=conn.connector,
            )
        return NetworkError(f"token refresh failed: {type(exc).__name__}", connector=conn.connector)

    def _buffered(self, conn: StoredConnection, response: httpx.Response, body: bytes) -> _Outcome:
        """The answer with its decoded body, or why it is refused (too deep to parse safely)."""
        if json_depth_exceeds(body, DEFAULT_MAX_JSON_DEPTH):
            return BadResponse(
                f"the token endpoint's JSON nests deeper than {DEFAULT_MAX_JSON_DEPTH} levels",
                connector=conn.connector,
                status=response.status_code,
            )
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=body, request=response.request
        )

    def _too_big(self, conn: StoredConnection) -> BadResponse:
        return BadResponse(
            f"the token endpoint answered more than {MAX_TOKEN_RESPONSE_BYTES} bytes",
            connector=conn.connector,
        )

    def _exchange(self, conn: StoredConnection, request: httpx.Request) -> _Outcome:
        """Call the token endpoint (no transaction open), bounded in time and size."""
        deadline = time.monotonic() + self.refresh_deadline
        try:
            with httpx.Client(transport=self._transport, timeout=self._timeout) as http:
                response = http.send(request, stream=True)
                try:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_TOKEN_RESPONSE_BYTES:
                            return self._too_big(conn)
                        if time.monotonic() > deadline:
                            raise TimeoutError
                finally:
                    response.close()
        except (httpx.HTTPError, httpx.StreamError, TimeoutError, OSError) as exc:
            return self._transport_error(conn, exc)
        return self._buffered(conn, response, bytes(body))

    async def _aexchange(self, conn: StoredConnection, request: httpx.Request) -> _Outcome:
        try:
            async with (
                asyncio.timeout(self.refresh_deadline),
                httpx.AsyncClient(transport=self._async_transport, timeout=self._timeout) as http,
            ):
                response = await http.send(request, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_TOKEN_RESPONSE_BYTES:
                            return self._too_big(conn)
                finally:
                    await response.aclose()
        except (httpx.HTTPError, httpx.StreamError, TimeoutError, OSError) as exc:
            return self._transport_error(conn, exc)
        return self._buffered(conn, response, bytes(body))

    def _settle(self, conn: StoredConnection, owner: str, outcome: _Outcome) -> str:
        """Commit what the vendor said under the lease (freeing it) and say what to hand out.

        Failures that leave the grant as it was (network, timeout, a 5xx, a malformed answer)
        change nothing; the caller frees the lease.
        """
        counted = self._refreshes
        if isinstance(outcome, PatchbayError):
            counted.labels(conn.connector, outcome.code).inc()
            raise outcome
        previous = conn.tokens.refresh_token if conn.tokens else None
        try:
            tokens: TokenSet = read_token_response(
                self.spec,
                self.variant,
                outcome,
                previous_refresh_token=previous,
                now=self._clock(),
            )
        except AuthExpired as exc:
            # Keep every stored value; only the status says the user must reconnect.
            counted.labels(conn.connector, "needs_reauth").inc()
            self.store.commit_refresh(conn.id, owner, status="needs_reauth")
            exc.message += f"; reconnect with `patchbay connect {conn.connector}`"
            raise exc from None
        except PatchbayError as exc:
            counted.labels(conn.connector, exc.code).inc()
            raise
        saved = self.store.commit_refresh(conn.id, owner, tokens=tokens)
        assert saved.tokens is not None
        counted.labels(conn.connector, "ok").inc()
        return saved.tokens.access_token

    def _refresh(self, owner: str, forced: bool) -> str:
        """Refresh under a lease this caller holds; the lease is freed whatever happens."""
        settled = False
        try:
            conn = self.store.get(self.connection_id)
            token = self._usable(conn, forced=forced)  # committed just before our claim
            if token is not None:
                return token
            outcome = self._exchange(conn, self._prepare(conn))
            token = self._settle(conn, owner, outcome)
            settled = True
            return token
        finally:
            if not settled:
                self.store.release_refresh(self.connection_id, owner)

    async def _arefresh(self, owner: str, forced: bool) -> str:
        settled = False
        try:
            conn = await asyncio.to_thread(self.store.get, self.connection_id)
            token = self._usable(conn, forced=forced)
            if token is not None:
                return token
            outcome = await self._aexchange(conn, self._prepare(conn))
            token = await asyncio.to_thread(self._settle, conn, owner, outcome)
            settled = True
            return token
        finally:
            if not settled:
                # Shielded: freeing the lease must finish even if this task is being cancelled.
                release = asyncio.to_thread(self.store.release_refresh, self.connection_id, owner)
                await asyncio.shield(release)

    def get_token(self, *, force_refresh: bool = False) -> str:
        token = self._usable(self.store.get(self.connection_id), forced=force_refresh)
        if token is not None:
            return token
        with self._lock():
            started, pause = time.monotonic(), _POLL_FIRST
            while True:
                conn = self.store.get(self.connection_id)
                token = self._usable(conn, forced=force_refresh)
                if token is not None:
                    return token
                owner = self._new_owner()
                if self.store.claim_refresh(self.connection_id, owner, self.lease_seconds):
                    return self._refresh(owner, force_refresh)
                self._still_waiting(started, conn.connector)
                time.sleep(pause * random.uniform(0.5, 1.0))
                pause = min(pause * 2, _POLL_MAX)

    async def aget_token(self, *, force_refresh: bool = False) -> str:
        conn = await asyncio.to_thread(self.store.get, self.connection_id)
        token = self._usable(conn, forced=force_refresh)
        if token is not None:
            return token
        async with self._async_lock():
            started, pause = time.monotonic(), _POLL_FIRST
            while True:
                conn = await asyncio.to_thread(self.store.get, self.connection_id)
                token = self._usable(conn, forced=force_refresh)
                if token is not None:
                    return token
                owner = self._new_owner()
                claimed = await asyncio.to_thread(
                    self.store.claim_refresh, self.connection_id, owner, self.lease_seconds
                )
                if claimed:
                    return await self._run_to_end(self._arefresh(owner, force_refresh))
                self._still_waiting(started, conn.connector)
                await asyncio.sleep(pause * random.uniform(0.5, 1.0))
                pause = min(pause * 2, _POLL_MAX)

    async def _run_to_end(self, refresh: Coroutine[Any, Any, str]) -> str:
        """Await a refresh that a cancelled caller does not abort: once the vendor may have
        rotated the refresh token, only committing the answer keeps the connection alive."""
        task = asyncio.ensure_future(refresh)
        self._background.add(task)
        task.add_done_callback(_forget(self._background))
        return await asyncio.shield(task)


def _forget(tasks: set[asyncio.Task[str]]) -> Callable[[asyncio.Task[str]], None]:
    def done(task: asyncio.Task[str]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller that was cancelled never awaits it

    return done
