"""Attacks on the webhook receiver (issue 10, attacks 3 and 6), each through the real path.

Payload attacks go through the Starlette app in process (httpx's ASGI transport): correctly signed
deliveries, signed with the vendors' own schemes by ``mocks.webhook_sender``, that the event
model rejects, that nest too deep or carry an unusable delivery id, retried as a vendor would.
Socket attacks (stalled bodies, stalled headers, clients that hang up mid-body) run against
``patchbay webhooks serve`` in a child process on a loopback port, with a small open-file limit
so that exhausting descriptors takes only a few hundred sockets.

Every test counts side effects (handler calls, printed events) rather than trusting answers, and
checks the verdict metric and that no traceback was printed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from attack_support import free_port
from prometheus_client import CollectorRegistry

from patchbay.cli.webhooks import FD_RESERVE
from patchbay.mocks.webhook_sender import build_delivery, sample_event, sign
from patchbay.project import event_routers
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.errors import BadResponse
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.triggers._events import TriggerEvent
from patchbay.runtime.webhooks import (
    SQLiteWebhookStore,
    WebhookManager,
    WebhookSubscription,
)
from patchbay.runtime.webhooks.app import create_app

REGISTRY = SpecRegistry()
NOW = 1_767_225_600.0
SECRET = "whsec_attack_suite_secret_0001"
ROOT = Path(__file__).resolve().parent.parent

#: connector -> (an event type with a generated model, a change its model must reject).
REJECTED: dict[str, tuple[str, dict[str, Any]]] = {
    "slack": ("message", {"team_id": ["not", "a", "team id"]}),
    "stripe": ("customer.created", {"created": ["not a timestamp"]}),
    "github": ("issues", {"issue": "not an issue object"}),
    "typeform": ("form_response", {"form_response": ["not an object"]}),
    "zendesk": ("zen:event-type:ticket.created", {"account_id": ["not a number"]}),
}


def verdicts(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.labels["connector"], s.labels["verdict"]): s.value
        for family in registry.collect()
        if family.name == "patchbay_webhook_verdicts"
        for s in family.samples
        if s.name.endswith("_total")
    }


class Client:
    """A synchronous HTTP client for the ASGI app in process (httpx's ASGI transport); an
    exception escaping the app becomes the 500 a vendor would see, not a test error."""

    def __init__(self, app: Any) -> None:
        self.transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def post(self, url: str, *, content: bytes, headers: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://receiver.test"
            ) as client:
                return await client.post(url, content=content, headers=headers)

        return asyncio.run(send())


@dataclass
class Receiver:
    """The app in process, the handler calls it made, and its metric registry."""

    client: Client
    manager: WebhookManager
    store: SQLiteWebhookStore
    calls: list[TriggerEvent]
    registry: CollectorRegistry

    def subscribe(self, connector: str) -> WebhookSubscription:
        hook = REGISTRY.get(connector).triggers.webhooks[0]
        return self.store.create(
            WebhookSubscription(id="", connector=connector, webhook=hook.name, secrets=(SECRET,))
        )

    def post(self, sub: WebhookSubscription, body: bytes, headers: dict[str, str]) -> int:
        url = f"/webhooks/{sub.connector}/{sub.id}"
        return self.client.post(url, content=body, headers=headers).status_code


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    store = SQLiteWebhookStore(tmp_path / "store.db", Encryptor([new_key()]))
    registry = CollectorRegistry()
    manager = WebhookManager(
        REGISTRY,
        store,
        clock=lambda: NOW,
        metrics_registry=registry,
        routers=event_routers("patchbay.connectors", REGISTRY.names()),
    )
    calls: list[TriggerEvent] = []
    manager.add_handler(calls.append)
    yield Receiver(Client(create_app(manager)), manager, store, calls, registry)


def signed(connector: str, event: str, payload: Any) -> tuple[bytes, dict[str, str]]:
    spec = REGISTRY.get(connector)
    delivery = build_delivery(
        spec, spec.triggers.webhooks[0], event, SECRET, payload=payload, timestamp=NOW
    )
    return delivery.body, delivery.headers


# ------------------------------------------------------------------ attack 3: processed twice


@pytest.mark.parametrize("connector", list(REJECTED))
def test_a_delivery_the_model_rejects_is_handled_raw_exactly_once_under_retries(
    connector: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    event, change = REJECTED[connector]
    spec = REGISTRY.get(connector)
    hook = spec.triggers.webhooks[0]
    payload = {**sample_event(spec, hook, event), **change}
    router = receiver.manager.router(connector, hook.name)
    assert router is not None
    with pytest.raises(BadResponse):  # the premise: the generated model refuses this payload
        router.parse(payload, {hook.event_type_header or "": event})
    typed: list[Any] = []
    router.on(event)(typed.append)
    anything: list[Any] = []
    router.on("*")(anything.append)
    sub = receiver.subscribe(connector)
    body, headers = signed(connector, event, payload)

    with caplog.at_level(logging.INFO, logger="patchbay"):
        statuses = [receiver.post(sub, body, headers) for _ in range(3)]  # the vendor retries

    assert statuses == [200, 200, 200]
    assert len(receiver.calls) == 1  # plain handlers ran once, with the payload as sent
    assert receiver.calls[0].payload == payload
    assert typed == []  # a handler typed for the model cannot take what the model refused
    assert anything == [payload]
    assert verdicts(receiver.registry) == {
        (connector, "unparsed"): 1.0,
        (connector, "duplicate"): 2.0,
    }
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["webhook.unparsed"]


def test_one_github_delivery_id_is_handled_once_however_often_it_is_sent(
    receiver: Receiver,
) -> None:
    """The issue's case: one GUID, a payload GitHub sends but the model refuses, five tries."""
    sub = receiver.subscribe("github")
    payload = {"action": "opened", "issue": {"number": "seven"}, "repository": {}}
    body = json.dumps(payload).encode()
    hook = REGISTRY.get("github").triggers.webhooks[0]
    headers = sign(
        hook, body, SECRET, delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958", event_type="issues"
    )
    statuses = [receiver.post(sub, body, headers) for _ in range(5)]
    assert 500 not in statuses
    assert [e.dedupe_key for e in receiver.calls] == ["72d3162e-cc78-11e3-81ab-4c9367dc0958"]


def test_only_a_failing_handler_releases_the_delivery_id(receiver: Receiver) -> None:
    failures = iter([RuntimeError("downstream down")])

    def flaky(event: TriggerEvent) -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    receiver.manager.add_handler(flaky)
    sub = receiver.subscribe("stripe")
    event, change = REJECTED["stripe"]
    body, headers = signed(
        "stripe",
        event,
        {
            **sample_event(
                REGISTRY.get("stripe"), REGISTRY.get("stripe").triggers.webhooks[0], event
            ),
            **change,
        },
    )
    first = receiver.client.post(f"/webhooks/stripe/{sub.id}", content=body, headers=headers)
    assert first.status_code == 503 and first.headers["retry-after"]
    assert receiver.post(sub, body, headers) == 200  # the retry is processed
    assert receiver.post(sub, body, headers) == 200  # and then only acknowledged
    assert len(receiver.calls) == 2  # the handler before the failing one ran for both tries
    assert verdicts(receiver.registry) == {
        ("stripe", "handler_failed"): 1.0,
        ("stripe", "unparsed"): 1.0,
        ("stripe", "duplicate"): 1.0,
    }


def test_deeply_nested_json_with_a_valid_signature_is_a_400(receiver: Receiver) -> None:
    sub = receiver.subscribe("github")
    body = b'{"action":"opened","issue":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    hook = REGISTRY.get("github").triggers.webhooks[0]
    headers = sign(hook, body, SECRET, delivery_id="deep-1", event_type="issues")
    assert [receiver.post(sub, body, headers) for _ in range(2)] == [400, 400]
    assert receiver.calls == []
    assert verdicts(receiver.registry) == {("github", "bad_request"): 2.0}


@pytest.mark.parametrize(
    "delivery_id", ['"\\ud800"', '"evt\\u0000x"', '{"a": 1}', '"' + "e" * 300 + '"']
)
def test_an_unusable_delivery_id_in_the_body_is_a_400(delivery_id: str, receiver: Receiver) -> None:
    sub = receiver.subscribe("stripe")
    payload = sample_event(
        REGISTRY.get("stripe"), REGISTRY.get("stripe").triggers.webhooks[0], "customer.created"
    )
    payload["id"] = "PLACEHOLDER"
    body = json.dumps(payload).encode().replace(b'"PLACEHOLDER"', delivery_id.encode())
    headers = sign(REGISTRY.get("stripe").triggers.webhooks[0], body, SECRET, timestamp=NOW)
    assert receiver.post(sub, body, headers) == 400
    assert receiver.calls == []
    assert verdicts(receiver.registry) == {("stripe", "bad_request"): 1.0}


def test_an_unusable_delivery_id_header_is_a_400(receiver: Receiver) -> None:
    sub = receiver.subscribe("github")
    hook = REGISTRY.get("github").triggers.webhooks[0]
    body = json.dumps(sample_event(REGISTRY.get("github"), hook, "issues")).encode()
    # Over HTTP a header is bytes (read as latin-1); in process a caller can pass any str.
    over_http = {
        **sign(hook, body, SECRET, event_type="issues"),
        "X-GitHub-Delivery": "\xed\xa0\x80",
    }
    response = receiver.client.post(
        f"/webhooks/github/{sub.id}",
        content=body,
        headers={k: v.encode("latin-1") for k, v in over_http.items()},
    )
    assert response.status_code == 400
    lone = {**over_http, "X-GitHub-Delivery": "\ud800"}
    assert receiver.manager.handle("github", sub.id, lone, body).status == 400
    assert receiver.calls == []
    assert verdicts(receiver.registry) == {("github", "bad_request"): 2.0}


# ------------------------------------------------------- attack 6: slow and vanishing clients


@dataclass
class Served:
    """``patchbay webhooks serve`` in a child process, with one GitHub subscription."""

    url: str
    process: subprocess.Popen[bytes]
    sub: WebhookSubscription
    out: Path
    err: Path

    @property
    def path(self) -> str:
        return f"/webhooks/github/{self.sub.id}"

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def log_lines(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.stderr().splitlines():
            with suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("event") == event:
                    found.append(record)
        return found

    def sockets(self) -> int:
        """Sockets the receiver holds open (its listening socket included)."""
        fds = Path(f"/proc/{self.process.pid}/fd")
        count = 0
        for fd in fds.iterdir():
            with suppress(OSError):
                count += os.readlink(fd).startswith("socket:")
        return count

    def deliver(self, client: httpx.Client, delivery_id: str) -> httpx.Response:
        hook = REGISTRY.get("github").triggers.webhooks[0]
        body = json.dumps(sample_event(REGISTRY.get("github"), hook, "issues")).encode()
        headers = sign(hook, body, SECRET, delivery_id=delivery_id, event_type="issues")
        return client.post(self.url + self.path, content=body, headers=headers)


def limit_open_files(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


@contextmanager
def serve(tmp_path: Path, *options: str, open_files: int | None = None) -> Iterator[Served]:
    """Start the receiver; ``open_files`` lowers its descriptor limit (soft and hard)."""
    key = new_key()
    store = SQLiteWebhookStore(tmp_path / "store.db", Encryptor([key]))
    hook = REGISTRY.get("github").triggers.webhooks[0]
    sub = store.create(
        WebhookSubscription(id="", connector="github", webhook=hook.name, secrets=(SECRET,))
    )
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "patchbay", "webhooks", "serve", "--port", str(port)]
    command += ["--store", str(tmp_path / "store.db"), *options]
    env = {**os.environ, "PATCHBAY_SECRET_KEY": key, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env=env,
            preexec_fn=None if open_files is None else partial(limit_open_files, open_files),
        )
    served = Served(f"http://127.0.0.1:{port}", process, sub, out, err)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the receiver to listen (a start-up wait, not an assertion)
            assert process.poll() is None, served.stderr()
            with suppress(httpx.TransportError):
                if httpx.get(served.url + "/healthz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.05)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def stall(served: Served, kind: str) -> socket.socket:
    """A connection that stops: before its headers, inside them, or inside its body."""
    sock = socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1])))
    head = f"POST {served.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if kind == "headers":
        sock.sendall(head.encode())
    elif kind == "body":
        sock.sendall(head.encode() + b"Content-Length: 1000\r\n\r\n" + b'{"action": ')
    return sock


def read_to_end(sock: socket.socket, seconds: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if not)."""
    sock.settimeout(seconds)
    received = b""
    with suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def closed_by_server(sock: socket.socket) -> bool:
    ready, _, _ = select.select([sock], [], [], 0)
    if not ready:
        return False
    with suppress(ConnectionResetError):
        return sock.recv(65536, socket.MSG_PEEK) == b""
    return True


KINDS = ("silent", "headers", "body")


@pytest.mark.parametrize(
    ("options", "limit"),
    [
        (("--limit-concurrency", "64"), 64),
        ((), 256 - FD_RESERVE),  # the default limit, lowered to fit 256 open files
    ],
)
def test_stalled_connections_cannot_crowd_out_a_genuine_delivery(
    options: tuple[str, ...], limit: int, tmp_path: Path
) -> None:
    """400 stalled sockets against a receiver that may open 256 files (before: the accept
    loop ran out of descriptors and the vendor's delivery was reset): the delivery is processed
    at once, the longest-waiting stalled sockets make room (the read timeout is long here),
    and the receiver holds about as many sockets as its limit allows."""
    with serve(tmp_path, *options, "--read-timeout", "120", open_files=256) as served:
        with ExitStack() as stack:
            stalled = [stack.enter_context(stall(served, KINDS[i % 3])) for i in range(400)]
            with httpx.Client(timeout=30) as client:
                assert served.deliver(client, "genuine-1").status_code == 200
            held = served.sockets()
            deadline = time.monotonic() + 30
            while (dropped := sum(map(closed_by_server, stalled))) < 400 - limit:
                assert time.monotonic() < deadline, f"only {dropped} stalled sockets dropped"
                time.sleep(0.05)  # the server's FINs are on their way
        # Its connections, the listening socket, and a close or two still under way.
        assert held <= limit + 4
        assert served.process.poll() is None
    events = [json.loads(line) for line in served.stdout().splitlines() if line.startswith("{")]
    assert [e["dedupe_key"] for e in events] == ["genuine-1"]
    assert "Traceback" not in served.stderr()


def test_stalls_time_out_disconnects_are_one_line_and_refusals_are_logged(tmp_path: Path) -> None:
    with serve(tmp_path, "--read-timeout", "1") as served:
        with ExitStack() as stack:
            stalled = {
                kind: [stack.enter_context(stall(served, kind)) for _ in range(10)]
                for kind in KINDS
            }
            answers = {kind: [read_to_end(s) for s in socks] for kind, socks in stalled.items()}
        assert all(a == b"" for a in answers["silent"] + answers["headers"])
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers["body"])

        for _ in range(20):  # senders that hang up in the middle of their body
            with stall(served, "body"):
                pass
        with httpx.Client(timeout=30) as client:
            statuses = [served.deliver(client, "retried-1").status_code for _ in range(3)]
            forged = client.post(
                served.url + served.path,
                content=b"{}",
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": "sha256=" + "0" * 64,
                    "X-GitHub-Event": "issues",
                },
            )
        assert statuses == [200, 200, 200] and forged.status_code == 401
        # The receiver answers until it has logged each of the 20 hang-ups.
        deadline = time.monotonic() + 30
        while len(served.log_lines("webhook.rejected")) < 10 + 20 + 1:
            assert time.monotonic() < deadline, served.stderr()[-2000:]
            time.sleep(0.05)
        assert served.process.poll() is None

    events = [json.loads(line) for line in served.stdout().splitlines() if line.startswith("{")]
    assert [e["dedupe_key"] for e in events] == ["retried-1"]
    rejected = served.log_lines("webhook.rejected")
    assert all(r["level"] == "info" and "body" not in r for r in rejected)
    by_verdict = sorted(
        {(r["verdict"], sum(x["verdict"] == r["verdict"] for x in rejected)) for r in rejected}
    )
    assert by_verdict == [("disconnected", 20), ("invalid_signature", 1), ("timeout", 10)]
    dropped = served.log_lines("webhook.connection_dropped")
    assert [d["reason"] for d in dropped] == ["header_timeout"] * 20
    stderr = served.stderr()
    assert "Traceback" not in stderr and SECRET not in stderr
    # Every line on stderr is one JSON log record: no traceback, nothing spread over lines.
    assert all(isinstance(json.loads(line), dict) for line in stderr.splitlines())


def test_a_signed_handshake_with_an_unencodable_challenge_is_answered(receiver: Receiver) -> None:
    sub = receiver.subscribe("slack")
    body = b'{"type": "url_verification", "token": "t", "challenge": "\\ud800abc"}'
    headers = sign(REGISTRY.get("slack").triggers.webhooks[0], body, SECRET, timestamp=NOW)
    assert receiver.post(sub, body, headers) == 200
    assert verdicts(receiver.registry) == {("slack", "handshake"): 1.0}
