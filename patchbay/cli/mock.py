"""``patchbay mock serve``: spec-driven mock servers, each connector under /<connector>."""

from __future__ import annotations

import click

from patchbay.cli._common import JSON_OPTION, emit_json, fail, pairs
from patchbay.extras import need_extra
from patchbay.project import current_project
from patchbay.runtime import PatchbayError
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import SpecRegistry


@click.group()
def mock() -> None:
    """Spec-driven mock servers."""


@mock.command("serve")
@click.argument("connectors", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of synthetic data.")
@click.option("--var", "variables", multiple=True, help="Connection variable name=value.")
@click.option(
    "--records",
    "records",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Synthetic records per collection.",
)
@click.option(
    "--fixtures/--no-fixtures",
    default=True,
    show_default=True,
    help="Answer a request a golden fixture matches with that fixture; --no-fixtures answers "
    "every request from the mock's own state (what a live client such as a vendor SDK needs: "
    "a fixture recorded in another run carries other ids).",
)
@JSON_OPTION
@click.pass_obj
def mock_serve(
    registry: SpecRegistry,
    connectors: tuple[str, ...],
    host: str,
    port: int,
    seed: int,
    records: int,
    variables: tuple[str, ...],
    fixtures: bool = True,
    as_json: bool = False,
) -> None:
    """Serve mocks of CONNECTORS (default: the project's), each under /<connector>, until
    interrupted."""
    need_extra("mock")
    import uvicorn

    from patchbay.mocks.server import MockOptions, MockServer, MountedMocks

    try:
        project = current_project()
        names = list(connectors) or registry.names()
        if not names:
            raise ConfigError(f"no connector specs in {registry.directory}: name one to serve")
        values = pairs(variables, "--var")
        specs = [registry.get(n) for n in names]
        servers = [
            MockServer(
                spec,
                MockOptions(
                    golden_root=project.golden_for(registry, spec.name) if fixtures else None,
                    seed=seed,
                    records=records,
                    mount=f"/{spec.name}",
                    shaped_credentials=True,
                    # Each connector takes the variables it declares (Twilio's account_sid).
                    variables={k: v for k, v in values.items() if k in spec.connection.variables},
                ),
            )
            for spec in specs
        ]
    except PatchbayError as exc:
        fail(exc)
    origin = f"http://{host}:{port}"
    if as_json:  # the listing as one JSON document, then the server runs
        emit_json(
            [
                {
                    "connector": s.spec.name,
                    "base_url": s.local_base_url(origin),
                    "credentials": dict(sorted(s.credentials.items())),
                }
                for s in servers
            ]
        )
    for server in [] if as_json else servers:
        creds = ", ".join(f"{k}={v}" for k, v in sorted(server.credentials.items()))
        click.echo(f"{server.spec.name:<10} {server.local_base_url(origin)}   ({creds})")
    uvicorn.run(MountedMocks(servers), host=host, port=port, log_level="warning", interface="asgi3")
