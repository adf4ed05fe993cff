"""``patchbay call``: run one action of a connector and print its result as JSON."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from patchbay.cli._common import fail, http_url, json_input, pairs
from patchbay.runtime import CallOptions, GenericExecutor, PatchbayError
from patchbay.runtime.http import connection_from_sources
from patchbay.runtime.spec import SpecRegistry


@click.command()
@click.argument("connector")
@click.argument("action")
@click.option("--input", "input_json", default="{}", help="Action input as a JSON object.")
@click.option("--base-url", default=None, help="Send requests here instead of the vendor.")
@click.option("--auth", "auth_variant", default=None, help="Auth variant (default: the first).")
@click.option("--field", "fields", multiple=True, help="Credential name=value (repeatable).")
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.option("--all-pages", is_flag=True, help="Follow pagination and print every item.")
@click.option(
    "--max-pages", type=click.IntRange(min=1), default=None, help="Stop after this many pages."
)
@click.option(
    "--max-items", type=click.IntRange(min=1), default=None, help="Stop after this many items."
)
@click.option("--idempotency-key", default=None, help="Idempotency key of a write.")
@click.pass_obj
def call(
    registry: SpecRegistry,
    connector: str,
    action: str,
    input_json: str,
    base_url: str | None,
    auth_variant: str | None,
    fields: tuple[str, ...],
    variables: tuple[str, ...],
    all_pages: bool,
    max_pages: int | None,
    max_items: int | None,
    idempotency_key: str | None,
) -> None:
    """Run one action and print its result as JSON.

    Credentials come from --field or PATCHBAY_<CONNECTOR>_<FIELD> environment variables.
    """
    try:
        data = json_input(input_json)
        base_url = http_url(base_url, "--base-url")
        spec = registry.get(connector)
        connection = connection_from_sources(
            spec,
            auth=auth_variant,
            fields=pairs(fields, "--field"),
            variables=pairs(variables, "--var"),
            environ=dict(os.environ),
        )
        options = CallOptions(idempotency_key=idempotency_key)
        with GenericExecutor(spec, connection, base_url=base_url) as executor:
            if all_pages or max_pages or max_items:
                pager = executor.paginate(
                    action, data, options, max_pages=max_pages, max_items=max_items
                )
                result: Any = pager.all()
            else:
                result = executor.call(action, data, options)
    except PatchbayError as exc:
        fail(exc)
    click.echo(json.dumps(result, indent=2, sort_keys=True))
