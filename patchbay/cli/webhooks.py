"""``patchbay webhooks …``: serve the receiver, create/register/list/remove subscriptions, and
send signed test deliveries. Wiring only; the logic is in ``runtime.webhooks``.

Attached to the main group with ``main.add_command(webhooks)``; ``ctx.obj`` is a SpecRegistry.
Subscriptions live in the connection store file (``--store``, ``$PATCHBAY_STORE``), secrets
encrypted with ``PATCHBAY_SECRET_KEY``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pickle
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import httpx

from patchbay.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    JSON_OPTION,
    STORE_OPTION,
    emit_json,
    fail,
    open_webhook_store,
    pairs,
)
from patchbay.cli._metrics import exported_metrics, metrics_options
from patchbay.extras import need_extra
from patchbay.project import Project, current_project
from patchbay.runtime import GenericExecutor, PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.http import connection_from_sources
from patchbay.runtime.spec import ConnectorSpec, SpecRegistry

if TYPE_CHECKING:
    from patchbay.runtime.triggers import TriggerEvent
    from patchbay.runtime.webhooks import WebhookManager
    from patchbay.runtime.webhooks.app import ServeLimits


def _fail(error: Exception) -> NoReturn:
    """A Patchbay error with its exit code; a bad value (ValueError) is an input error (3),
    a transport failure (httpx) a failed operation (1)."""
    if isinstance(error, PatchbayError):
        fail(error)
    fail(str(error), EXIT_FAILED if isinstance(error, httpx.HTTPError) else EXIT_CONFIG)


def _env_secret(spec: ConnectorSpec, webhook: str | None) -> str | None:
    hook = next((h for h in spec.triggers.webhooks if webhook in (None, h.name)), None)
    if hook is None:
        return None
    return os.environ.get(f"PATCHBAY_{spec.name.upper()}_{hook.secret_field.upper()}")


_STORE = STORE_OPTION
_WEBHOOK = click.option("--webhook", default=None, help="Webhook name (default: the first).")
_PUBLIC = click.option(
    "--public-url",
    required=True,
    help="Public origin of `patchbay webhooks serve` (e.g. https://hooks.example.com).",
)


def _executor(
    spec: ConnectorSpec,
    auth: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    base_url: str | None,
) -> GenericExecutor:
    connection = connection_from_sources(
        spec,
        auth=auth,
        fields=pairs(fields, "--field"),
        variables=pairs(variables, "--var"),
        environ=dict(os.environ),
    )
    return GenericExecutor(spec, connection, base_url=base_url)


def _call_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--auth", "auth_variant", default=None, help="Auth variant."),
            click.option("--field", "fields", multiple=True, help="Credential name=value."),
            click.option("--var", "variables", multiple=True, help="Connection variable."),
            click.option("--base-url", default=None, help="Send API calls here (a mock)."),
        ]
    ):
        func = option(func)
    return func


@click.group()
def webhooks() -> None:
    """Receive vendor webhooks: verified, deduplicated, typed."""


#: More receiver processes than this is a typo, not a deployment (use several hosts).
MAX_WORKERS = 64


#: File descriptors kept free of connections: SQLite files of the worker threads, the
#: listening socket, logs.
FD_RESERVE = 160


def _connection_cap(wanted: int) -> int:
    """``wanted``, lowered so that open connections can never exhaust file descriptors (the
    soft limit is raised to the hard one first, as servers do)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: no descriptor limit to respect
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(2, min(wanted, soft - FD_RESERVE))


def _serve_logging() -> None:
    """Patchbay's JSON log lines on stderr at INFO unless ``--log-level`` set them up: a
    receiver's refusals (each one line with its verdict, never a body or secret) are its
    operator's only view of who is knocking."""
    from patchbay.runtime.observability import JsonFormatter, logger

    if not any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8787,
    show_default=True,
    help="0 picks a free port (the printed URL names it).",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a sender has for its request headers, and again for its body; a stalled "
    "body is answered 408, stalled headers lose the connection.",
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Open connections at most per process (lowered to fit the open-file limit). At the "
    "limit a new connection replaces the one that has waited longest for its sender; when every "
    "connection is busy with a handler, the new one is closed (vendors retry).",
)
@click.option(
    "--backlog",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="Connections the kernel queues before they are accepted.",
)
@click.option(
    "--keep-alive",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Seconds an idle keep-alive connection stays open.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=MAX_WORKERS),
    default=1,
    show_default=True,
    help="Receiver processes sharing the listening socket; each delivery id is still "
    "processed once (the claim is one statement in the shared store).",
)
@click.option(
    "--handler",
    "handlers",
    multiple=True,
    metavar="MODULE:FUNCTION",
    help="Call FUNCTION(event) for every verified new delivery, in whichever process received "
    "it (repeatable; the module must be importable). An exception answers 503 and forgets the "
    "delivery id, so the vendor's retry is processed.",
)
@metrics_options
@_STORE
@click.pass_obj
def serve(
    registry: SpecRegistry,
    host: str,
    port: int,
    read_timeout: float,
    limit_concurrency: int,
    backlog: int,
    keep_alive: int,
    workers: int,
    handlers: tuple[str, ...],
    metrics_port: int | None,
    metrics_host: str,
    store_path: str | None,
) -> None:
    """Serve POST /webhooks/{connector}/{subscription}; prints one JSON line per event on
    stdout, and logs every refusal (one JSON line with its verdict) on stderr at INFO
    unless --log-level says otherwise.

    With --workers N, N processes accept on one socket bound here; SIGINT or SIGTERM stops
    them all. Run several hosts on one postgresql:// store for more."""
    need_extra("webhooks")
    from patchbay.runtime.observability import logger
    from patchbay.runtime.stores import store_location
    from patchbay.runtime.webhooks.app import ServeLimits, bind_socket, run_workers

    _serve_logging()
    setup = ServeSetup(
        project=current_project(),
        specs_dir=registry.directory,
        store=str(store_location(store_path)),
        handlers=handlers,
        limits=ServeLimits(
            read_timeout=read_timeout,
            limit_concurrency=_connection_cap(limit_concurrency),
            backlog=backlog,
            keep_alive=keep_alive,
        ),
        log_level=logger.level,
    )
    try:
        # Built once here even with workers: a bad store, spec or handler fails before any
        # process starts, and the store's tables are created once.
        manager = setup.manager()
        sock = bind_socket(host, port, backlog)
    except PatchbayError as exc:
        _fail(exc)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
    bound = sock.getsockname()[1]
    click.echo(f"receiving on http://{host}:{bound}/webhooks/<connector>/<subscription>")
    sys.stdout.flush()
    if workers == 1:
        with exported_metrics(metrics_host, metrics_port, workers=False):
            _run_one(manager, setup, sock, clean_stop=True)
        return
    from patchbay.runtime.storage import close_pools

    del manager
    close_pools()  # the supervisor itself holds no database connections while it waits
    with exported_metrics(metrics_host, metrics_port, workers=True) as export:
        env, on_exit = (export.env, export.worker_exited) if export else ({}, None)
        code = run_workers(sock, workers, setup.to_bytes(), _worker_command(), env, on_exit)
    if code:
        sys.exit(EXIT_FAILED)


@dataclass
class ServeSetup:
    """Everything a receiver process needs to rebuild the parent's manager. Sent to each worker
    pickled on its stdin, a pipe from its own parent (never in its environment or argv, where
    another user could read a store URL's password)."""

    project: Project
    specs_dir: Path
    store: str
    handlers: tuple[str, ...]
    limits: ServeLimits
    log_level: int = logging.NOTSET
    #: The connectors with webhooks, parsed and validated once by the parent: validating a
    #: spec takes about a second, which each worker would otherwise repeat.
    loaded: dict[str, ConnectorSpec] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return pickle.dumps(self)

    @staticmethod
    def from_bytes(raw: bytes) -> ServeSetup:
        setup = pickle.loads(raw)
        if not isinstance(setup, ServeSetup):
            raise ConfigError("a webhook worker got no setup from its parent")
        return setup

    def manager(self) -> WebhookManager:
        """The manager of ``webhooks serve``: every project router, the stdout line, and the
        ``--handler`` functions."""
        from patchbay.runtime.stores import open_webhook_store
        from patchbay.runtime.webhooks import WebhookManager

        registry = SpecRegistry(self.specs_dir)
        if not self.loaded:
            for name in registry.all_names():
                if _declares_webhooks(registry, name):  # only those are validated (slow)
                    spec = registry.get(name)
                    if spec.triggers.webhooks:
                        self.loaded[name] = spec
        manager = WebhookManager(
            _Preloaded(self.loaded, registry),
            open_webhook_store(self.store),
            routers=self.project.event_routers(registry, list(self.loaded)),
        )
        manager.add_handler(_show)
        for path in self.handlers:
            manager.add_handler(load_handler(path))
        return manager


def _declares_webhooks(registry: SpecRegistry, name: str) -> bool:
    """Whether the spec file names webhooks at all (read as plain JSON; an unreadable file
    counts as yes, so that loading it reports the problem)."""
    path = registry.path_of(name)
    if path is None:
        return True
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return bool(data["triggers"]["webhooks"])
    except (KeyError, TypeError):
        return False
    except (OSError, ValueError):
        return True


class _Preloaded:
    """The parent's parsed specs first, then the registry (a connector without webhooks)."""

    def __init__(self, loaded: dict[str, ConnectorSpec], registry: SpecRegistry) -> None:
        self.loaded = loaded
        self.registry = registry

    def get(self, name: str) -> ConnectorSpec:
        spec = self.loaded.get(name)
        return spec if spec is not None else self.registry.get(name)


def load_handler(path: str) -> Callable[[TriggerEvent], Any]:
    """``module:function`` imported; a ConfigError says what is wrong with it."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--handler {path!r}: expected MODULE:FUNCTION")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--handler {path!r}: cannot import {module_name!r} ({exc})") from None
    found: Any = module
    for part in attr.split("."):
        found = getattr(found, part, None)
    if not callable(found):
        raise ConfigError(f"--handler {path!r}: {attr!r} is not a function of {module_name!r}")
    handler: Callable[[TriggerEvent], Any] = found
    return handler


def _show(event: TriggerEvent) -> None:
    line = {
        "connector": event.connector,
        "subscription": event.subscription,
        "type": event.type,
        "dedupe_key": event.dedupe_key,
    }
    click.echo(json.dumps(line, sort_keys=True))


def _run_one(
    manager: WebhookManager, setup: ServeSetup, sock: socket.socket, *, clean_stop: bool = False
) -> None:
    """One receiver on the bound socket until SIGINT/SIGTERM (uvicorn's own handling).

    After its graceful stop uvicorn raises the signal again under the handler it found, so the
    process would die of it (143, or a KeyboardInterrupt). ``clean_stop`` (a receiver on its
    own) finds a no-op there instead: a requested stop exits 0. A worker keeps dying of the
    signal, which is how its supervisor tells a kill from a failure."""
    import signal

    import uvicorn

    from patchbay.runtime.webhooks.app import uvicorn_config

    host, port = sock.getsockname()[:2]
    config = uvicorn_config(manager, host=host, port=port, limits=setup.limits)
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda *_: None) for s in stops} if clean_stop else {}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker_command() -> list[str]:
    return [sys.executable, "-c", "from patchbay.cli.webhooks import worker_main; worker_main()"]


def worker_main() -> None:
    """A worker of ``webhooks serve --workers N``: the setup on stdin, the listening socket
    on the descriptor named by ``PATCHBAY_WEBHOOK_FD``; it ends itself when its parent is
    gone (see ``runtime.webhooks.app.run_workers``)."""
    from patchbay.runtime.observability import logger
    from patchbay.runtime.webhooks.app import watch_parent

    setup = ServeSetup.from_bytes(sys.stdin.buffer.read())
    sys.stdin.close()
    fd = int(os.environ["PATCHBAY_WEBHOOK_FD"])
    watch_parent(int(os.environ["PATCHBAY_WEBHOOK_PARENT"]))
    _serve_logging()
    if setup.log_level:  # the parent's --log-level, over serve's INFO default
        logger.setLevel(setup.log_level)
    try:
        manager = setup.manager()
    except PatchbayError as exc:
        _fail(exc)
    sock = socket.socket(fileno=fd)
    _run_one(manager, setup, sock)


@webhooks.command("url")
@click.argument("connector")
@_PUBLIC
@click.option("--secret", "secrets", multiple=True, help="Signing secret (repeat to rotate).")
@_WEBHOOK
@_STORE
@click.pass_obj
def url(
    registry: SpecRegistry,
    connector: str,
    public_url: str,
    secrets: tuple[str, ...],
    webhook: str | None,
    store_path: str | None,
) -> None:
    """Create a subscription for a webhook set up by hand (Slack: paste the printed URL as the
    app's Request URL) with its signing secret (--secret or PATCHBAY_<CONNECTOR>_<SECRET_FIELD>)."""
    from patchbay.runtime.webhooks import WebhookSubscription, webhook_of, webhook_url

    try:
        spec = registry.get(connector)
        hook = webhook_of(spec, webhook) if webhook else spec.triggers.webhooks[0]
        values = list(secrets) or [s for s in [_env_secret(spec, hook.name)] if s]
        if not values:
            raise click.UsageError(
                f"give --secret or set PATCHBAY_{spec.name.upper()}_{hook.secret_field.upper()}"
            )
        sub = open_webhook_store(store_path).create(
            WebhookSubscription(
                id="",
                connector=spec.name,
                webhook=hook.name,
                secrets=tuple(values),
                registration={"manual": True},
            )
        )
    except IndexError:
        _fail(ValueError(f"{connector} has no webhooks"))
    except PatchbayError as exc:
        _fail(exc)
    click.echo(webhook_url(public_url, sub))


@webhooks.command("register")
@click.argument("connector")
@_PUBLIC
@click.option("--param", "params", multiple=True, help="owner=…, repo=…, form_id=… (repeatable).")
@click.option("--event", "events", multiple=True, help="Event types (default: the spec's).")
@_WEBHOOK
@_call_options
@_STORE
@click.pass_obj
def register_command(
    registry: SpecRegistry,
    connector: str,
    public_url: str,
    params: tuple[str, ...],
    events: tuple[str, ...],
    webhook: str | None,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    base_url: str | None,
    store_path: str | None,
) -> None:
    """Register an endpoint with the vendor through the connector's own action and store the
    signing secret (Stripe returns one; Patchbay makes one for GitHub and Typeform)."""
    from patchbay.runtime.webhooks import register, webhook_url

    try:
        spec = registry.get(connector)
        values: dict[str, Any] = dict(pairs(params, "--param"))
        if events:
            values["events"] = list(events)
        store = open_webhook_store(store_path)
        with _executor(spec, auth_variant, fields, variables, base_url) as executor:
            sub = register(spec, executor, store, public_url, webhook=webhook, params=values)
    except PatchbayError as exc:
        _fail(exc)
    click.echo(f"registered {sub.connector}/{sub.webhook}: id {sub.id}")
    click.echo(webhook_url(public_url, sub))


@webhooks.command("list")
@_STORE
@JSON_OPTION
def list_command(store_path: str | None, as_json: bool = False) -> None:
    """Subscriptions (never their secrets)."""
    try:
        rows = open_webhook_store(store_path).list()
    except PatchbayError as exc:
        _fail(exc)
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "connector": s.connector,
                    "webhook": s.webhook,
                    "registration": s.registration,
                }
                for s in rows
            ]
        )
        return
    click.echo(f"{'id':<18} {'connector':<12} {'webhook':<20} registration")
    for sub in rows:
        info = json.dumps(sub.registration, sort_keys=True)
        click.echo(f"{sub.id:<18} {sub.connector:<12} {sub.webhook:<20} {info}")


@webhooks.command("unregister")
@click.argument("subscription_id")
@_call_options
@_STORE
@click.pass_obj
def unregister_command(
    registry: SpecRegistry,
    subscription_id: str,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    base_url: str | None,
    store_path: str | None,
) -> None:
    """Remove the vendor's endpoint (when the spec has a delete action) and the subscription."""
    from patchbay.runtime.webhooks import unregister

    try:
        store = open_webhook_store(store_path)
        spec = registry.get(store.get(subscription_id).connector)
        remote = bool(store.get(subscription_id).registration.get("action"))
        if remote:
            with _executor(spec, auth_variant, fields, variables, base_url) as executor:
                removed = unregister(spec, executor, store, subscription_id)
        else:
            removed = unregister(spec, None, store, subscription_id)
    except PatchbayError as exc:
        _fail(exc)
    where = " and at the vendor" if removed else " (locally; remove it at the vendor by hand)"
    click.echo(f"unregistered {subscription_id}{where}")


@webhooks.command("send")
@click.argument("connector")
@click.argument("event")
@click.option("--to", "to_url", required=True, help="Receiver URL (a loopback address).")
@click.option("--secret", default=None, help="Signing secret (default: the env variable).")
@click.option("--payload", "payload_json", default=None, help="Event body as JSON.")
@_WEBHOOK
@click.pass_obj
def send_command(
    registry: SpecRegistry,
    connector: str,
    event: str,
    to_url: str,
    secret: str | None,
    payload_json: str | None,
    webhook: str | None,
) -> None:
    """Send one EVENT signed exactly as CONNECTOR's vendor signs it; prints the answer."""
    from patchbay.mocks.webhook_sender import send

    try:
        spec = registry.get(connector)
        key = secret or _env_secret(spec, webhook)
        if not key:
            raise click.UsageError("give --secret or set the connector's secret variable")
        payload = json.loads(payload_json) if payload_json else None
        response = send(to_url, spec, event, key, webhook=webhook, payload=payload)
    except (PatchbayError, ValueError, httpx.HTTPError) as exc:
        _fail(exc)
    click.echo(f"{response.status_code} {response.text}")
    if response.status_code >= 400:
        sys.exit(EXIT_FAILED)
