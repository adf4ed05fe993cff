"""A stand-in for vendors' webhook delivery: builds an event and signs it exactly as the vendor
does, so receivers can be tested end to end without the vendor.

The signers are written from the vendors' descriptions, independently of the verifiers in
``runtime.webhooks`` (a shared bug would otherwise pass unnoticed): Slack ``v0=`` hex over
``v0:{ts}:{body}``; Stripe ``t=…,v1=…`` hex over ``{t}.{body}`` keyed by the whole ``whsec_…``
string; GitHub ``sha256=`` hex (and legacy ``sha1=``) over the body; Typeform ``sha256=`` base64
over the body; Zendesk base64 over ``{timestamp}{body}`` with an ISO-8601 timestamp; Standard
Webhooks ``v1,`` base64 over ``{id}.{ts}.{body}`` keyed by base64-decoding the secret. These
are hand-written oracles on purpose (mocks' rule: the spec drives the mock, except where a spec
could be wrong and an independent check is the point); any other webhook is signed from its
spec's grammar.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from patchbay.mocks.synthesis import rng_for, synthesize
from patchbay.runtime.http import parse_path
from patchbay.runtime.spec import ConnectorSpec, Webhook

# The vendors' documented signature headers -> their independent signer below.
_ORACLES: dict[str, str] = {
    "x-slack-signature": "slack",
    "stripe-signature": "stripe",
    "x-hub-signature-256": "github",
    "typeform-signature": "typeform",
    "x-zendesk-webhook-signature": "zendesk",
}


def _mac(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    keys = parse_path(path)
    node: Any = data
    for key in keys[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(str(key), {})
    if isinstance(node, dict):
        node[str(keys[-1])] = value


@dataclass(frozen=True)
class SignedDelivery:
    body: bytes
    headers: dict[str, str]
    delivery_id: str


def sign(
    hook: Webhook,
    body: bytes,
    secret: str,
    *,
    timestamp: float | None = None,
    delivery_id: str | None = None,
    event_type: str | None = None,
) -> dict[str, str]:
    """The headers the vendor would send with ``body``.

    A vendor whose signature header is one of the five documented below is signed by its own
    independent oracle (recognised by that header, the vendor's documented name); any other
    webhook by the spec's grammar and parameters."""
    ver = hook.verification
    ts = int(time.time() if timestamp is None else timestamp)
    key = secret.encode()
    headers = {"Content-Type": "application/json"}
    oracle = _ORACLES.get(ver.signature_header.lower(), "")
    if oracle == "slack":
        digest = _mac(key, b"v0:" + str(ts).encode() + b":" + body).hex()
        headers["X-Slack-Request-Timestamp"] = str(ts)
        headers["X-Slack-Signature"] = f"v0={digest}"
    elif oracle == "stripe":
        digest = _mac(key, str(ts).encode() + b"." + body).hex()
        headers["Stripe-Signature"] = f"t={ts},v1={digest}"
    elif oracle == "github":
        headers["X-Hub-Signature-256"] = "sha256=" + _mac(key, body).hex()
        headers["X-Hub-Signature"] = "sha1=" + _mac(key, body, "sha1").hex()
        headers["X-GitHub-Delivery"] = delivery_id or str(uuid.uuid4())
        headers["X-GitHub-Event"] = event_type or "ping"
        headers["X-GitHub-Hook-ID"] = "700001"
    elif oracle == "typeform":
        headers["Typeform-Signature"] = "sha256=" + base64.b64encode(_mac(key, body)).decode()
    elif oracle == "zendesk":
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = base64.b64encode(_mac(key, stamp.encode() + body)).decode()
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = stamp
        headers["X-Zendesk-Webhook-Signature"] = digest
    elif ver.scheme == "standard_webhooks":
        wid = delivery_id or f"msg_{uuid.uuid4().hex}"
        raw_key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = base64.b64encode(_mac(raw_key, f"{wid}.{ts}.".encode() + body)).decode()
        headers.update({"webhook-id": wid, "webhook-timestamp": str(ts)})
        headers["webhook-signature"] = f"v1,{digest}"
    else:  # by the spec's grammar: its template, prefix, encoding and timestamp format
        stamp = (
            datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if ver.timestamp_format == "iso8601"
            else str(ts)
        )
        before, _, after = ver.signed_payload.partition("{body}")
        parts = {"timestamp": stamp, "id": delivery_id or ""}
        message = before.format_map(parts).encode() + body + after.format_map(parts).encode()
        raw = _mac(key, message, ver.algorithm)
        encoded = raw.hex() if ver.encoding == "hex" else base64.b64encode(raw).decode()
        if ver.scheme == "timestamped_list":
            headers[ver.signature_header] = f"t={stamp},v1={encoded}"
        else:
            headers[ver.signature_header] = ver.signature_prefix + encoded
            if ver.timestamp_header:
                headers[ver.timestamp_header] = stamp
    if hook.delivery_id_header and delivery_id and hook.delivery_id_header not in headers:
        headers[hook.delivery_id_header] = delivery_id
    if hook.event_type_header and event_type and hook.event_type_header not in headers:
        headers[hook.event_type_header] = event_type
    return headers


def sample_event(
    spec: ConnectorSpec, hook: Webhook, event_type: str, *, seed: int = 0
) -> dict[str, Any]:
    """A payload valid under the event's schema, with its type and a fresh delivery id at the
    spec's paths (a Slack ``url_verification`` handshake when that is the event asked for)."""
    shake = hook.handshake
    if shake is not None and event_type == shake.type_value:
        data: dict[str, Any] = {"token": "fake-verification-token"}
        _set_path(data, shake.type_path, shake.type_value)
        _set_path(data, shake.challenge_path, f"challenge-{uuid.uuid4().hex[:12]}")
        return data
    schema = hook.events.get(event_type, {"type": "object"})
    value = synthesize(schema, spec.defs, rng_for(seed, f"{spec.name}:{hook.name}:{event_type}"))
    data = value if isinstance(value, dict) else {}
    if hook.event_type_path is not None:
        _set_path(data, hook.event_type_path, event_type)
    if hook.delivery_id_path is not None:
        _set_path(data, hook.delivery_id_path, f"evt_{uuid.uuid4().hex[:16]}")
    return data


def build_delivery(
    spec: ConnectorSpec,
    hook: Webhook,
    event_type: str,
    secret: str,
    *,
    payload: Any = None,
    timestamp: float | None = None,
) -> SignedDelivery:
    """Body and signed headers of one delivery (``payload`` defaults to ``sample_event``)."""
    data = sample_event(spec, hook, event_type) if payload is None else payload
    body = json.dumps(data, separators=(",", ":")).encode()
    delivery_id = str(uuid.uuid4())
    headers = sign(
        hook, body, secret, timestamp=timestamp, delivery_id=delivery_id, event_type=event_type
    )
    return SignedDelivery(body, headers, delivery_id)


def send(
    url: str,
    spec: ConnectorSpec,
    event_type: str,
    secret: str,
    *,
    webhook: str | None = None,
    payload: Any = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST one signed delivery to ``url`` (a loopback receiver in tests and the CLI)."""
    hook = next(
        (h for h in spec.triggers.webhooks if webhook in (None, h.name)),
        None,
    )
    if hook is None:
        raise ValueError(f"{spec.name} has no webhook {webhook or ''}".strip())
    delivery = build_delivery(spec, hook, event_type, secret, payload=payload)
    with httpx.Client(transport=transport, timeout=timeout) as client:
        return client.post(url, content=delivery.body, headers=delivery.headers)
