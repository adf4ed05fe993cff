"""``patchbay webhooks serve`` on several processes sharing one store: one delivery sent 50
times at once across 3 receivers is handed to the ``--handler`` exactly once (observed in the
handler's own JSONL sink, written with O_APPEND by whichever process ran it), the other 49 are
answered as duplicates (or, while the first copy is still being handled, 503 to retry), a bad
signature is never handled, a handler failure on one host is retried on another and handled
once, a receiver that dies mid-handler leaves the delivery to a retry after the processing
timeout, and stopping or killing the supervisor leaves no worker behind.

Receivers run as real child processes (``python -m patchbay``) on loopback; PostgreSQL is the
session's throwaway cluster (fails, never skips, without one).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pg_cluster import PgCluster

from patchbay.mocks.webhook_sender import sample_event, sign
from patchbay.runtime.accounts._encryption import Encryptor, new_key
from patchbay.runtime.spec._registry import SpecRegistry
from patchbay.runtime.storage._postgres import close_pools
from patchbay.runtime.stores import open_webhook_store
from patchbay.runtime.webhooks import WebhookSubscription

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry()
SECRET = "github-worker-test-secret-0001"
SENDS = 50

#: The user's handler: one line per handled event, one write on an O_APPEND descriptor (atomic
#: between processes); it lingers so that duplicates arrive while the first is being handled.
HANDLER = """
import json, os, time

def record(event):
    if event.dedupe_key.startswith("flaky-"):  # its first attempt fails, in whichever process
        marker = os.environ["HOOK_SINK"] + "." + event.dedupe_key
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            raise RuntimeError("first attempt fails")
    time.sleep(0.3)
    line = json.dumps({"pid": os.getpid(), "key": event.dedupe_key, "type": event.type})
    fd = os.open(os.environ["HOOK_SINK"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)
"""


@dataclass
class Setup:
    """A store with one GitHub subscription, the handler module and its sink."""

    store: str
    key: str
    sub: WebhookSubscription
    sink: Path
    tmp: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATCHBAY_SECRET_KEY": self.key,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(self.tmp)]),
            "HOOK_SINK": str(self.sink),
        }

    def handled(self) -> list[dict[str, Any]]:
        if not self.sink.exists():
            return []
        return [json.loads(line) for line in self.sink.read_text().splitlines()]


def make_setup(tmp_path: Path, store: str) -> Setup:
    key = new_key()
    hook = REGISTRY.get("github").triggers.webhooks[0]
    sub = open_webhook_store(store, Encryptor([key])).create(
        WebhookSubscription(id="", connector="github", webhook=hook.name, secrets=(SECRET,))
    )
    (tmp_path / "hooksink.py").write_text(HANDLER)
    return Setup(store, key, sub, tmp_path / "sink.jsonl", tmp_path)


@pytest.fixture
def pg_setup(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Setup]:
    url = pg_cluster.new_database("hooks")
    try:
        yield make_setup(tmp_path, url)
    finally:
        close_pools()


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[bytes]
    err: Path

    def children(self) -> list[int]:
        """Processes started by the receiver (its workers)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with suppress(OSError):
            return [int(p) for p in path.read_text().split()]
        return []


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check: Any, what: str, seconds: float = 60.0) -> None:
    """A hang guard for start-up and shutdown, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@contextmanager
def receiver(setup: Setup, name: str, *options: str) -> Iterator[Receiver]:
    """``patchbay webhooks serve --port 0`` with the handler, until it answers /healthz."""
    out, err = setup.tmp / f"{name}.out", setup.tmp / f"{name}.err"
    command = [sys.executable, "-m", "patchbay", "webhooks", "serve", "--port", "0"]
    command += ["--store", setup.store, "--handler", "hooksink:record", *options]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT, env=setup.env())
    try:
        found: list[str] = []

        def listening() -> bool:
            assert process.poll() is None, err.read_text()
            found[:] = re.findall(r"receiving on (http://[\d.]+:\d+)/", out.read_text())
            return bool(found)

        wait_until(listening, "the receiver did not print its address")
        served = Receiver(found[0], process, err)
        wait_until(lambda: healthy(served.url), "the receiver did not answer /healthz")
        yield served
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def healthy(url: str) -> bool:
    with suppress(httpx.TransportError):
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    return False


def signed(setup: Setup, delivery_id: str, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    hook = REGISTRY.get("github").triggers.webhooks[0]
    body = json.dumps(sample_event(REGISTRY.get("github"), hook, "issues")).encode()
    return body, sign(hook, body, secret, delivery_id=delivery_id, event_type="issues")


def blast(setup: Setup, urls: list[str], body: bytes, headers: dict[str, str]) -> list[Any]:
    """The same request ``SENDS`` times at once, spread round-robin over ``urls``; returns
    (status, JSON answer) pairs."""
    path = f"/webhooks/github/{setup.sub.id}"

    def post(index: int) -> tuple[int, Any]:
        with httpx.Client(timeout=60) as client:
            response = client.post(urls[index % len(urls)] + path, content=body, headers=headers)
        return response.status_code, response.json()

    with ThreadPoolExecutor(SENDS) as pool:
        return list(pool.map(post, range(SENDS)))


def assert_once(setup: Setup, answers: list[Any], delivery_id: str) -> None:
    """One answer processed it; each of the other 49 was told either duplicate (200: the
    handlers had finished) or in progress (503, retry later: they were still running, and a
    200 would make the vendor drop a copy it may yet need); the handler ran once."""
    processed = [a for status, a in answers if status == 200 and a.get("duplicate") is None]
    assert len(processed) == 1, answers
    others = [
        "duplicate" if (status, a.get("duplicate")) == (200, True) else a.get("error", status)
        for status, a in answers
        if a is not processed[0]
    ]
    assert set(others) <= {"duplicate", "in_progress"}, others
    assert len(others) == SENDS - 1
    handled = [h for h in setup.handled() if h["key"] == delivery_id]
    assert len(handled) == 1, handled
    assert handled[0]["type"] == "issues"


def test_three_workers_on_postgres_handle_a_delivery_once(pg_setup: Setup) -> None:
    with receiver(pg_setup, "w", "--workers", "3") as served:
        assert len(served.children()) == 3
        answers = blast(pg_setup, [served.url], *signed(pg_setup, "dlv-workers-1"))
        assert_once(pg_setup, answers, "dlv-workers-1")
        # The vendor's retries of the in-progress copies, once the handler has finished.
        again = blast(pg_setup, [served.url], *signed(pg_setup, "dlv-workers-1"))
        assert [(status, a.get("duplicate")) for status, a in again] == [(200, True)] * SENDS

        forged = blast(pg_setup, [served.url], *signed(pg_setup, "dlv-forged", "wrong-secret"))
        assert {status for status, _ in forged} == {401}
        assert [h["key"] for h in pg_setup.handled()] == ["dlv-workers-1"]

        # Distinct deliveries at once: each is handled once, whichever worker took it.
        path = f"{served.url}/webhooks/github/{pg_setup.sub.id}"
        ids = [f"dlv-many-{i}" for i in range(20)]

        def post(delivery_id: str) -> int:
            body, headers = signed(pg_setup, delivery_id)
            return httpx.post(path, content=body, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(len(ids)) as pool:
            assert set(pool.map(post, ids)) == {200}
        keys = sorted(h["key"] for h in pg_setup.handled())
        assert keys == sorted(["dlv-workers-1", *ids])


def test_three_separate_serve_commands_on_postgres_handle_a_delivery_once(
    pg_setup: Setup,
) -> None:
    with ExitStack() as stack:
        urls = [stack.enter_context(receiver(pg_setup, f"host{i}")).url for i in range(3)]
        assert len(set(urls)) == 3
        answers = blast(pg_setup, urls, *signed(pg_setup, "dlv-hosts-1"))
        assert_once(pg_setup, answers, "dlv-hosts-1")

        # A handler failure on one host releases the id: the vendor's retry, taken by another
        # host, runs the handler; later copies are duplicates everywhere.
        body, headers = signed(pg_setup, "flaky-1")
        path = f"/webhooks/github/{pg_setup.sub.id}"
        first = httpx.post(urls[0] + path, content=body, headers=headers, timeout=60)
        assert first.status_code == 503 and "Retry-After" in first.headers
        assert [h for h in pg_setup.handled() if h["key"] == "flaky-1"] == []
        retry = httpx.post(urls[1] + path, content=body, headers=headers, timeout=60)
        assert retry.status_code == 200 and retry.json().get("duplicate") is None
        later = blast(pg_setup, urls, body, headers)
        assert [a.get("duplicate") for _, a in later] == [True] * SENDS
        assert len([h for h in pg_setup.handled() if h["key"] == "flaky-1"]) == 1


def test_three_workers_on_one_sqlite_file_handle_a_delivery_once(tmp_path: Path) -> None:
    """SQLite's claim is one autocommit INSERT OR IGNORE on a primary key: the file lock makes
    it atomic between processes, so workers are allowed on a local SQLite file too."""
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    with receiver(setup, "w", "--workers", "3") as served:
        answers = blast(setup, [served.url], *signed(setup, "dlv-sqlite-1"))
        assert_once(setup, answers, "dlv-sqlite-1")


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    with receiver(setup, "w", "--workers", "2") as served:
        workers = served.children()
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(60) == 0
        assert not any(alive(pid) for pid in workers)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_one_receiver_stops_cleanly_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    """Without workers too, a requested stop is a clean exit (as with workers and as for
    ``triggers run``), not the re-raised signal's 143 or a KeyboardInterrupt."""
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    with receiver(setup, "one") as served:
        served.process.send_signal(stop)
        assert served.process.wait(60) == 0, served.err.read_text()
    assert "Traceback" not in served.err.read_text()


def test_killed_supervisor_leaves_no_worker(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    with receiver(setup, "w", "--workers", "2") as served:
        workers = served.children()
        assert len(workers) == 2
        served.process.kill()
        served.process.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in workers), "a worker outlived its parent")


def test_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    with receiver(setup, "w", "--workers", "2") as served:
        first = served.children()
        os.kill(first[0], signal.SIGKILL)
        wait_until(
            lambda: len(served.children()) == 2 and first[0] not in served.children(),
            "the dead worker was not replaced",
        )
        answers = blast(setup, [served.url], *signed(setup, "dlv-replaced"))
        assert_once(setup, answers, "dlv-replaced")


def test_a_bad_handler_fails_before_serving(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, str(tmp_path / "store.db"))
    command = [sys.executable, "-m", "patchbay", "webhooks", "serve", "--port", "0"]
    command += ["--store", setup.store, "--workers", "2", "--handler", "hooksink:missing"]
    done = subprocess.run(command, cwd=ROOT, env=setup.env(), capture_output=True, timeout=120)
    assert done.returncode != 0
    assert b"hooksink:missing" in done.stderr
    assert b"receiving on" not in done.stdout
