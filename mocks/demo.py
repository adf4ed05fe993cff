"""The README's main job at this stage: one paged call per connector against a local stand-in."""

from __future__ import annotations

from dataclasses import dataclass

from patchbay.mocks.loopback import HandlerApp, local_base_url, serve
from patchbay.mocks.oracles import STANDIN_MODULES, load_standin
from patchbay.runtime import Connection, GenericExecutor, RetryPolicy
from patchbay.runtime.http import ExecutorOptions
from patchbay.runtime.spec import SpecRegistry


@dataclass(frozen=True)
class DemoRow:
    connector: str
    action: str
    base_url: str
    pages: int
    items: int
    requests: int
    first_ids: list[str]


def run_demo(registry: SpecRegistry, *, items: int = 25, page_size: int = 10) -> list[DemoRow]:
    """Serve each vendor stand-in on loopback and page through its demo action over HTTP."""
    rows = []
    for name in registry.names():
        if name not in STANDIN_MODULES:
            continue
        spec = registry.get(name)
        module = load_standin(name)
        standin = module.make_standin(items)
        demo = module.DEMO
        with serve(HandlerApp(standin)) as origin:
            base = local_base_url(spec.connection.base_url, origin)
            connection = Connection(
                name, credentials=dict(demo["credentials"]), variables=dict(demo["variables"])
            )
            options = ExecutorOptions(retry=RetryPolicy(max_attempts=2))
            with GenericExecutor(spec, connection, base_url=base, options=options) as executor:
                pager = executor.paginate(demo["action"], demo["input"], page_size=page_size)
                pages = list(pager.pages())
        got = [item for page in pages for item in page.items]
        ids = [str(i.get("id", i.get("ts", "?"))) for i in got[:3] if isinstance(i, dict)]
        rows.append(
            DemoRow(name, demo["action"], base, len(pages), len(got), len(standin.requests), ids)
        )
    return rows
