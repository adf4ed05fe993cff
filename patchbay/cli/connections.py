"""``patchbay connect``, ``test-connection`` and ``connections …``: accounts in the store."""

from __future__ import annotations

import json
import os
import sys

import click

from patchbay.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    JSON_OPTION,
    STORE_OPTION,
    echo_error,
    emit_json,
    fail,
    http_url,
    open_store,
    pairs,
    redactor,
    verdict,
)
from patchbay.runtime import PatchbayError
from patchbay.runtime.http import connection_from_sources
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("connector")
@click.option("--auth", "auth_variant", default=None, help="Auth variant (default: the first).")
@click.option("--field", "fields", multiple=True, help="Credential name=value (API keys).")
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead.")
@click.option("--base-url", default=None, help="Send the Test Connection request here.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@STORE_OPTION
@click.pass_obj
def connect(
    registry: SpecRegistry,
    connector: str,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    no_browser: bool,
    base_url: str | None,
    timeout: float,
    store_path: str | None,
) -> None:
    """Connect an account: OAuth2 in the browser, or API keys (flags, env or hidden prompts)."""
    import webbrowser

    from patchbay.runtime.accounts import OAuthClient, connect_api_key, connect_oauth
    from patchbay.runtime.spec import OAuth2Auth

    try:
        base_url = http_url(base_url, "--base-url")
        spec = registry.get(connector)
        variant = spec.auth[0] if auth_variant is None else spec.auth_variant(auth_variant)
        values = pairs(variables, "--var")
        store = open_store(store_path)
        if isinstance(variant, OAuth2Auth):
            client = OAuthClient.from_env(spec.name)

            def show(url: str) -> None:
                click.echo(f"Open this URL to authorize:\n{url}")
                if not no_browser:
                    webbrowser.open(url)

            result = connect_oauth(
                spec,
                store,
                client,
                open_url=show,
                auth=variant.name,
                variables=values,
                base_url=base_url,
                timeout=timeout,
            )
        else:
            base = connection_from_sources(
                spec, auth=variant.name, fields=pairs(fields, "--field"), environ=dict(os.environ)
            ).credentials
            for name, field in variant.fields.items():
                if name not in base:
                    base[name] = click.prompt(name, hide_input=field.secret)
                    if field.secret:
                        redactor().add(base[name])
            result = connect_api_key(
                spec,
                store,
                auth=variant.name,
                credentials=base,
                variables=values,
                base_url=base_url,
            )
    except KeyError as exc:
        echo_error(f"error: [config] unknown auth variant {exc}")
        sys.exit(EXIT_CONFIG)
    except PatchbayError as exc:
        fail(exc)
    conn = result.connection
    click.echo(f"connected {conn.connector} as {conn.account_label or '(no label)'}: id {conn.id}")


@click.command("test-connection")
@click.argument("connection_id")
@click.option("--base-url", default=None, help="Send the request here instead of the vendor.")
@STORE_OPTION
@click.pass_obj
def test_connection_command(
    registry: SpecRegistry, connection_id: str, base_url: str | None, store_path: str | None
) -> None:
    """Check a stored connection: OK with its account label, or the error and what to do."""
    from patchbay.runtime.accounts import check_stored_connection, hint_for

    try:
        base_url = http_url(base_url, "--base-url")
        store = open_store(store_path)
        spec = registry.get(store.get(connection_id).connector)
        check = check_stored_connection(spec, store, connection_id, base_url=base_url)
    except PatchbayError as exc:
        fail(exc)
    if check.ok:
        click.echo(
            f"{verdict(True, 'OK')}  {spec.name} {connection_id}: "
            f"{check.account_label or '(no label)'}"
        )
        return
    assert check.error is not None
    echo_error(f"{verdict(False, 'FAILED', err=True)}  {spec.name} {connection_id}: {check.error}")
    echo_error(f"hint: {hint_for(spec, check.error)}")
    sys.exit(EXIT_FAILED)


@click.group()
def connections() -> None:
    """Stored connections (secrets are never shown)."""


@connections.command("list")
@STORE_OPTION
@JSON_OPTION
def connections_list(store_path: str | None, as_json: bool) -> None:
    """List stored connections (no secrets)."""
    try:
        rows = open_store(store_path).list()
    except PatchbayError as exc:
        fail(exc)
    if as_json:
        emit_json(
            [
                {
                    "id": c.id,
                    "connector": c.connector,
                    "auth": c.auth,
                    "status": c.status,
                    "account_label": c.account_label,
                }
                for c in rows
            ]
        )
        return
    click.echo(f"{'id':<14} {'connector':<16} {'auth':<14} {'status':<13} account")
    for c in rows:
        click.echo(
            f"{c.id:<14} {c.connector:<16} {c.auth:<14} {c.status:<13} {c.account_label or ''}"
        )


@connections.command("show")
@click.argument("connection_id")
@STORE_OPTION
def connections_show(connection_id: str, store_path: str | None) -> None:
    """Show one connection as JSON: names of its variables and credentials, never values."""
    try:
        c = open_store(store_path).get(connection_id)
    except PatchbayError as exc:
        fail(exc)
    shown = {
        "id": c.id,
        "connector": c.connector,
        "auth": c.auth,
        "status": c.status,
        "account_label": c.account_label,
        "account_id": c.account_id,
        "variables": sorted(c.variables),
        "credentials": sorted(c.credentials),
        "token_expires_at": c.expires_at,
        "has_refresh_token": bool(c.tokens and c.tokens.refresh_token),
    }
    click.echo(json.dumps(shown, indent=2))


@connections.command("delete")
@click.argument("connection_id")
@click.option("--keep-remote", is_flag=True, help="Do not revoke the grant at the vendor.")
@click.option("--force", is_flag=True, help="Delete locally even if the revocation fails.")
@click.option(
    "--oauth-base-url",
    default=None,
    help="Send the revocation (and a refresh it needs) to this origin instead of the vendor.",
)
@STORE_OPTION
@click.pass_obj
def connections_delete(
    registry: SpecRegistry,
    connection_id: str,
    keep_remote: bool,
    force: bool,
    oauth_base_url: str | None,
    store_path: str | None,
) -> None:
    """Revoke the connection's grant at the vendor, then delete it from the store."""
    from patchbay.runtime.accounts import OriginTransport, delete_connection

    try:
        oauth_base_url = http_url(oauth_base_url, "--oauth-base-url")
        transport = OriginTransport(oauth_base_url) if oauth_base_url else None
        result = delete_connection(
            registry.get,
            open_store(store_path),
            connection_id,
            keep_remote=keep_remote,
            force=force,
            transport=transport,
        )
    except PatchbayError as exc:
        fail(exc)
    if result.error is not None:
        echo_error(f"error: revoking {connection_id} at the vendor failed: {result.error}")
    if not result.deleted:
        click.echo(
            f"kept {connection_id} (nothing lost): retry later, or delete it anyway with "
            "--force (revoke the app's access in the vendor's settings then)",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    notes = {
        "revoked": "revoked at the vendor",
        "already_revoked": "already revoked at the vendor",
        "nothing_to_revoke": "nothing to revoke at the vendor (no revoke_url or an API key)",
        "kept": "not revoked at the vendor (--keep-remote)",
        "failed": "NOT revoked at the vendor (--force): revoke it in the vendor's settings",
    }
    click.echo(f"deleted {connection_id}: {notes[result.remote]}")


@connections.command("new-key")
def connections_new_key() -> None:
    """Print a fresh key for PATCHBAY_SECRET_KEY."""
    from patchbay.runtime.accounts import new_key

    click.echo(new_key())
