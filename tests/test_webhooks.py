"""Webhook receiving: verifiers per scheme (vendor examples), the manager's rules, the app,
registration through the spec-driven mock, the signed sender and the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from conftest import StoreBackend, open_backend
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel

from patchbay.cli.webhooks import webhooks
from patchbay.mocks.server import MockOptions, MockServer
from patchbay.mocks.webhook_sender import build_delivery, sign
from patchbay.project import event_routers
from patchbay.runtime import Connection, GenericExecutor
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._loading import check_spec_data
from patchbay.runtime.spec._model import ConnectorSpec, Webhook, WebhookVerification
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.triggers._events import TriggerEvent
from patchbay.runtime.webhooks import (
    HANDLER_RETRY_AFTER,
    PROCESSING_TIMEOUT,
    SQLiteWebhookStore,
    WebhookManager,
    WebhookRejected,
    WebhookSubscription,
    register,
    unregister,
    verify_signature,
)
from patchbay.runtime.webhooks._routing import EventRouter
from patchbay.runtime.webhooks.app import create_app

REGISTRY = SpecRegistry()
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SECRET = "whsec_patchbay_test_secret_0001"
NEW_SECRET = "whsec_patchbay_test_secret_0002"


#: connector -> an event type that reaches handlers (GitHub's ping is acknowledged only).
def routers() -> list[EventRouter]:
    """Fresh generated routers of every bundled connector (handlers never leak across tests)."""
    return event_routers("patchbay.connectors", REGISTRY.names())


EVENTS = {
    "slack": "message",
    "stripe": "customer.created",
    "github": "issues",
    "typeform": "form_response",
    "zendesk": "zen:event-type:ticket.created",
}
TIMESTAMPED = ["slack", "stripe", "zendesk"]


def hook_of(connector: str) -> Webhook:
    return REGISTRY.get(connector).triggers.webhooks[0]


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def store_kind() -> str:
    """SQLite unless a test is parametrized over both backends with ``BOTH``."""
    return "sqlite"


#: Runs a test on SQLite and on PostgreSQL (overrides the ``store_kind`` fixture).
BOTH = pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])


@pytest.fixture
def backend(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_backend(store_kind, tmp_path, request)


@pytest.fixture
def store(backend: StoreBackend, key: str) -> SQLiteWebhookStore:
    made: SQLiteWebhookStore = backend.webhook_store(Encryptor([key]), prune_every=2)
    return made


@pytest.fixture
def manager(store: SQLiteWebhookStore) -> tuple[WebhookManager, list[TriggerEvent]]:
    received: list[TriggerEvent] = []
    mgr = WebhookManager(REGISTRY, store, clock=lambda: NOW, routers=routers())
    mgr.add_handler(received.append)
    return mgr, received


def subscribe(
    store: SQLiteWebhookStore, connector: str, secrets: tuple[str, ...] = (SECRET,)
) -> WebhookSubscription:
    hook = hook_of(connector)
    return store.create(
        WebhookSubscription(id="", connector=connector, webhook=hook.name, secrets=secrets)
    )


def delivery(
    connector: str, secret: str = SECRET, *, ts: float = NOW, payload: Any = None
) -> tuple[dict[str, str], bytes]:
    spec = REGISTRY.get(connector)
    hook = spec.triggers.webhooks[0]
    signed = build_delivery(spec, hook, EVENTS[connector], secret, payload=payload, timestamp=ts)
    return signed.headers, signed.body


# ------------------------------------------------------------------ published vendor examples

SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
    b"collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F39770088"
    b"5554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c4"
    b"47fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_published_example_verifies_exactly() -> None:
    ver = hook_of("slack").verification
    headers = {"X-Slack-Signature": SLACK_SIG, "X-Slack-Request-Timestamp": "1531420618"}
    verify_signature(ver, headers, SLACK_BODY, ["8f742231b10e8888abcd99yyyzzz85a5"], now=1531420618)
    with pytest.raises(WebhookRejected, match="bad_signature"):
        verify_signature(
            ver, headers, SLACK_BODY + b"x", ["8f742231b10e8888abcd99yyyzzz85a5"], now=1531420618
        )
    with pytest.raises(WebhookRejected, match="stale_timestamp"):
        verify_signature(
            ver, headers, SLACK_BODY, ["8f742231b10e8888abcd99yyyzzz85a5"], now=1531420618 + 301
        )
    # The sender signs identically.
    signed = sign(
        hook_of("slack"), SLACK_BODY, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618
    )
    assert signed["X-Slack-Signature"] == SLACK_SIG


def test_github_published_example_verifies_exactly() -> None:
    ver = hook_of("github").verification
    sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify_signature(
        ver, {"X-Hub-Signature-256": sig}, b"Hello, World!", ["It's a Secret to Everybody"]
    )
    with pytest.raises(WebhookRejected):
        verify_signature(
            ver, {"X-Hub-Signature-256": sig}, b"Hello, World?", ["It's a Secret to Everybody"]
        )
    assert (
        sign(hook_of("github"), b"Hello, World!", "It's a Secret to Everybody")[
            "X-Hub-Signature-256"
        ]
        == sig
    )


STANDARD = WebhookVerification(
    scheme="standard_webhooks",
    signature_header="webhook-signature",
    timestamp_header="webhook-timestamp",
    signed_payload="{id}.{timestamp}.{body}",
    encoding="base64",
    secret_encoding="base64",
)


def test_standard_webhooks_reference_vector() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,bad= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    verify_signature(
        STANDARD, headers, body, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], now=1614265330
    )
    with pytest.raises(WebhookRejected, match="future_timestamp"):
        verify_signature(
            STANDARD,
            headers,
            body,
            ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            now=1614265330 - 301,
        )
    with pytest.raises(WebhookRejected, match="bad_signature"):
        verify_signature(
            STANDARD,
            {**headers, "webhook-id": "msg_other"},
            body,
            ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            now=1614265330,
        )


def test_generic_hmac_scheme_follows_the_spec_parameters() -> None:
    ver = WebhookVerification(
        scheme="hmac", signature_header="X-Sig", signature_prefix="sha1=", algorithm="sha1"
    )
    good = "sha1=" + hmac.new(b"k3y!", b"{}", hashlib.sha1).hexdigest()
    verify_signature(ver, {"x-sig": good}, b"{}", ["k3y!"])
    with pytest.raises(WebhookRejected):
        verify_signature(ver, {"x-sig": good.replace("sha1=", "sha256=")}, b"{}", ["k3y!"])


def test_stripe_any_v1_matches_and_v0_is_ignored() -> None:
    ver = hook_of("stripe").verification
    body = b'{"id":"evt_1"}'
    good = hmac.new(SECRET.encode(), f"{int(NOW)}.".encode() + body, hashlib.sha256).hexdigest()
    both = {"Stripe-Signature": f"t={int(NOW)},v1={'0' * 64},v1={good}"}
    verify_signature(ver, both, body, [SECRET], now=NOW)
    only_v0 = {"Stripe-Signature": f"t={int(NOW)},v0={good}"}
    with pytest.raises(WebhookRejected, match="bad_signature"):
        verify_signature(ver, only_v0, body, [SECRET], now=NOW)
    # The key is the whole string including whsec_, not a decoded form of it.
    stripped = hmac.new(
        SECRET.removeprefix("whsec_").encode(), f"{int(NOW)}.".encode() + body, hashlib.sha256
    ).hexdigest()
    with pytest.raises(WebhookRejected):
        verify_signature(
            ver, {"Stripe-Signature": f"t={int(NOW)},v1={stripped}"}, body, [SECRET], now=NOW
        )


def test_zendesk_signs_timestamp_then_body() -> None:
    ver = hook_of("zendesk").verification
    stamp, body = "2026-01-01T00:00:00Z", b'{"id":"1","type":"t"}'
    forward = base64.b64encode(
        hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    ).decode()
    backward = base64.b64encode(
        hmac.new(SECRET.encode(), body + stamp.encode(), hashlib.sha256).digest()
    ).decode()
    ts_header = "X-Zendesk-Webhook-Signature-Timestamp"
    verify_signature(
        ver, {"X-Zendesk-Webhook-Signature": forward, ts_header: stamp}, body, [SECRET], now=NOW
    )
    with pytest.raises(WebhookRejected, match="bad_signature"):
        verify_signature(
            ver,
            {"X-Zendesk-Webhook-Signature": backward, ts_header: stamp},
            body,
            [SECRET],
            now=NOW,
        )


def test_typeform_signature_is_base64_not_hex() -> None:
    ver = hook_of("typeform").verification
    body = b'{"event_id":"e"}'
    raw = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    verify_signature(
        ver, {"Typeform-Signature": "sha256=" + base64.b64encode(raw).decode()}, body, [SECRET]
    )
    with pytest.raises(WebhookRejected):
        verify_signature(ver, {"Typeform-Signature": "sha256=" + raw.hex()}, body, [SECRET])


# ------------------------------------------------------------- the manager, per vendor scheme


@pytest.mark.parametrize("connector", list(EVENTS))
def test_valid_delivery_becomes_a_typed_trigger_event(
    connector: str, store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    headers, body = delivery(connector)
    result = mgr.handle(connector, sub.id, headers, body)
    assert (result.status, result.processed) == (200, True)
    assert len(received) == 1
    event = received[0]
    assert (event.connector, event.subscription, event.type) == (
        connector,
        sub.id,
        EVENTS[connector],
    )
    assert isinstance(event.payload, BaseModel)  # the generated model of the event type
    assert event.dedupe_key


@pytest.mark.parametrize("connector", list(EVENTS))
def test_forged_and_tampered_deliveries_are_rejected(
    connector: str, store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    headers, body = delivery(connector, secret="whsec_attacker_guess")
    assert mgr.handle(connector, sub.id, headers, body).status == 401
    headers, body = delivery(connector)
    tampered = body.replace(b"{", b'{"x":1,', 1)
    assert mgr.handle(connector, sub.id, headers, tampered).status == 401
    sig_header = hook_of(connector).verification.signature_header
    missing = {k: v for k, v in headers.items() if k.lower() != sig_header.lower()}
    assert mgr.handle(connector, sub.id, missing, body).status == 400
    assert received == []
    assert store.delivery_count() == 0


@pytest.mark.parametrize("connector", TIMESTAMPED)
@pytest.mark.parametrize(("offset", "reason"), [(-301, "stale"), (301, "future")])
def test_stale_and_future_timestamps_are_rejected(
    connector: str,
    offset: int,
    reason: str,
    store: SQLiteWebhookStore,
    manager: tuple[WebhookManager, list[TriggerEvent]],
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    headers, body = delivery(connector, ts=NOW + offset)
    result = mgr.handle(connector, sub.id, headers, body)
    assert (result.status, result.reason) == (401, f"{reason}_timestamp")
    inside = NOW + (299 if offset > 0 else -299)
    headers, body = delivery(connector, ts=inside)
    assert mgr.handle(connector, sub.id, headers, body).status == 200
    assert len(received) == 1


@BOTH
@pytest.mark.parametrize("connector", list(EVENTS))
def test_replayed_delivery_is_acknowledged_and_processed_once(
    connector: str, store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    headers, body = delivery(connector)
    first = mgr.handle(connector, sub.id, headers, body)
    again = mgr.handle(connector, sub.id, headers, body)
    assert (first.status, first.processed) == (200, True)
    assert (again.status, again.processed, again.reason) == (200, False, "duplicate")
    assert len(received) == 1
    # A second manager on the same file (another process) also knows it: the ids persist.
    other = WebhookManager(REGISTRY, store, clock=lambda: NOW)
    late: list[TriggerEvent] = []
    other.add_handler(late.append)
    assert other.handle(connector, sub.id, headers, body).reason == "duplicate"
    assert late == []


@BOTH
@pytest.mark.parametrize("connector", list(EVENTS))
def test_rotated_secrets_are_all_accepted_until_removed(
    connector: str, store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    store.add_secret(sub.id, NEW_SECRET)
    for secret in (SECRET, NEW_SECRET):
        headers, body = delivery(connector, secret=secret)
        assert mgr.handle(connector, sub.id, headers, body).status == 200
    store.remove_secret(sub.id, SECRET)
    headers, body = delivery(connector, secret=SECRET)
    assert mgr.handle(connector, sub.id, headers, body).status == 401
    assert len(received) == 2


@pytest.mark.parametrize("connector", list(EVENTS))
def test_wrong_content_type_empty_and_oversized_bodies_are_rejected(
    connector: str, store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, connector)
    headers, body = delivery(connector)
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert mgr.handle(connector, sub.id, form, body).status == 415
    empty_headers, _ = delivery(connector, payload={})
    assert mgr.handle(connector, sub.id, empty_headers, b"").status == 400
    limit = hook_of(connector).max_body_bytes
    big = {"event_id": "x", "id": "x", "pad": "a" * limit}
    big_headers, big_body = delivery(connector, payload=big)
    assert len(big_body) > limit
    assert mgr.handle(connector, sub.id, big_headers, big_body).status == 413
    assert received == []
    assert store.delivery_count() == 0


def test_unknown_subscription_is_404_and_logged_without_body_or_signature(
    store: SQLiteWebhookStore,
    manager: tuple[WebhookManager, list[TriggerEvent]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    mgr, received = manager
    sub = subscribe(store, "stripe")
    headers, body = delivery("stripe", payload={"id": "evt_1", "marker": "BODY-MARKER-123"})
    with caplog.at_level(logging.DEBUG, logger="patchbay"):
        assert mgr.handle("stripe", "nope", headers, body).status == 404
        assert mgr.handle("github", sub.id, headers, body).status == 404  # wrong connector
        assert mgr.handle("stripe", sub.id, headers, body + b" ").status == 401
    logged = " ".join(
        f"{r.getMessage()} {json.dumps(getattr(r, 'patchbay', {}))}" for r in caplog.records
    )
    assert "webhook.unknown_subscription" in logged
    assert "BODY-MARKER-123" not in logged
    signature = headers["Stripe-Signature"].split("v1=")[1]
    assert signature not in logged and SECRET not in logged
    assert received == []


@BOTH
def test_secrets_are_encrypted_at_rest_and_never_in_reprs(
    store: SQLiteWebhookStore, backend: StoreBackend
) -> None:
    sub = subscribe(store, "github", (SECRET, NEW_SECRET))
    assert SECRET not in repr(sub) and NEW_SECRET not in repr(sub)
    dumped = repr(backend.raw_rows("webhook_subscriptions"))
    assert SECRET not in dumped and "secret_0001" not in dumped
    assert store.get(sub.id).secrets == (SECRET, NEW_SECRET)
    assert store.list()[0].secrets == ()  # listing leaves secrets sealed
    with pytest.raises(Exception, match="cannot decrypt"):
        backend.webhook_store(Encryptor([new_key()])).get(sub.id)


@BOTH
def test_seen_delivery_ids_are_pruned_and_bounded(store: SQLiteWebhookStore) -> None:
    store.max_deliveries = 3
    for i in range(6):
        assert store.claim("s", f"d{i}", now=NOW + i)
    assert store.delivery_count() <= 4  # pruned every second claim
    store.prune(NOW + 10)
    assert store.delivery_count() == 3
    store.retention = 1.0
    store.prune(NOW + 100)
    assert store.delivery_count() == 0


def test_slack_url_verification_answers_the_challenge_after_verifying(
    store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, "slack")
    payload = {
        "token": "t",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    headers, body = delivery("slack", payload=payload)
    result = mgr.handle("slack", sub.id, headers, body)
    assert (result.status, result.body, result.content_type) == (
        200,
        payload["challenge"].encode(),
        "text/plain",
    )
    forged, _ = delivery("slack", secret="wrong", payload=payload)
    assert mgr.handle("slack", sub.id, forged, body).status == 401
    assert received == []


def test_github_ping_is_acknowledged_not_dispatched(
    store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    mgr, received = manager
    sub = subscribe(store, "github")
    spec = REGISTRY.get("github")
    signed = build_delivery(
        spec,
        spec.triggers.webhooks[0],
        "ping",
        SECRET,
        payload={"zen": "Keep it logically awesome.", "hook_id": 1},
    )
    result = mgr.handle("github", sub.id, signed.headers, signed.body)
    assert (result.status, result.reason) == (200, "acknowledged")
    assert received == []


def test_failing_handler_answers_503_and_the_retry_is_processed(
    store: SQLiteWebhookStore,
) -> None:
    calls: list[str] = []

    def flaky(event: TriggerEvent) -> None:
        calls.append(event.dedupe_key)
        if len(calls) == 1:
            raise RuntimeError("downstream down")

    mgr = WebhookManager(REGISTRY, store, clock=lambda: NOW)
    mgr.add_handler(flaky)
    sub = subscribe(store, "github")
    headers, body = delivery("github")
    failed = mgr.handle("github", sub.id, headers, body)
    assert (failed.status, failed.retry_after) == (503, 60)  # a status every vendor retries
    assert mgr.handle("github", sub.id, headers, body).status == 200
    assert mgr.handle("github", sub.id, headers, body).reason == "duplicate"
    assert len(calls) == 2 and calls[0] == calls[1] == headers["X-GitHub-Delivery"]


def test_typed_router_handlers_receive_the_generated_model(
    store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    from patchbay.connectors.stripe import models

    mgr, _ = manager
    router = mgr.router("stripe", "events")
    assert router is not None
    seen: list[Any] = []
    router.on("customer.created")(seen.append)
    sub = subscribe(store, "stripe")
    headers, body = delivery("stripe")
    assert mgr.handle("stripe", sub.id, headers, body).status == 200
    assert len(seen) == 1 and isinstance(seen[0], models.Event)


def test_without_a_router_handlers_get_the_json_as_sent_and_a_router_added_later_types_it(
    store: SQLiteWebhookStore,
) -> None:
    from patchbay.connectors.stripe import models
    from patchbay.connectors.stripe.triggers import StripeEventsEvents

    received: list[TriggerEvent] = []
    mgr = WebhookManager(REGISTRY, store, clock=lambda: NOW)
    mgr.add_handler(received.append)
    sub = subscribe(store, "stripe")
    headers, body = delivery("stripe")
    assert mgr.handle("stripe", sub.id, headers, body).status == 200
    assert isinstance(received[-1].payload, dict)  # the runtime imports no generated code
    router = mgr.add_router(StripeEventsEvents())
    assert mgr.router("stripe", "events") is router
    second = json.loads(body)
    second["id"] = "evt_FAKE_second"
    headers, body = delivery("stripe", payload=second)
    assert mgr.handle("stripe", sub.id, headers, body).status == 200
    assert isinstance(received[-1].payload, models.Event)


# ------------------------------------------------------------------------- the Starlette app


# ------------------------------------------------------------- registration through the mock


def _executor(connector: str, server: MockServer) -> GenericExecutor:
    spec = server.spec
    return GenericExecutor(
        spec,
        Connection(connector, credentials=dict(server.credentials)),
        transport=server.transport(),
        sleep=lambda s: None,
    )


class Recording:
    """Passes calls to the executor and keeps each result (what the vendor answered)."""

    def __init__(self, executor: GenericExecutor) -> None:
        self.executor = executor
        self.results: list[Any] = []

    def call(self, action: str, data: Any = None, /) -> Any:
        result = self.executor.call(action, data)
        self.results.append(result)
        return result


def test_stripe_registration_stores_the_returned_secret(store: SQLiteWebhookStore) -> None:
    server = MockServer(REGISTRY.get("stripe"))
    with _executor("stripe", server) as ex:
        recording = Recording(ex)
        sub = register(server.spec, recording, store, "https://hooks.example.test", params={})
    sent = server.requests[-1]
    assert sent.method == "POST" and sent.path.endswith("/webhook_endpoints")
    assert f"%2Fwebhooks%2Fstripe%2F{sub.id}".encode() in sent.body  # form-encoded url
    returned = recording.results[-1]["secret"]
    stored = store.get(sub.id)
    assert stored.secrets == (returned,)
    assert stored.registration == {
        "action": "create_webhook_endpoint",
        "endpoint_id": recording.results[-1]["id"],
    }


@pytest.mark.parametrize(
    ("connector", "params", "delete_path"),
    [
        ("github", {"owner": "octo", "repo": "hello"}, "/repos/octo/hello/hooks/"),
        ("typeform", {"form_id": "F1", "tag": "pb"}, "/forms/F1/webhooks/pb"),
    ],
)
def test_registration_with_a_patchbay_secret_and_unregister(
    connector: str, params: dict[str, str], delete_path: str, store: SQLiteWebhookStore
) -> None:
    server = MockServer(REGISTRY.get(connector), MockOptions(golden_root=None))
    with _executor(connector, server) as ex:
        sub = register(server.spec, ex, store, "https://hooks.example.test/", params=params)
        created = server.requests[-1]
        body = json.loads(created.body)
        config = body.get("config", body)
        assert config["secret"] == store.get(sub.id).secrets[0]
        assert len(config["secret"]) == 64
        assert config["url"] == f"https://hooks.example.test/webhooks/{connector}/{sub.id}"
        assert unregister(server.spec, ex, store, sub.id) is True
    assert server.requests[-1].method == "DELETE"
    assert delete_path in server.requests[-1].path
    assert store.list() == []


def test_slack_is_registered_by_hand(store: SQLiteWebhookStore) -> None:
    server = MockServer(REGISTRY.get("slack"))
    with _executor("slack", server) as ex, pytest.raises(Exception, match="webhooks url slack"):
        register(server.spec, ex, store, "https://hooks.example.test")
    assert store.list() == []


def test_stripe_unregister_deletes_the_webhook_endpoint(store: SQLiteWebhookStore) -> None:
    server = MockServer(REGISTRY.get("stripe"))
    with _executor("stripe", server) as ex:
        sub = register(server.spec, ex, store, "https://hooks.example.test", params={})
        endpoint_id = store.get(sub.id).registration["endpoint_id"]
        assert unregister(server.spec, ex, store, sub.id) is True
    sent = server.requests[-1]
    assert (sent.method, sent.path) == ("DELETE", f"/v1/webhook_endpoints/{endpoint_id}")
    assert sent.action == "delete_webhook_endpoint"
    assert store.list() == []


def _zendesk_executor(server: MockServer) -> GenericExecutor:
    return GenericExecutor(
        server.spec,
        Connection(
            "zendesk",
            auth="api_token",
            variables={"subdomain": "example-fake"},
            credentials=dict(server.credentials),
        ),
        transport=server.transport(),
        sleep=lambda s: None,
    )


def test_zendesk_registration_fetches_the_secret_and_unregister_deletes(
    store: SQLiteWebhookStore, manager: tuple[WebhookManager, list[TriggerEvent]]
) -> None:
    server = MockServer(REGISTRY.get("zendesk"))
    with _zendesk_executor(server) as ex:
        recording = Recording(ex)
        sub = register(server.spec, recording, store, "https://hooks.example.test", params={})
        created, fetched = server.requests[-2:]
        assert (created.method, created.path) == ("POST", "/api/v2/webhooks")
        assert json.loads(created.body)["webhook"] == {
            "name": "Patchbay",
            "endpoint": f"https://hooks.example.test/webhooks/zendesk/{sub.id}",
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": sorted(hook_of("zendesk").events),
        }
        webhook_id = recording.results[0]["id"]
        assert (fetched.method, fetched.path) == (
            "GET",
            f"/api/v2/webhooks/{webhook_id}/signing_secret",
        )
        stored = store.get(sub.id)
        assert stored.secrets == (recording.results[-1]["secret"],)
        assert stored.registration == {"action": "create_webhook", "webhook_id": webhook_id}
        # Deliveries signed with the fetched secret verify.
        mgr, received = manager
        headers, body = delivery("zendesk", secret=stored.secrets[0])
        assert mgr.handle("zendesk", sub.id, headers, body).status == 200
        assert len(received) == 1
        assert unregister(server.spec, ex, store, sub.id) is True
    deleted = server.requests[-1]
    assert (deleted.method, deleted.path) == ("DELETE", f"/api/v2/webhooks/{webhook_id}")
    assert deleted.action == "delete_webhook"
    assert store.list() == []


def test_zendesk_webhook_is_deleted_when_its_secret_cannot_be_read(
    store: SQLiteWebhookStore,
) -> None:
    server = MockServer(REGISTRY.get("zendesk"))

    class SecretFails(Recording):
        def call(self, action: str, data: Any = None, /) -> Any:
            if action == "get_webhook_signing_secret":
                raise RuntimeError("secret unavailable")
            return super().call(action, data)

    with _zendesk_executor(server) as ex, pytest.raises(RuntimeError, match="unavailable"):
        register(server.spec, SecretFails(ex), store, "https://hooks.example.test")
    assert [r.action for r in server.requests] == ["create_webhook", "delete_webhook"]
    assert store.list() == []


#: A connector no code knows: its registration (nested result paths, a second call for the
#: secret, a default parameter, a caller parameter, a delete call) and its ack-only event are
#: spec data only.
ACME: dict[str, Any] = {
    "name": "acme_hooks",
    "title": "Acme Hooks",
    "version": "1",
    "connection": {"base_url": "https://api.acme.example.test/v1"},
    "auth": [{"name": "key", "type": "bearer", "token": "{api_key}", "fields": {"api_key": {}}}],
    "test_connection": {"path": "/me"},
    "actions": [
        {
            "name": "create_hook",
            "method": "POST",
            "path": "/hooks",
            "body": {
                "encoding": "json",
                "schema": {
                    "type": "object",
                    "properties": {
                        "target": {"type": "string"},
                        "topics": {"type": "array", "items": {"type": "string"}},
                        "label": {"type": "string"},
                        "space": {"type": "string"},
                    },
                },
            },
            "output": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "hook": {
                            "type": "object",
                            "properties": {"id": {"type": "string", "minLength": 1}},
                            "required": ["id"],
                        }
                    },
                    "required": ["hook"],
                },
                "result_path": "hook",
            },
        },
        {
            "name": "get_hook_key",
            "method": "GET",
            "path": "/hooks/{hook_id}/key",
            "parameters": [{"name": "hook_id", "in": "path", "required": True}],
            "output": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "signing": {
                            "type": "object",
                            "properties": {"key": {"type": "string", "minLength": 8}},
                            "required": ["key"],
                        }
                    },
                    "required": ["signing"],
                }
            },
        },
        {
            "name": "remove_hook",
            "method": "DELETE",
            "path": "/spaces/{space}/hooks/{hook_id}",
            "parameters": [
                {"name": "space", "in": "path", "required": True},
                {"name": "hook_id", "in": "path", "required": True},
            ],
        },
    ],
    "triggers": {
        "webhooks": [
            {
                "name": "changes",
                "verification": {
                    "scheme": "hmac",
                    "signature_header": "X-Acme-Signature",
                    "signature_prefix": "sha256=",
                    "tolerance_seconds": None,
                },
                "secret_field": "api_key",
                "event_type_path": "type",
                "delivery_id_path": "id",
                "registration": {
                    "create": {
                        "action": "create_hook",
                        "input": {
                            "target": "{url}",
                            "topics": "{events}",
                            "label": "{label} in {space}",
                            "space": "{space}",
                        },
                    },
                    "defaults": {"label": "patchbay"},
                    "secret_call": {"action": "get_hook_key", "input": {"hook_id": "{result.id}"}},
                    "secret_path": "signing.key",
                    "info": {"space": "{space}", "hook_id": "{result.id}"},
                    "delete": {
                        "action": "remove_hook",
                        "input": {"space": "{space}", "hook_id": "{hook_id}"},
                    },
                },
                "ack_only_events": ["hook.test"],
                "events": {"thing.created": {"type": "object"}, "hook.test": {"type": "object"}},
            }
        ]
    },
}


class Specs:
    """A spec source holding exactly the given specs."""

    def __init__(self, *specs: ConnectorSpec) -> None:
        self.specs = {s.name: s for s in specs}

    def get(self, name: str) -> ConnectorSpec:
        return self.specs[name]


def test_a_test_only_spec_registers_verifies_and_unregisters_without_code(
    store: SQLiteWebhookStore,
) -> None:
    spec, problems = check_spec_data(json.loads(json.dumps(ACME)), "acme_hooks.json")
    assert problems == [] and spec is not None
    server = MockServer(spec, MockOptions(golden_root=None))
    with _executor("acme_hooks", server) as ex:
        with pytest.raises(ConfigError, match=r"registration needs space \(--param"):
            register(spec, ex, store, "https://hooks.example.test")
        assert server.requests == []  # a missing parameter is named before any vendor call
        recording = Recording(ex)
        sub = register(spec, recording, store, "https://hooks.example.test", params={"space": "s1"})
        created, fetched = server.requests
        assert json.loads(created.body) == {
            "target": f"https://hooks.example.test/webhooks/acme_hooks/{sub.id}",
            "topics": ["hook.test", "thing.created"],
            "label": "patchbay in s1",
            "space": "s1",
        }
        hook_id = recording.results[0]["id"]
        assert (fetched.action, fetched.path) == ("get_hook_key", f"/v1/hooks/{hook_id}/key")
        stored = store.get(sub.id)
        assert stored.secrets == (recording.results[1]["signing"]["key"],)
        assert stored.registration == {"action": "create_hook", "space": "s1", "hook_id": hook_id}

        registry = CollectorRegistry()
        mgr = WebhookManager(Specs(spec), store, clock=lambda: NOW, metrics_registry=registry)
        received: list[TriggerEvent] = []
        mgr.add_handler(received.append)
        hook = spec.triggers.webhooks[0]
        for event in ("thing.created", "hook.test"):
            signed = build_delivery(spec, hook, event, stored.secrets[0])
            assert mgr.handle("acme_hooks", sub.id, signed.headers, signed.body).status == 200
        assert [e.type for e in received] == ["thing.created"]  # hook.test: acknowledged only
        assert (
            registry.get_sample_value(
                "patchbay_webhook_verdicts_total",
                {"connector": "acme_hooks", "verdict": "ack_only"},
            )
            == 1.0
        )

        assert unregister(spec, ex, store, sub.id) is True
    deleted = server.requests[-1]
    assert (deleted.method, deleted.path) == ("DELETE", f"/v1/spaces/s1/hooks/{hook_id}")
    assert store.list() == []


# ------------------------------------------------------------------------- verdict metric


def _verdicts(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.labels["connector"], s.labels["verdict"]): s.value
        for family in registry.collect()
        if family.name == "patchbay_webhook_verdicts"
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_verdicts_are_counted_by_connector_and_verdict_only(store: SQLiteWebhookStore) -> None:
    registry = CollectorRegistry()
    mgr = WebhookManager(REGISTRY, store, clock=lambda: NOW, metrics_registry=registry)
    sub = subscribe(store, "stripe")
    forged_headers, forged_body = delivery("stripe", secret="whsec_attacker_guess")
    assert mgr.handle("stripe", sub.id, forged_headers, forged_body).status == 401
    assert _verdicts(registry) == {("stripe", "invalid_signature"): 1.0}
    headers, body = delivery("stripe")
    for _ in range(3):
        assert mgr.handle("stripe", sub.id, headers, body).status == 200
    stale_headers, stale_body = delivery("stripe", ts=NOW - 301)
    assert mgr.handle("stripe", sub.id, stale_headers, stale_body).status == 401
    form = {**headers, "Content-Type": "text/plain"}
    assert mgr.handle("stripe", sub.id, form, body).status == 415
    assert mgr.handle("stripe", "nope", headers, body).status == 404
    assert mgr.handle("no_such_vendor", "nope", headers, body).status == 404  # path is untrusted
    assert _verdicts(registry) == {
        ("stripe", "invalid_signature"): 1.0,
        ("stripe", "accepted"): 1.0,
        ("stripe", "duplicate"): 2.0,
        ("stripe", "stale"): 1.0,
        ("stripe", "unsupported_media_type"): 1.0,
        ("stripe", "unknown_subscription"): 1.0,
        ("unknown", "unknown_subscription"): 1.0,
    }
    exposed = generate_latest(registry).decode()
    signatures = [
        h.split("v1=")[1] for h in (headers["Stripe-Signature"], forged_headers["Stripe-Signature"])
    ]
    for value in (SECRET, "whsec_attacker_guess", sub.id, *signatures):
        assert value not in exposed


# --------------------------------------------------------------------------------- the CLI


@pytest.fixture
def live_server(
    store: SQLiteWebhookStore,
) -> Iterator[tuple[str, list[TriggerEvent]]]:
    received: list[TriggerEvent] = []
    mgr = WebhookManager(REGISTRY, store)
    mgr.add_handler(received.append)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(mgr), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", received
    server.should_exit = True
    thread.join(5)


@BOTH
def test_app_over_loopback_dedupes_and_caps_the_body(
    store: SQLiteWebhookStore, live_server: tuple[str, list[TriggerEvent]]
) -> None:
    origin, received = live_server
    sub = subscribe(store, "typeform")
    spec = REGISTRY.get("typeform")
    signed = build_delivery(spec, spec.triggers.webhooks[0], "form_response", SECRET)
    url = f"{origin}/webhooks/typeform/{sub.id}"
    with httpx.Client() as client:
        assert client.post(url, content=signed.body, headers=signed.headers).status_code == 200
        again = client.post(url, content=signed.body, headers=signed.headers)
        assert again.json() == {"ok": True, "duplicate": True}
        missing = client.post(
            f"{origin}/webhooks/typeform/nope", content=signed.body, headers=signed.headers
        )
        assert missing.status_code == 404
        huge = b"{" + b" " * (hook_of("typeform").max_body_bytes + 10) + b"}"
        assert client.post(url, content=huge, headers=signed.headers).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is cut at the cap
            for _ in range(20):
                yield b" " * 65536

        streamed = client.post(url, content=chunks(), headers=signed.headers)
        assert streamed.status_code == 413
    assert len(received) == 1


def test_cli_url_list_send_and_unregister(
    tmp_path: Path,
    key: str,
    live_server: tuple[str, list[TriggerEvent]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    origin, received = live_server
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", key)
    runner = CliRunner()
    store_args = ["--store", str(tmp_path / "store.db")]
    made = runner.invoke(
        webhooks,
        ["url", "slack", "--public-url", origin, "--secret", SECRET, *store_args],
        obj=REGISTRY,
    )
    assert made.exit_code == 0, made.output
    url = made.output.strip()
    assert url.startswith(f"{origin}/webhooks/slack/")
    listed = runner.invoke(webhooks, ["list", *store_args], obj=REGISTRY)
    assert url.rsplit("/", 1)[1] in listed.output and SECRET not in listed.output
    sent = runner.invoke(
        webhooks, ["send", "slack", "message", "--to", url, "--secret", SECRET], obj=REGISTRY
    )
    assert sent.exit_code == 0 and sent.output.startswith("200"), sent.output
    forged = runner.invoke(
        webhooks, ["send", "slack", "message", "--to", url, "--secret", "x"], obj=REGISTRY
    )
    assert forged.exit_code == 1 and forged.output.startswith("401")
    assert [e.type for e in received] == ["message"]
    gone = runner.invoke(webhooks, ["unregister", url.rsplit("/", 1)[1], *store_args], obj=REGISTRY)
    assert gone.exit_code == 0 and "locally" in gone.output


def test_a_store_failure_is_a_retryable_503_and_claims_nothing(
    store: SQLiteWebhookStore,
) -> None:
    from patchbay.runtime.errors import StoreLocked

    class Locked(SQLiteWebhookStore):
        locked = True

        def claim(self, subscription_id: str, delivery_id: str, now: float | None = None) -> bool:
            if self.locked:
                raise StoreLocked("webhook store is locked")
            return super().claim(subscription_id, delivery_id, now)

    flaky = Locked(store.path, store._encryptor)
    registry = CollectorRegistry()
    mgr = WebhookManager(REGISTRY, flaky, clock=lambda: NOW, metrics_registry=registry)
    received: list[TriggerEvent] = []
    mgr.add_handler(received.append)
    sub = subscribe(flaky, "stripe")
    headers, body = delivery("stripe")
    failed = mgr.handle("stripe", sub.id, headers, body)
    assert (failed.status, failed.retry_after, received) == (503, 5, [])
    flaky.locked = False
    assert mgr.handle("stripe", sub.id, headers, body).status == 200
    assert len(received) == 1
    assert _verdicts(registry) == {("stripe", "unavailable"): 1.0, ("stripe", "accepted"): 1.0}


def test_serve_documents_its_limits() -> None:
    shown = CliRunner().invoke(webhooks, ["serve", "--help"], obj=REGISTRY)
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    for option, default in [
        ("--read-timeout", "10.0"),
        ("--limit-concurrency", "1000"),
        ("--backlog", "2048"),
        ("--keep-alive", "5"),
    ]:
        assert option in text and f"default: {default}" in text


def test_a_receiver_dying_mid_handler_loses_nothing(store: SQLiteWebhookStore) -> None:
    """The claim is a processing claim: while the handlers may still be running a copy is told
    to retry (503), never "duplicate" (which would make the vendor drop its last copy); after
    the processing timeout, a retry takes the delivery over and runs the handlers once."""

    class Died(BaseException):
        """Stands for the process dying: nothing after the handler call runs."""

    now = [NOW]
    registry = CollectorRegistry()
    mgr = WebhookManager(REGISTRY, store, clock=lambda: now[0], metrics_registry=registry)
    received: list[TriggerEvent] = []
    alive = [False]

    def handler(event: TriggerEvent) -> None:
        if not alive[0]:
            raise Died
        received.append(event)

    mgr.add_handler(handler)
    sub = subscribe(store, "stripe")
    headers, body = delivery("stripe")
    with pytest.raises(Died):
        mgr.handle("stripe", sub.id, headers, body)
    alive[0] = True
    now[0] = NOW + 30  # the vendor's retries: the same signed delivery, within its tolerance
    busy = mgr.handle("stripe", sub.id, headers, body)
    assert (busy.status, busy.retry_after, received) == (503, HANDLER_RETRY_AFTER, [])
    now[0] = NOW + PROCESSING_TIMEOUT + 1
    taken = mgr.handle("stripe", sub.id, headers, body)
    assert taken.status == 200 and len(received) == 1
    again = mgr.handle("stripe", sub.id, headers, body)
    assert (again.status, json.loads(again.body).get("duplicate"), len(received)) == (200, True, 1)
    assert _verdicts(registry) == {
        ("stripe", "in_progress"): 1.0,
        ("stripe", "accepted"): 1.0,
        ("stripe", "duplicate"): 1.0,
    }


def test_a_store_file_from_before_processing_claims_keeps_its_seen_ids(
    tmp_path: Path, key: str
) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE webhook_deliveries (subscription TEXT NOT NULL, delivery_id TEXT NOT NULL,"
        " received_at REAL NOT NULL, PRIMARY KEY (subscription, delivery_id))"
    )
    db.execute("INSERT INTO webhook_deliveries VALUES ('s1', 'd1', ?)", (NOW,))
    db.commit()
    db.close()
    store = SQLiteWebhookStore(path, Encryptor([key]))
    assert not store.processing("s1", "d1")  # seen before the upgrade: handled
    assert not store.claim("s1", "d1", now=NOW + 10 * PROCESSING_TIMEOUT)
