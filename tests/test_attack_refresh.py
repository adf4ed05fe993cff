"""Attacks on token refresh and the local stores (issue 10, item 4; store files from item 9).

The vendor's token endpoint is the mock OAuth provider (Slack: it rotates refresh tokens and
answers ``invalid_grant`` to a reused one) behind a loopback TLS server, so every refresh goes
through httpx, TLS and sockets. A *gate* holds chosen refreshes at the endpoint until the test
opens it: that is the slow vendor, and it makes every ordering below exact (the other work
finished *while* the refresh was held), with no timing threshold.

Before the lease, a refresh held SQLite's write lock (``BEGIN IMMEDIATE``) across the vendor
call, and in async code on the thread's one connection, which every task of the loop shared.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import ssl
import stat
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from attack_support import Origin, Seen, origin
from conftest import StoreBackend

from patchbay.mocks.oauth_provider import MockOAuthProvider
from patchbay.mocks.webhook_sender import build_delivery
from patchbay.runtime import StoreError, load_spec
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.accounts._oauth import OAuthClient, oauth_variant, read_token_response
from patchbay.runtime.accounts._token_provider import StoredTokenProvider
from patchbay.runtime.accounts._token_store import SQLiteTokenStore, StoredConnection
from patchbay.runtime.errors import Timeout
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.stores import open_token_store
from patchbay.runtime.triggers._events import TriggerEvent
from patchbay.runtime.triggers._runner import SubscriptionStore
from patchbay.runtime.webhooks import (
    SQLiteWebhookStore,
    WebhookManager,
    WebhookSubscription,
)

ROOT = Path(__file__).resolve().parent.parent
SLACK_PATH = ROOT / "specs/slack.json"
SLACK = load_spec(SLACK_PATH)
VARIANT = oauth_variant(SLACK)
CLIENT = OAuthClient("client_FAKE_id", "client_FAKE_secret")
KEY = new_key()
#: How long a store waits for another writer. Only the old code, which kept the write lock
#: for the whole vendor call, ever waited this long: there it turns a hang into a failure.
BUSY = 2.0
WEBHOOK_SECRET = "whsec_FAKE_attack_refresh"


# ----------------------------------------------------------------------------- the vendor


@dataclass
class Gate:
    """Holds one refresh at the token endpoint: ``arrived`` when it is there, ``opened`` to
    let it through; ``drop`` answers 503 without reaching the provider (its caller died)."""

    arrived: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    drop: bool = False


class TokenEndpoint:
    """The mock provider as a responder for :func:`attack_support.origin`."""

    def __init__(self, provider: MockOAuthProvider) -> None:
        self.provider = provider
        self.gates: dict[str, Gate] = {}
        self.held: list[Gate] = []

    def hold(self, refresh_token: str | None) -> Gate:
        assert refresh_token
        gate = self.gates[refresh_token] = Gate()
        self.held.append(gate)
        return gate

    def open_all(self) -> None:
        for gate in self.held:
            gate.opened.set()

    def respond(self, seen: Seen, url: str) -> tuple[int, dict[str, str], bytes]:
        form = dict(parse_qsl(seen.body.decode()))
        gate = None
        if form.get("grant_type") == "refresh_token":
            gate = self.gates.pop(form.get("refresh_token", ""), None)  # holds the first one
        if gate is not None:
            gate.arrived.set()
            if not gate.opened.wait(60) or gate.drop:
                return 503, {"Content-Type": "application/json"}, b'{"ok":false}'
        request = httpx.Request(
            seen.method, url + seen.path, headers=seen.headers, content=seen.body
        )
        reply = self.provider.handler(request)
        headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-length"}
        return reply.status_code, headers, reply.content


def _tls(vendor: Origin) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(vendor.cert_path))


def _to(vendor: Origin, request: httpx.Request) -> None:
    """Send the vendor's token URL (slack.com) to the loopback origin, path and query kept."""
    url = httpx.URL(vendor.url)
    request.url = request.url.copy_with(scheme=url.scheme, host=url.host, port=url.port)
    request.headers["Host"] = request.url.netloc.decode("ascii")


class ToVendor(httpx.BaseTransport):
    def __init__(self, vendor: Origin) -> None:
        self.vendor = vendor
        self.inner = httpx.HTTPTransport(verify=_tls(vendor))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _to(self.vendor, request)
        return self.inner.handle_request(request)


class AsyncToVendor(httpx.AsyncBaseTransport):
    def __init__(self, vendor: Origin) -> None:
        self.vendor = vendor
        self.inner = httpx.AsyncHTTPTransport(verify=_tls(vendor))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _to(self.vendor, request)
        return await self.inner.handle_async_request(request)


def expired(store: SQLiteTokenStore, provider: MockOAuthProvider) -> StoredConnection:
    """A stored Slack connection whose access token expired; its refresh token is live."""
    fresh = read_token_response(SLACK, VARIANT, provider.issue_tokens())
    stale = replace(fresh, expires_at=time.time() - 60, obtained_at=time.time() - 3600)
    return store.create(StoredConnection("", "slack", VARIANT.name, tokens=stale))


def refresh_token_of(store: SQLiteTokenStore, connection_id: str) -> str:
    tokens = store.get(connection_id).tokens
    assert tokens is not None and tokens.refresh_token
    return tokens.refresh_token


def later(seconds: float) -> Any:
    """A provider clock ``seconds`` ahead: the stored access token has expired by then."""
    return lambda: time.time() + seconds


# -------------------------------------------------------------------------- the attacks


def test_cancelling_one_refresh_never_undoes_another_connections_refresh(tmp_path: Path) -> None:
    """Issue: A's refresh held a transaction across ``await``; B's refresh on the same loop
    silently joined it; cancelling A rolled back B's rotated tokens (next refresh: invalid_grant,
    needs_reauth). Now B's commit is its own, and A's refresh runs to its end and commits too."""
    provider = MockOAuthProvider(SLACK, VARIANT)
    endpoint = TokenEndpoint(provider)
    store = SQLiteTokenStore(tmp_path / "tokens.db", Encryptor([KEY]), busy_timeout=BUSY)
    a, b = expired(store, provider), expired(store, provider)
    assert a.tokens is not None and b.tokens is not None
    gate = endpoint.hold(a.tokens.refresh_token)

    with origin(endpoint.respond, tls_folder=tmp_path) as vendor:

        def provider_for(conn: StoredConnection, **options: Any) -> StoredTokenProvider:
            return StoredTokenProvider(
                store, conn.id, SLACK, CLIENT, async_transport=AsyncToVendor(vendor), **options
            )

        async def scenario() -> tuple[str, str, str]:
            task_a = asyncio.create_task(provider_for(a).aget_token())
            assert await asyncio.to_thread(gate.arrived.wait, 30)
            token_b = await provider_for(b).aget_token()  # while A waits at the vendor
            task_a.cancel()  # A's caller gives up (its timeout)
            with pytest.raises(asyncio.CancelledError):
                await task_a
            stored_b = await asyncio.to_thread(store.get, b.id)
            assert stored_b.tokens is not None and stored_b.status == "active"
            assert stored_b.tokens.access_token == token_b  # B's refresh stayed committed
            assert stored_b.tokens.refresh_token != b.tokens.refresh_token  # type: ignore[union-attr]
            gate.opened.set()
            token_a = await provider_for(a).aget_token()  # A's refresh finished and committed
            # B's next refresh presents the rotated token the store kept: the vendor accepts it.
            token_b2 = await provider_for(b, clock=later(7200)).aget_token()
            return token_a, token_b, token_b2

        try:
            token_a, token_b, token_b2 = asyncio.run(scenario())
        finally:
            endpoint.open_all()

    assert provider.refresh_count == 3 and len({token_a, token_b, token_b2}) == 3
    live = provider.live_tokens()
    for conn, token in ((a, token_a), (b, token_b2)):
        stored = store.get(conn.id)
        assert stored.status == "active" and stored.tokens is not None
        assert stored.tokens.access_token == token
        assert {token, refresh_token_of(store, conn.id)} <= live
        assert store.refresh_lease(conn.id) is None


def test_a_slow_token_endpoint_delays_no_webhook_delivery_write_or_other_refresh(
    tmp_path: Path,
) -> None:
    """Issue: a refresh held the store's write lock during the vendor call, so a webhook
    delivery on the same file waited 30 s and failed ``StoreLocked`` (a 500). Now, while A's
    refresh is held at the vendor, a delivery, B's refresh and a plain save all complete."""
    provider = MockOAuthProvider(SLACK, VARIANT)
    endpoint = TokenEndpoint(provider)
    path = tmp_path / "patchbay.db"
    store = SQLiteTokenStore(path, Encryptor([KEY]), busy_timeout=BUSY)
    a, b = expired(store, provider), expired(store, provider)
    plain = store.create(StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_x"}))
    gate = endpoint.hold(a.tokens.refresh_token if a.tokens else None)

    hooks = SQLiteWebhookStore(path, Encryptor([KEY]), busy_timeout=BUSY)
    registry = SpecRegistry()
    github = registry.get("github")
    hook = github.triggers.webhooks[0]
    sub = hooks.create(WebhookSubscription("", "github", hook.name, secrets=(WEBHOOK_SECRET,)))
    manager = WebhookManager(registry, hooks)
    handled: list[TriggerEvent] = []
    manager.add_handler(handled.append)
    delivery = build_delivery(github, hook, "issues", WEBHOOK_SECRET, timestamp=time.time())

    outcome: dict[str, str] = {}
    with origin(endpoint.respond, tls_folder=tmp_path) as vendor:
        refresh_a = StoredTokenProvider(store, a.id, SLACK, CLIENT, transport=ToVendor(vendor))
        worker = threading.Thread(target=lambda: outcome.setdefault("a", refresh_a.get_token()))
        worker.start()
        try:
            assert gate.arrived.wait(30)  # A's refresh is at the vendor and stays there
            reply = manager.handle("github", sub.id, delivery.headers, delivery.body)
            assert reply.status == 200 and reply.processed and len(handled) == 1
            token_b = StoredTokenProvider(
                store, b.id, SLACK, CLIENT, transport=ToVendor(vendor)
            ).get_token()
            renamed = store.save(replace(store.get(plain.id), account_label="renamed"))
            assert worker.is_alive() and "a" not in outcome  # all that while A was held
        finally:
            gate.opened.set()
            worker.join(30)

    assert outcome["a"] == store.get(a.id).tokens.access_token  # type: ignore[union-attr]
    assert store.get(b.id).tokens.access_token == token_b  # type: ignore[union-attr]
    assert store.get(plain.id) == renamed and provider.refresh_count == 2
    assert hooks.delivery_count(sub.id) == 1


def test_waiting_for_another_callers_refresh_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """Issue: ``aget_token`` waited for the write lock on the event loop's thread (5.8 s with
    nothing else running). Now the waiter polls the lease with ``asyncio.sleep`` and every
    store call runs in a worker thread: the loop ticks on, and it is the loop itself that lets
    the holder finish, so a blocked loop could never get there."""
    provider = MockOAuthProvider(SLACK, VARIANT)
    endpoint = TokenEndpoint(provider)
    store = SQLiteTokenStore(tmp_path / "tokens.db", Encryptor([KEY]), busy_timeout=BUSY)
    conn = expired(store, provider)
    gate = endpoint.hold(conn.tokens.refresh_token if conn.tokens else None)
    threads: list[int] = []

    class Watched:
        """The store, noting which thread each call runs on."""

        def __getattr__(self, name: str) -> Any:
            method = getattr(store, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                threads.append(threading.get_ident())
                return method(*args, **kwargs)

            return call

    outcome: dict[str, str] = {}
    with origin(endpoint.respond, tls_folder=tmp_path) as vendor:
        holder = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=ToVendor(vendor))
        worker = threading.Thread(target=lambda: outcome.setdefault("held", holder.get_token()))
        worker.start()
        try:
            assert gate.arrived.wait(30)
            waiter = StoredTokenProvider(
                Watched(),  # type: ignore[arg-type]
                conn.id,
                SLACK,
                CLIENT,
                async_transport=AsyncToVendor(vendor),
            )
            threads.clear()

            async def scenario() -> tuple[str, int]:
                loop_thread = threading.get_ident()
                waiting = asyncio.create_task(waiter.aget_token())
                for _tick in range(20):
                    await asyncio.sleep(0.01)
                    assert not waiting.done()  # still waiting for the holder, not failed
                gate.opened.set()  # only a loop that kept running gets here
                return await waiting, threads.count(loop_thread)

            token, on_loop = asyncio.run(scenario())
        finally:
            gate.opened.set()
            worker.join(30)

    assert token == outcome["held"] and provider.refresh_count == 1
    assert threads and on_loop == 0  # every store call of the waiter ran off the loop


def _die_while_refreshing(location: str, key: str, connection_id: str, url: str, ca: str) -> None:
    """A process that takes the lease and is killed while the vendor holds its refresh."""
    vendor = Origin(url, cert_path=Path(ca))
    store = open_token_store(location, Encryptor([key]))
    spec = load_spec(SLACK_PATH)
    StoredTokenProvider(
        store, connection_id, spec, CLIENT, transport=ToVendor(vendor), lease_seconds=2.0
    ).get_token()


def test_a_lease_whose_owner_was_killed_is_taken_over(
    tmp_path: Path, store_backend: StoreBackend
) -> None:
    """A process killed mid-refresh leaves its lease row behind: the next caller waits for it to
    expire (the killed process's 2 s lease), takes it over and refreshes, exactly once."""
    provider = MockOAuthProvider(SLACK, VARIANT)
    endpoint = TokenEndpoint(provider)
    store = store_backend.token_store(Encryptor([KEY]))
    conn = expired(store, provider)
    gate = endpoint.hold(conn.tokens.refresh_token if conn.tokens else None)
    ctx = multiprocessing.get_context("spawn")
    with origin(endpoint.respond, tls_folder=tmp_path) as vendor:
        args = (str(store_backend.location), KEY, conn.id, vendor.url, str(vendor.cert_path))
        child = ctx.Process(target=_die_while_refreshing, args=args)
        child.start()
        try:
            assert gate.arrived.wait(60)
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
            child.join(30)
            lease = store.refresh_lease(conn.id)
            assert lease is not None and f":{child.pid}:" in lease.owner  # left behind
            gate.drop = True  # the dead caller's request never reaches the provider
            gate.opened.set()
            token = StoredTokenProvider(
                store, conn.id, SLACK, CLIENT, transport=ToVendor(vendor)
            ).get_token()
        finally:
            endpoint.open_all()
            if child.is_alive():
                child.kill()
    assert child.exitcode == -signal.SIGKILL
    assert provider.refresh_count == 1 and store.refresh_lease(conn.id) is None
    assert store.get(conn.id).tokens.access_token == token  # type: ignore[union-attr]


def test_an_expired_lease_row_is_taken_over_and_a_live_one_is_not(
    store_backend: StoreBackend,
) -> None:
    provider = MockOAuthProvider(SLACK, VARIANT)
    store = store_backend.token_store(Encryptor([KEY]))
    conn = expired(store, provider)
    assert store.claim_refresh(conn.id, "gone:1:dead", ttl=-1.0)  # expired already
    p = StoredTokenProvider(store, conn.id, SLACK, CLIENT, transport=provider.transport())
    token = p.get_token()
    assert provider.refresh_count == 1 and store.refresh_lease(conn.id) is None

    # A live lease is respected: a forced refresh waits for it (here until its own cap).
    assert store.claim_refresh(conn.id, "elsewhere:1:alive", ttl=60.0)
    impatient = StoredTokenProvider(
        store, conn.id, SLACK, CLIENT, transport=provider.transport(), recent_seconds=0.0
    )
    impatient._max_wait = 0.2
    with pytest.raises(Timeout, match="did not finish"):
        impatient.get_token(force_refresh=True)
    assert provider.refresh_count == 1 and store.get(conn.id).tokens.access_token == token  # type: ignore[union-attr]


def test_a_vendor_that_never_answers_is_cut_at_the_deadline_and_frees_the_lease(
    tmp_path: Path,
) -> None:
    provider = MockOAuthProvider(SLACK, VARIANT)
    endpoint = TokenEndpoint(provider)
    store = SQLiteTokenStore(tmp_path / "tokens.db", Encryptor([KEY]))
    conn = expired(store, provider)
    endpoint.hold(conn.tokens.refresh_token if conn.tokens else None)
    with origin(endpoint.respond, tls_folder=tmp_path) as vendor:
        try:
            sync = StoredTokenProvider(
                store, conn.id, SLACK, CLIENT, transport=ToVendor(vendor), refresh_deadline=0.3
            )
            with pytest.raises(Timeout, match="timed out"):
                sync.get_token()
            assert store.refresh_lease(conn.id) is None
            endpoint.hold(conn.tokens.refresh_token if conn.tokens else None)
            slow = StoredTokenProvider(
                store,
                conn.id,
                SLACK,
                CLIENT,
                async_transport=AsyncToVendor(vendor),
                refresh_deadline=0.3,
            )
            with pytest.raises(Timeout, match="timed out"):
                asyncio.run(slow.aget_token())
        finally:
            endpoint.open_all()
    assert store.refresh_lease(conn.id) is None and store.get(conn.id) == conn


# ------------------------------------------------------------------------------ the files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_files_and_the_folders_patchbay_creates_are_private(tmp_path: Path) -> None:
    """Issue: the store file was created 0644 (readable by every local user)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    folder = shared / "home" / ".patchbay"
    tokens = SQLiteTokenStore(folder / "connections.db", Encryptor([KEY]))
    tokens.create(StoredConnection("", "stripe", "api_key", credentials={"api_key": "sk_FAKE"}))
    subs = SubscriptionStore(tmp_path / "subs" / "s.db")
    hooks = SQLiteWebhookStore(tmp_path / "hooks.db", Encryptor([KEY]))
    hooks.create(WebhookSubscription("", "github", "events", secrets=(WEBHOOK_SECRET,)))
    assert _mode(shared / "home") == _mode(folder) == _mode(tmp_path / "subs") == 0o700
    files = [tokens.path, subs.path, hooks.path]
    side = [Path(f"{p}{s}") for p in files for s in ("-wal", "-shm") if Path(f"{p}{s}").exists()]
    assert len(side) >= 2  # the WAL and its index were written for the token store at least
    assert {p.name: _mode(p) for p in files + side} == {p.name: 0o600 for p in files + side}
    assert _mode(shared) == 0o755  # a folder Patchbay did not create keeps its mode


def test_a_store_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    """Issue: store exceptions escaped raw (here ``FileExistsError`` / ``NotADirectoryError``)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    for path in (blocker / "tokens.db", blocker / "deeper" / "tokens.db"):
        with pytest.raises(StoreError) as error:
            SQLiteTokenStore(path, Encryptor([KEY]))
        assert str(path) in error.value.message and error.value.__cause__ is None
