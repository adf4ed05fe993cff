"""Attacks on the webhook receiver (issue 10, attacks 3 and 6), each through the real path.

Payload attacks go through the Starlette app in process (``TestClient``): correctly signed
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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from attack_support import free_port
from mocks.webhook_sender import build_delivery, sample_event, sign
from patchbay.webhooks_cli import webhooks
from runtime.encryption import Encryptor, new_key
from runtime.registry import SpecRegistry
from runtime.webhook_app import create_app
from runtime.webhooks import SQLiteWebhookStore, TriggerEvent, WebhookManager, WebhookSubscription

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
    manager = WebhookManager(REGISTRY, store, clock=lambda: NOW, metrics_registry=registry)
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
    with pytest.raises(ValueError):  # the premise: the generated model refuses this payload
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
