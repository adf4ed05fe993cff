"""The vendors' official SDKs, unchanged, against the mocks over real HTTP on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from patchbay.cli import main
from patchbay.mocks.conformance import SDKS, run
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_each_sdk_passes_its_scenario(sdk: str) -> None:
    steps = run(REGISTRY, [sdk])[sdk]
    assert len(steps.done) >= 8
    assert [(s.name, s.reason) for s in steps.failed] == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_conformance_command_against_a_running_mock_serve() -> None:
    """What a user's CI does: `patchbay mock serve` in the background, the SDK pointed at it."""
    port = _free_port()
    connectors = sorted({SDKS[n][0] for n in SDKS})
    variables = [f"--var={k}={v}" for k, v in _variables().items()]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The mock's own behaviour: the recorded sets are these very SDK requests from another run
    # (other ids, other pages) and replay through the contract suite, not to a live SDK.
    # A pipe nobody reads would stall the server once full: its output goes to a file.
    with tempfile.TemporaryFile() as log:
        served = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "patchbay"),
                "mock",
                "serve",
                "--no-fixtures",
                *connectors,
                "--port",
                str(port),
                "--records",
                "5",
                *variables,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            origin = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(origin + "/", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or served.poll() is not None:
                        raise AssertionError("mock serve did not start") from None
                    time.sleep(0.1)
            result = CliRunner().invoke(
                main, ["--specs-dir", str(ROOT / "specs"), "conformance", "--origin", origin]
            )
        finally:
            served.terminate()
            served.wait(timeout=10)
            log.seek(0)
            server_output = log.read().decode(errors="replace")
    assert result.exit_code == 0, result.output + "\n-- mock serve:\n" + server_output
    for sdk in SDKS:
        assert f"{sdk}: " in result.output and " 0 failed" in result.output


def test_conformance_command_names_unknown_sdks() -> None:
    result = CliRunner().invoke(main, ["--specs-dir", str(ROOT / "specs"), "conformance", "nope"])
    assert result.exit_code == 3 and "error: [config] unknown SDK nope" in result.output


def _variables() -> dict[str, str]:
    from patchbay.mocks.conformance._runner import VARIABLES

    return {k: v for values in VARIABLES.values() for k, v in values.items()}
