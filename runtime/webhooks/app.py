"""The HTTP face of ``WebhookManager``: ``POST /webhooks/{connector}/{subscription}``.

Only adaptation lives here: the body is read as raw bytes, never more than the webhook's
``max_body_bytes`` (a lying or missing Content-Length cannot make it buffer more) and never for
longer than ``read_timeout`` (a stalled body is answered 408 and its connection closed), and the
blocking manager (SQLite, user handlers) runs in the thread pool. A client that hangs up before
its body arrived is one log line, not a traceback.

Senders that never finish their request headers never reach an ASGI app, so the limits on the
connections themselves live in the uvicorn protocol below (:func:`uvicorn_config`): a request's
headers must arrive within ``read_timeout``, and at ``limit_concurrency`` open connections a new
one takes the place of the one that has waited longest for its sender, so stalled sockets cannot
crowd out a vendor's delivery or run the process out of file descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from patchbay.runtime.observability import log_event
from patchbay.runtime.webhooks._manager import WebhookManager, WebhookResponse

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HTTPProtocol
else:  # httptools when installed, else h11: the same choice as uvicorn's "auto"
    from uvicorn.protocols.http.auto import AutoHTTPProtocol as _HTTPProtocol

#: Seconds a sender has for its request headers, and again for its body.
DEFAULT_READ_TIMEOUT = 10.0
#: Open connections at most.
DEFAULT_LIMIT_CONCURRENCY = 1000
#: Connections the kernel queues before they are accepted (uvicorn's default).
DEFAULT_BACKLOG = 2048
#: Seconds an idle keep-alive connection stays open (uvicorn's default).
DEFAULT_KEEP_ALIVE = 5


@dataclass(frozen=True)
class ServeLimits:
    """What one receiver process grants its senders (see the module docstring)."""

    read_timeout: float = DEFAULT_READ_TIMEOUT
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY
    backlog: int = DEFAULT_BACKLOG
    keep_alive: int = DEFAULT_KEEP_ALIVE


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _response(result: WebhookResponse, *, close: bool) -> Response:
    headers = {}
    if result.retry_after is not None:
        headers["Retry-After"] = str(result.retry_after)
    if close:  # part of the body is still unread: this connection cannot carry another request
        headers["Connection"] = "close"
    return Response(
        result.body, status_code=result.status, media_type=result.content_type, headers=headers
    )


def create_app(manager: WebhookManager, *, read_timeout: float = DEFAULT_READ_TIMEOUT) -> Starlette:
    """A Starlette app receiving every subscription of ``manager``; a body must arrive within
    ``read_timeout`` seconds of its headers."""

    async def receive(request: Request) -> Response:
        connector = request.path_params["connector"]
        subscription = request.path_params["subscription"]
        limit = await run_in_threadpool(manager.body_limit, connector, subscription)
        body, oversized, read_error = b"", False, None
        try:
            with anyio.fail_after(read_timeout):
                body = await _read_capped(request, limit)
        except _TooLarge:
            # The manager still logs and answers it (404 for an unknown path, else 413).
            oversized = True
        except TimeoutError:
            read_error = "body_timeout"
        except ClientDisconnect:
            read_error = "client_disconnected"  # answered to no one, but logged and counted
        headers = dict(request.headers)
        result = await run_in_threadpool(
            lambda: manager.handle(
                connector, subscription, headers, body, oversized=oversized, read_error=read_error
            )
        )
        return _response(result, close=oversized or read_error is not None)

    async def health(_request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/webhooks/{connector}/{subscription}", receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


# ----------------------------------------------------------------------- serving with uvicorn


class _GuardedProtocol(_HTTPProtocol):
    """uvicorn's HTTP protocol with a deadline for request headers and room made at the
    connection limit by dropping the connection that has waited longest for its sender.

    The limit is enforced here, when a connection opens, instead of by uvicorn when headers
    arrive: uvicorn also counts requests whose sender is gone but whose app task is still
    finishing, so a burst of dropped stalled requests would make it refuse a real delivery."""

    read_timeout: float = DEFAULT_READ_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit, self.limit_concurrency = self.limit_concurrency, None
        self._since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()
        if self._limit is not None and len(self.connections) > self._limit:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._watch()  # the next request's headers get the same time as the first's

    def _watch(self) -> None:
        """From now, the sender has ``read_timeout`` seconds to complete request headers."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._since = self.loop.time()
        self._deadline = self.loop.call_later(self.read_timeout, self._expire, self.cycle)

    def _expire(self, cycle: object) -> None:
        if self.cycle is cycle:  # no request got its headers through since _watch
            self._drop("header_timeout")

    def _waiting(self) -> bool:
        """Whether this connection waits for its sender (headers or body), rather than
        for a handler or for the sender to read an answer."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return True
        return bool(cycle.more_body) and not cycle.response_started

    def _make_room(self) -> None:
        waiting = [
            c
            for c in self.connections
            if isinstance(c, _GuardedProtocol) and c is not self and c._waiting()
        ]
        if waiting:
            min(waiting, key=lambda c: c._since)._drop("evicted")
        else:  # every slot is busy with a real request: the sender retries later
            self._drop("over_limit")

    def _drop(self, reason: str) -> None:
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            # A request in the app logs its own end (client_disconnected) when this closes.
            log_event(logging.INFO, "webhook.connection_dropped", reason=reason)
        self.connections.discard(self)  # free the slot now, not after the close completes
        self.transport.close()


def guarded_protocol(read_timeout: float) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``http=``) for this header deadline."""
    return type("GuardedProtocol", (_GuardedProtocol,), {"read_timeout": read_timeout})


def uvicorn_config(
    manager: WebhookManager,
    *,
    host: str,
    port: int,
    limits: ServeLimits = ServeLimits(),
    log_level: str = "warning",
) -> uvicorn.Config:
    """How ``patchbay webhooks serve`` runs the receiver: the app and the guarded protocol
    under ``limits``."""
    return uvicorn.Config(
        create_app(manager, read_timeout=limits.read_timeout),
        host=host,
        port=port,
        http=guarded_protocol(limits.read_timeout),
        limit_concurrency=limits.limit_concurrency,
        backlog=limits.backlog,
        timeout_keep_alive=limits.keep_alive,
        log_level=log_level,
        lifespan="off",
    )


# ------------------------------------------------------------------ several receiver processes


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, bound once by the parent: every worker accepts on this one socket,
    so no worker can fail to bind or take a port another program grabbed in between."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)  # only the workers get it, through pass_fds
    return sock


#: Seconds a worker has to finish its requests after SIGTERM before it is killed.
WORKER_GRACE = 30.0


class _Worker:
    def __init__(
        self, command: list[str], setup: bytes, sock: socket.socket, extra_env: Mapping[str, str]
    ) -> None:
        env = {**os.environ, **extra_env}
        env["PATCHBAY_WEBHOOK_FD"] = str(sock.fileno())
        env["PATCHBAY_WEBHOOK_PARENT"] = str(os.getpid())
        # A session of its own: a terminal's Ctrl-C reaches the supervisor only, which then
        # stops every worker once (uvicorn takes a second signal as "exit without waiting").
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            pass_fds=(sock.fileno(),),
            env=env,
            start_new_session=True,
        )
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(setup)
        finally:
            stdin.close()


def run_workers(
    sock: socket.socket,
    workers: int,
    setup: bytes,
    command: list[str],
    extra_env: Mapping[str, str] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Run ``workers`` processes of ``command`` accepting on ``sock`` until SIGINT or SIGTERM,
    then stop them (SIGTERM, then SIGKILL after :data:`WORKER_GRACE`); 0 on a clean stop, 1
    when a worker exited on its own (an error it reported). A worker killed by a signal (the
    OOM killer, an operator) is replaced. ``extra_env`` goes into each worker's environment;
    ``on_exit`` gets each worker's pid once it has ended (a metrics exporter forgets it).

    Why fresh processes on one socket bound here rather than uvicorn's ``--workers``: uvicorn
    needs the app as an import string, while the manager holds store connections, threads and
    user handlers that cannot cross a process boundary; each worker rebuilds it from the setup
    ``command`` reads on its stdin. Binding once means a busy port fails before any worker
    starts, ``--port 0`` gives every worker the same port, and no worker can be left without a
    socket. Nothing is forked from a process that already has threads. Each worker watches its
    parent (:func:`watch_parent`), so none outlives a killed supervisor."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    pool: list[_Worker] = []
    code = 0
    env = dict(extra_env or {})

    def ended(worker: _Worker) -> None:
        if on_exit is not None:
            on_exit(worker.process.pid)

    try:
        while len(pool) < workers and not stopping:  # started ones are stopped below on error
            pool.append(_Worker(command, setup, sock, env))
        while not stopping:
            for index, worker in enumerate(pool):
                status = worker.process.poll()
                if status is None or stopping:
                    continue
                log_event(logging.WARNING, "webhook.worker_exited", status=status)
                if status >= 0:  # it chose to exit (a broken store, say): restarting would loop
                    code, stopping = 1, True
                    break
                ended(worker)
                pool[index] = _Worker(command, setup, sock, env)
            time.sleep(0.2)
    finally:
        for worker in pool:
            if worker.process.poll() is None:
                worker.process.terminate()
        deadline = time.monotonic() + WORKER_GRACE
        for worker in pool:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            ended(worker)
        sock.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def watch_parent(parent: int, interval: float = 0.5) -> threading.Thread:
    """Send this process SIGTERM (uvicorn's graceful stop) once ``parent`` is gone: a
    supervisor killed with SIGKILL leaves no receiver behind."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="patchbay-parent-watch", daemon=True)
    thread.start()
    return thread
