"""Registering and removing an endpoint at the vendor, as the spec's registration block says."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from patchbay.runtime.errors import BadResponse, ConfigError
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._templating import fill
from patchbay.runtime.observability import log_event
from patchbay.runtime.spec._checks import template_uses
from patchbay.runtime.spec._model import (
    ConnectorSpec,
    ManualRegistration,
    WebhookCall,
    WebhookRegistration,
)
from patchbay.runtime.webhooks._manager import webhook_of
from patchbay.runtime.webhooks._store import (
    WebhookStore,
    WebhookSubscription,
    new_secret,
    new_subscription_id,
)


class ActionCaller(Protocol):
    """What registration needs of an executor (``GenericExecutor`` fits)."""

    def call(self, action: str, data: Mapping[str, Any] | None = ..., /) -> Any: ...


def webhook_url(public_base: str, sub: WebhookSubscription) -> str:
    return public_base.rstrip("/") + sub.path()


#: Template names ``register`` provides itself; any other name is a caller parameter.
PROVIDED_NAMES: frozenset[str] = frozenset({"url", "events", "secret", "result"})


def caller_params(reg: WebhookRegistration) -> list[str]:
    """The parameters a caller of ``register`` must pass, in order of first use."""
    templates = [reg.create.input, reg.secret_call.input if reg.secret_call else {}, reg.info]
    used = dict.fromkeys(head for _, _, head in template_uses(templates))
    return [n for n in used if n and n not in PROVIDED_NAMES and n not in reg.defaults]


def _lookup(scope: Mapping[str, Any], missing: Callable[[str], Exception]) -> Callable[[str], Any]:
    def find(name: str) -> Any:
        value = get_path(scope, name, None)
        if value is None:
            raise missing(name)
        return value

    return find


def register(
    spec: ConnectorSpec,
    executor: ActionCaller,
    store: WebhookStore,
    public_base: str,
    *,
    webhook: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> WebhookSubscription:
    """Register an endpoint with the vendor as the webhook's ``registration`` block says and
    store the subscription with its signing secret. Nothing is stored when a vendor call fails;
    a created webhook whose secret cannot be obtained is deleted again (best effort)."""
    hook = webhook_of(spec, webhook) if webhook else spec.triggers.webhooks[0]
    reg = hook.api_registration
    if isinstance(hook.registration, ManualRegistration):
        raise ConfigError(
            f"{spec.name} {hook.name} is registered in the vendor's settings, not through an "
            f"API: print the URL with `patchbay webhooks url {spec.name}`. "
            f"{hook.registration.instructions}",
            connector=spec.name,
        )
    if reg is None:
        raise ConfigError(
            f"{spec.name} webhooks are registered by hand: print the URL with "
            f"`patchbay webhooks url {spec.name}` and paste it in the vendor's settings",
            connector=spec.name,
        )
    given = {k: v for k, v in (params or {}).items() if v is not None and v != "" and v != []}
    values = {**reg.defaults, **given}
    missing = [n for n in caller_params(reg) if n not in values]
    if missing:
        raise ConfigError(f"registration needs {', '.join(missing)} (--param name=value)")
    sub = WebhookSubscription(id=new_subscription_id(), connector=spec.name, webhook=hook.name)
    events = values.get("events") or sorted(hook.events) or [e for e in [reg.all_events] if e]
    scope = {k: v for k, v in values.items() if k not in PROVIDED_NAMES}
    scope.update(url=webhook_url(public_base, sub), events=list(events))
    generated = new_secret() if reg.secret_path is None else None
    if generated is not None:
        scope["secret"] = generated

    def absent(name: str) -> Exception:
        return BadResponse(f"registration: nothing to fill in for {{{name}}}", connector=spec.name)

    lookup = _lookup(scope, absent)
    scope["result"] = executor.call(reg.create.action, fill(reg.create.input, lookup))
    info = {"action": reg.create.action, **fill(reg.info, lookup)}
    try:
        secret = generated or _vendor_secret(reg, executor, scope["result"], lookup)
    except Exception:
        if reg.delete is not None:
            try:  # best effort: leave no vendor webhook pointing at an unstored id
                executor.call(reg.delete.action, _delete_input(reg.delete, info))
            except Exception:
                log_event(logging.WARNING, "webhook.register_cleanup_failed", connector=spec.name)
        raise
    return store.create(replace(sub, secrets=(secret,), registration=info))


def _vendor_secret(
    reg: WebhookRegistration, executor: ActionCaller, created: Any, lookup: Callable[[str], Any]
) -> str:
    """The secret the vendor made: in the create result or in a second call's result."""
    found = created
    if reg.secret_call is not None:
        found = executor.call(reg.secret_call.action, fill(reg.secret_call.input, lookup))
    secret = get_path(found, reg.secret_path or "", None)
    if not secret:
        raise BadResponse(f"registration: the vendor's answer has no {reg.secret_path!r}")
    return str(secret)


def _delete_input(call: WebhookCall, info: Mapping[str, Any]) -> Any:
    def absent(name: str) -> Exception:
        return ConfigError(f"the stored registration has no {name!r}")

    return fill(call.input, _lookup(info, absent))


def unregister(
    spec: ConnectorSpec, executor: ActionCaller | None, store: WebhookStore, sub_id: str
) -> bool:
    """Remove the vendor's endpoint when the spec has a delete call and ``register`` made it
    (returns True), then the subscription. Otherwise (set up by hand) only the local record."""
    sub = store.get(sub_id)
    hook = next((h for h in spec.triggers.webhooks if h.name == sub.webhook), None)
    reg = hook.api_registration if hook is not None else None
    delete = reg.delete if reg is not None else None
    removed = False
    if executor is not None and delete is not None and "action" in sub.registration:
        executor.call(delete.action, _delete_input(delete, sub.registration))
        removed = True
    store.delete(sub_id)
    return removed
