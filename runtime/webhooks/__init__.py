"""Receiving webhooks: signature verifiers per grammar and the framework-free manager.

Every verifier works on the raw body bytes exactly as received, compares in constant time
(``hmac.compare_digest``) and tries every current secret (rotation). Parameters (headers,
prefix, encoding, algorithm, signed-payload template, window) come from the spec's
``verification`` block; the scheme names the signature grammar, never a vendor: ``hmac`` (one
signature in one header: Slack, GitHub, Typeform, Zendesk), ``timestamped_list`` (a
``t=…,v1=…`` list: Stripe) and ``standard_webhooks`` (``v1,<b64>`` list, whsec_ key decoding).

Zendesk: the signed string is ``{timestamp}{body}`` as the *current* Zendesk docs and every
third-party verifier have it (an older page had ``{body}{timestamp}``). The order is the spec's
``signed_payload`` template, so a connector can flip it without code.

``WebhookManager.handle`` is the whole receive path (lookup, size, content type, signature,
handshake, delivery-id dedupe, typed event, handlers) and counts each outcome in the webhook
verdict metric; ``runtime.webhooks.app`` only adapts it to HTTP. Subscriptions (secrets encrypted)
and seen delivery ids live in SQLite.

One private module per noun: ``_verifiers``, ``_store``, ``_manager``, ``_registration``.

Each verified delivery is processed once: its id is claimed before any handler runs and released
only when a handler raised (answered 503, so the vendor retries). A payload the generated model
refuses still reaches the handlers, as sent (verdict ``unparsed``); nothing a sender controls
(nesting, delivery id, event type) can turn a verified delivery into a 500.

``register``/``unregister`` know no vendor: the webhook's ``registration`` block says which
actions to call with which templated inputs, where the signing secret comes from and what to keep
for removal (see ``runtime.spec._model.WebhookRegistration``).
"""

from __future__ import annotations

from patchbay.runtime.webhooks._manager import (
    HANDLER_RETRY_AFTER,
    JSON_TYPES,
    MAX_DELIVERY_ID,
    UNKNOWN_BODY_LIMIT,
    VERDICTS,
    SpecSource,
    WebhookManager,
    WebhookResponse,
    verdict_of,
    webhook_of,
)
from patchbay.runtime.webhooks._registration import (
    PROVIDED_NAMES,
    ActionCaller,
    caller_params,
    register,
    unregister,
    webhook_url,
)
from patchbay.runtime.webhooks._routing import (
    EventRouter,
)
from patchbay.runtime.webhooks._store import (
    PROCESSING_TIMEOUT,
    SealedWebhookRows,
    SQLiteWebhookStore,
    WebhookStore,
    WebhookSubscription,
    new_secret,
    new_subscription_id,
)
from patchbay.runtime.webhooks._verifiers import (
    VERIFIERS,
    HmacVerifier,
    StandardWebhooksVerifier,
    TimestampedListVerifier,
    Verifier,
    WebhookRejected,
    parse_timestamp,
    verifier_for,
    verify_signature,
)

__all__ = [
    "HANDLER_RETRY_AFTER",
    "JSON_TYPES",
    "MAX_DELIVERY_ID",
    "PROCESSING_TIMEOUT",
    "PROVIDED_NAMES",
    "UNKNOWN_BODY_LIMIT",
    "VERDICTS",
    "VERIFIERS",
    "ActionCaller",
    "EventRouter",
    "HmacVerifier",
    "SQLiteWebhookStore",
    "SealedWebhookRows",
    "SpecSource",
    "StandardWebhooksVerifier",
    "TimestampedListVerifier",
    "Verifier",
    "WebhookManager",
    "WebhookRejected",
    "WebhookResponse",
    "WebhookStore",
    "WebhookSubscription",
    "caller_params",
    "new_secret",
    "new_subscription_id",
    "parse_timestamp",
    "register",
    "unregister",
    "verdict_of",
    "verifier_for",
    "verify_signature",
    "webhook_of",
    "webhook_url",
]
