"""Single-flight refresh across real processes sharing one store, on SQLite and PostgreSQL.

Four spawned processes, 25 threads each, start together on a connection whose access token
has expired; the token endpoint is slowed down (every caller arrives while the refresh is in
flight). The mock OAuth provider runs once, in this process, behind a loopback uvicorn
server, so every refresh request from every process lands in one count. Slack rotates refresh
tokens: a second refresh with the old one would be refused (invalid_grant) and mark the
connection needs_reauth, so anything but single flight shows.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import httpx
from conftest import StoreBackend

from patchbay.mocks.loopback import HandlerApp, serve
from patchbay.mocks.oauth_provider import MockOAuthProvider
from patchbay.runtime import load_spec
from patchbay.runtime.accounts._connect import OriginTransport
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.accounts._oauth import OAuthClient, oauth_variant, read_token_response
from patchbay.runtime.accounts._token_provider import StoredTokenProvider
from patchbay.runtime.accounts._token_store import StoredConnection
from patchbay.runtime.storage._postgres import close_pools
from patchbay.runtime.stores import open_token_store

ROOT = Path(__file__).resolve().parent.parent
SLACK = ROOT / "specs/slack.json"
CLIENT = OAuthClient("client_FAKE_id", "client_FAKE_secret")
PROCESSES = 4
THREADS = 25
SLOW = 0.5  # seconds the token endpoint takes to answer a refresh
Outcome = tuple[list[str], list[str]]  # tokens got, errors seen


def _worker(
    location: str, key: str, connection_id: str, origin: str, start: Barrier, out: Queue[Outcome]
) -> None:
    """One process: its own store handle and provider; its threads ask for a token at once."""
    try:
        spec = load_spec(SLACK)
        store = open_token_store(location, Encryptor([key]))
        provider = StoredTokenProvider(
            store, connection_id, spec, CLIENT, transport=OriginTransport(origin)
        )
        tokens: list[str] = []
        errors: list[str] = []

        def call() -> None:
            try:
                tokens.append(provider.get_token())
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=call) for _ in range(THREADS)]
        start.wait()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out.put((tokens, errors))
    except Exception as exc:
        out.put(([], [repr(exc)]))
    finally:
        close_pools()


def test_one_refresh_for_four_processes_sharing_the_store(store_backend: StoreBackend) -> None:
    spec = load_spec(SLACK)
    variant = oauth_variant(spec)
    assert variant.refresh.rotates_refresh_token
    provider = MockOAuthProvider(spec, variant)
    fresh = read_token_response(spec, variant, provider.issue_tokens())
    assert fresh.refresh_token is not None
    key = new_key()
    store = store_backend.token_store(Encryptor([key]))
    expired = StoredConnection(
        "",
        "slack",
        variant.name,
        tokens=replace(fresh, expires_at=time.time() - 60, obtained_at=time.time() - 3600),
    )
    conn = store.create(expired)

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    out: Queue[Outcome] = ctx.Queue()

    def slow(request: httpx.Request) -> httpx.Response:
        request.read()
        if b"grant_type=refresh_token" in request.content:
            time.sleep(SLOW)  # the server's loop stalls too: nothing else is served meanwhile
        return provider.handler(request)

    with serve(HandlerApp(slow)) as origin:
        workers = [
            ctx.Process(
                target=_worker, args=(str(store_backend.location), key, conn.id, origin, start, out)
            )
            for _ in range(PROCESSES)
        ]
        for w in workers:
            w.start()
        results = [out.get(timeout=120) for _ in workers]
        for w in workers:
            w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * PROCESSES

    errors = [e for _tokens, errs in results for e in errs]
    tokens = [t for toks, _errs in results for t in toks]
    assert errors == []
    assert len(tokens) == PROCESSES * THREADS
    refreshes = [r for r in provider.requests if b"grant_type=refresh_token" in r.content]
    assert len(refreshes) == 1 and provider.refresh_count == 1
    assert len(set(tokens)) == 1 and tokens[0] != fresh.access_token
    stored = store.get(conn.id)
    assert stored.status == "active" and stored.tokens is not None
    assert stored.tokens.access_token == tokens[0]
    # The rotated refresh token was persisted; the old one is dead at the provider.
    assert stored.tokens.refresh_token not in (None, fresh.refresh_token)
    live = provider.live_tokens()
    assert {tokens[0], stored.tokens.refresh_token} <= live and fresh.refresh_token not in live
