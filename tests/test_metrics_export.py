"""``--metrics-port``: one process serves its own registry; a supervisor serves the sum of its
worker processes (prometheus_client's multiprocess files in a private directory, removed at the
end); a port that cannot be bound is a one-line configuration error before any work starts.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from test_webhook_workers import blast, make_setup, receiver, signed

from patchbay.cli import main
from patchbay.cli._metrics import MULTIPROC_VARIABLE, exported_metrics
from patchbay.runtime.observability import metrics_for

ROOT = Path(__file__).resolve().parent.parent


def sample(url: str, name: str, **labels: str) -> float | None:
    """One sample's value from a scrape of ``url`` (None when absent)."""
    text = httpx.get(url, timeout=30).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


def test_one_process_serves_its_default_registry_until_the_block_ends() -> None:
    labels = {"connector": "metrics_export_one", "trigger": "new_item"}
    with exported_metrics("127.0.0.1", 0, workers=False) as export:
        assert export is not None and export.env == {} and export.directory is None
        metrics_for().trigger_events.labels(**labels).inc(3)
        assert sample(export.url, "patchbay_trigger_events_total", **labels) == 3
    with pytest.raises(httpx.TransportError):
        httpx.get(export.url, timeout=5)


def test_no_port_means_no_listener() -> None:
    with exported_metrics("127.0.0.1", None, workers=True) as export:
        assert export is None


def test_a_supervisor_serves_the_sum_of_its_worker_processes() -> None:
    count = (
        "from patchbay.runtime.observability import metrics_for\n"
        "metrics_for().webhook_verdicts.labels('metrics_export_sum', 'accepted').inc(2)\n"
    )
    labels = {"connector": "metrics_export_sum", "verdict": "accepted"}
    with exported_metrics("127.0.0.1", 0, workers=True) as export:
        assert export is not None and export.directory is not None
        directory = Path(export.directory)
        assert export.env == {MULTIPROC_VARIABLE: export.directory}
        env = {**os.environ, **export.env, "PYTHONPATH": str(ROOT)}
        for _ in range(3):
            done = subprocess.run([sys.executable, "-c", count], env=env, timeout=120, check=True)
            assert done.returncode == 0
        # Counted by processes that have ended: counters keep their counts.
        assert sample(export.url, "patchbay_webhook_verdicts_total", **labels) == 6
        # The supervisor's own registry is not part of the sum.
        metrics_for().webhook_verdicts.labels(**labels).inc(100)
        assert sample(export.url, "patchbay_webhook_verdicts_total", **labels) == 6
        export.worker_exited(12345)
    assert not directory.exists()


def test_a_busy_metrics_port_is_a_clear_error_before_any_work(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["triggers", "run", "--seconds", "30", "--metrics-port", str(port)],
            env={"PATCHBAY_STORE": str(tmp_path / "store.db")},
        )
    assert result.exit_code == 3, result.output
    assert f"error: cannot serve metrics on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_webhooks_serve_with_workers_exposes_their_summed_verdicts(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, str(tmp_path / "hooks.db"))
    with receiver(setup, "m", "--workers", "2", "--metrics-port", "0") as served:
        url = ""

        def announced() -> bool:
            nonlocal url
            found = re.findall(r"# metrics on (http://[\d.]+:\d+/metrics)", served.err.read_text())
            url = found[0] if found else ""
            return bool(url)

        deadline = time.monotonic() + 60
        while not announced():
            assert time.monotonic() < deadline, served.err.read_text()
            time.sleep(0.05)
        forged = blast(setup, [served.url], *signed(setup, "dlv-metrics-1", "wrong-secret"))
        assert {status for status, _ in forged} == {401}
        good = blast(setup, [served.url], *signed(setup, "dlv-metrics-2"))
        verdicts = "patchbay_webhook_verdicts_total"
        github = {"connector": "github"}
        assert sample(url, verdicts, verdict="invalid_signature", **github) == len(forged)
        assert sample(url, verdicts, verdict="accepted", **github) == 1
        duplicates = sample(url, verdicts, verdict="duplicate", **github) or 0
        in_progress = sample(url, verdicts, verdict="in_progress", **github) or 0
        assert duplicates + in_progress == len(good) - 1
        # No label carries the subscription, the delivery id or the secret.
        scrape = httpx.get(url, timeout=30).text
        for secret in (setup.sub.id, "dlv-metrics", "wrong-secret"):
            assert secret not in scrape
