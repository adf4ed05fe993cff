"""``--metrics-port``: the Prometheus metrics of ``triggers run`` and ``webhooks serve`` over
HTTP, on a listener of their own.

One process serves prometheus_client's default registry from a thread. A supervisor with
worker processes cannot read their registries, so the workers count into files instead
(prometheus_client's multiprocess mode, in a private directory made here and removed at the
end) and the supervisor's listener sums them: one scrape sees the whole command, the counts of
a worker that died and was replaced included. Labels never carry a secret (see
``patchbay.runtime.observability``); the listener binds to loopback unless told otherwise.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from patchbay.cli._common import fail

#: prometheus_client reads it when a worker imports it: set in each worker's environment only.
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_options[F: Callable[..., Any]](command: F) -> F:
    """``--metrics-port`` and ``--metrics-host`` on a long-running command."""
    command = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        help="Address of the metrics listener (loopback unless you mean to expose it).",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(min=0, max=65535),
        default=None,
        help="Serve Prometheus metrics on http://HOST:PORT/metrics (0: any free port); with "
        "worker processes, their sum. Off by default.",
    )(command)


@dataclass
class MetricsExport:
    """A running metrics listener; ``env`` goes into each worker's environment."""

    url: str
    env: dict[str, str] = field(default_factory=dict)
    directory: str | None = None

    def worker_exited(self, pid: int) -> None:
        """Forget a dead worker's live-only values (its counters stay: counts never drop)."""
        if self.directory is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, self.directory)  # type: ignore[no-untyped-call]


@contextmanager
def exported_metrics(
    host: str, port: int | None, *, workers: bool
) -> Iterator[MetricsExport | None]:
    """Serve metrics on ``host:port`` for the duration of the block (nothing when ``port`` is
    None). With ``workers``, the listener sums the files of the worker processes that start
    with ``export.env``. A port that cannot be bound is a configuration error, reported
    before any work starts."""
    if port is None:
        yield None
        return
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    directory = tempfile.mkdtemp(prefix="patchbay-metrics-") if workers else None
    try:
        registry = REGISTRY
        if directory is not None:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            fail(f"cannot serve metrics on {host}:{port}: {reason}")
        shown = f"[{host}]" if ":" in host else host
        export = MetricsExport(f"http://{shown}:{server.server_port}/metrics", directory=directory)
        if directory is not None:
            export.env[MULTIPROC_VARIABLE] = directory
        click.echo(f"# metrics on {export.url}", err=True)
        try:
            yield export
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
