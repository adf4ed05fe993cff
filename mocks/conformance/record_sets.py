"""Recorded fixture sets: real client traffic against the spec-driven mock, through the
recording proxy, written as redacted ``source: recorded`` fixtures.

    python -m patchbay.mocks.conformance.record_sets [VENDOR...] [--golden DIR] [--keep]

For each vendor: its mock (``mock serve`` for that one connector, golden fixtures off, seed 0)
runs on a free loopback port; mitmproxy runs as a reverse proxy in front of it with a
:class:`~patchbay.mocks.recorder.Recorder`; a real client is pointed at the proxy and runs its
scenario. Stripe, GitHub and Slack: the vendors' official SDKs, through their conformance
scenarios (``mocks/conformance/*_sdk.py``). Typeform and Zendesk publish no official Python
SDK: Patchbay's generated client (httpx) makes the calls. Earlier recordings of the vendor are
removed first (``--keep`` adds to them), so a run reproduces the whole set. Nothing leaves
127.0.0.1; every credential is the mock's fake.
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AnyUrl

from patchbay.mocks.conformance._runner import SDKS, VARIABLES
from patchbay.mocks.golden import GOLDEN_DIR
from patchbay.mocks.loopback import local_base_url, serve
from patchbay.mocks.recorder import RECORDED_PREFIX, Recorder, RecordReport, start_proxy
from patchbay.mocks.routing import Router
from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime.spec import ConnectorSpec, SpecRegistry

#: A client scenario: (where the proxy serves the vendor's origin, fake credentials).
Scenario = Callable[[str, ConnectorSpec, dict[str, str]], None]


# ------------------------------------------------------------------------------- clients


def _sdk(name: str) -> Scenario:
    """An official SDK's conformance scenario (its own checks are not the point here: the
    traffic is; a failed step still leaves its exchanges recorded and is reported)."""

    def run(origin: str, spec: ConnectorSpec, credentials: dict[str, str]) -> None:
        _, module, _ = SDKS[name]
        module_name, _, function = module.partition(":")
        scenario = getattr(
            importlib.import_module(f"patchbay.mocks.conformance.{module_name}"),
            function or "run",
        )
        steps = scenario(origin, credentials)
        failed = [s for s in steps.done if not s.ok]
        if failed:
            raise RuntimeError(f"{name} SDK steps failed: {failed}")

    return run


def _typeform(origin: str, spec: ConnectorSpec, credentials: dict[str, str]) -> None:
    from pydantic import SecretStr

    from patchbay.connectors.typeform import TypeformClient, TypeformPersonalTokenCredentials

    creds = TypeformPersonalTokenCredentials(token=SecretStr(credentials["token"]))
    base = local_base_url(spec.connection.base_url, origin)
    with TypeformClient(creds, variables={"region": "us"}, base_url=base) as tf:
        forms = list(tf.list_forms(page_size_=2, max_pages=1))
        made = tf.call(
            "create_form",
            {
                "title": "Recorded form",
                "type": "form",
                "fields": [{"ref": "name", "title": "Your name?", "type": "short_text"}],
            },
        )
        form_id = str(made.get("id") or (forms[0].id if forms else "FAKEf0rm1"))
        tf.get_form(form_id=form_id)
        list(tf.list_responses(form_id=form_id, page_size_=2, max_pages=1))
        tf.delete_responses(form_id=form_id, included_response_ids=["FAKEtok1"])
        list(tf.list_workspaces(page_size_=2, max_pages=1))
        tf.create_or_update_webhook(
            form_id=form_id,
            tag="recorded",
            url=AnyUrl("https://hooks.example.test/typeform"),
            enabled=True,
            secret="fake-typeform-secret",
        )
        tf.get_webhook(form_id=form_id, tag="recorded")
        tf.list_webhooks(form_id=form_id)
        tf.delete_webhook(form_id=form_id, tag="recorded")


def _zendesk(origin: str, spec: ConnectorSpec, credentials: dict[str, str]) -> None:
    from pydantic import SecretStr

    from patchbay.connectors.zendesk import ZendeskApiTokenCredentials, ZendeskClient

    creds = ZendeskApiTokenCredentials(
        email=credentials["email"], api_token=SecretStr(credentials["api_token"])
    )
    base = local_base_url(spec.connection.base_url, origin)
    variables = {"subdomain": "patchbay-example"}
    with ZendeskClient(creds, variables=variables, base_url=base) as zd:
        zd.get_current_user()
        list(zd.list_tickets(page_size_=2, max_pages=1))
        made = zd.call(
            "create_ticket",
            {"subject": "Recorded ticket", "comment": {"body": "Made by the recorder."}},
        )
        ticket_id = int(made["id"])
        zd.get_ticket(ticket_id=ticket_id)
        zd.call(
            "update_ticket",
            {"ticket_id": ticket_id, "status": "pending", "comment": {"body": "Waiting."}},
        )
        list(zd.list_ticket_comments(ticket_id=ticket_id, page_size_=2, max_pages=1))
        zd.search_users(query="type:user")
        hook = zd.call(
            "create_webhook",
            {
                "name": "Recorded webhook",
                "endpoint": "https://hooks.example.test/zendesk",
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["zen:event-type:ticket.created"],
            },
        )
        hook_id = str(hook["id"])
        zd.get_webhook_signing_secret(webhook_id=hook_id)
        zd.delete_webhook(webhook_id=hook_id)
        zd.delete_ticket(ticket_id=ticket_id)


CLIENTS: dict[str, tuple[str, Scenario]] = {
    "stripe": ("the official stripe SDK", _sdk("stripe")),
    "github": ("the official PyGithub SDK", _sdk("github")),
    "slack": ("the official slack_sdk WebClient", _sdk("slack")),
    "typeform": ("Patchbay's generated client", _typeform),
    "zendesk": ("Patchbay's generated client", _zendesk),
}


# ------------------------------------------------------------------------------ recording


@dataclass
class SetReport:
    connector: str
    client: str
    report: RecordReport
    error: str | None = None

    def lines(self) -> list[str]:
        head = f"{self.connector}: {len(self.report.written)} fixture(s) from {self.client}"
        out = [head + (f" (client error: {self.error})" if self.error else "")]
        return out + [f"  {line}" for line in self.report.lines()]


def clear_recordings(root: Path, connector: str) -> int:
    """Remove the connector's earlier recordings (only files the recorder names)."""
    gone = 0
    for path in sorted((root / connector).glob(f"*/{RECORDED_PREFIX}*.json")):
        path.unlink()
        gone += 1
    return gone


def record_set(
    registry: SpecRegistry,
    connector: str,
    root: Path = GOLDEN_DIR,
    *,
    keep: bool = False,
    confdir: Path | None = None,
) -> SetReport:
    """Record one vendor's set into ``root`` (see the module docstring)."""
    client, scenario = CLIENTS[connector]
    spec = registry.get(connector)
    if not keep:
        clear_recordings(root, connector)
    server = MockServer(
        spec,
        MockOptions(
            records=5,
            golden_root=None,
            variables=dict(VARIABLES.get(connector, {})),
            shaped_credentials=True,
        ),
    )
    error = None
    with serve(server.app) as mock_origin, tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(spec, root=root, mode="new", stand_ins=[urlsplit(mock_origin).netloc])
        proxy_conf = confdir or Path(tmp) / "mitmproxy"
        with start_proxy(recorder, port=0, confdir=proxy_conf, reverse_to=mock_origin) as proxy:
            # The client's Host header (the proxy's) is kept: it stands in for the vendor too.
            hosts = [urlsplit(mock_origin).netloc, urlsplit(proxy.url).netloc]
            recorder.matcher = Router(spec, hosts)
            try:
                scenario(proxy.url, spec, default_credentials(spec))
            except Exception as exc:  # the exchanges so far are still recorded
                error = f"{type(exc).__name__}: {exc}"
            _settle(recorder)
    return SetReport(connector, client, recorder.report, error)


def _settle(recorder: Recorder, quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until the proxy has handed over its last flow (no change for ``quiet`` seconds)."""

    def seen() -> int:
        r = recorder.report
        return len(r.written) + len(r.duplicates) + len(r.unmatched) + len(r.skipped)

    deadline, last, since = time.monotonic() + limit, seen(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.05)
        now = seen()
        if now != last:
            last, since = now, time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("vendors", nargs="*", help=f"default: {' '.join(CLIENTS)}")
    parser.add_argument("--golden", type=Path, default=GOLDEN_DIR)
    parser.add_argument("--keep", action="store_true", help="Add to earlier recordings.")
    args = parser.parse_args(argv)
    unknown = [v for v in args.vendors if v not in CLIENTS]
    if unknown:
        parser.error(f"no recording scenario for {', '.join(unknown)}")
    registry = SpecRegistry()
    failed = False
    for name in args.vendors or list(CLIENTS):
        result = record_set(registry, name, args.golden, keep=args.keep)
        print("\n".join(result.lines()))
        failed |= result.error is not None or not result.report.written
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
