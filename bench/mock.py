"""Requests per second of ``patchbay mock serve`` beside Prism, on the same OpenAPI, same run.

    .venv/bin/python bench/mock.py [--connector stripe] [--seconds 5] [--connections 32]

Both servers run in their own process on loopback and answer the same GET with the same auth
header; the load comes from ``wrk`` when it is installed (Debian package ``wrk``), else from a
small asyncio httpx loop (which is then the likely bottleneck: the ratio still compares like
with like). Prism (``@stoplight/prism-cli``) is installed with npm into ``bench/.prism`` on
first use. The loops are bounded in time and only ever target 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PRISM_DIR = ROOT / "bench" / ".prism"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, headers: dict[str, str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def prism_binary() -> Path:
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("npm is not installed: cannot install @stoplight/prism-cli")
        PRISM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PRISM_DIR),
                "@stoplight/prism-cli",
            ],
            check=True,
            capture_output=True,
        )
    return binary


def load_with_wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url} answered {non_2xx.group(1)} non-2xx responses under load")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found is not None, out
    return float(found.group(1))


def load_with_httpx(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    async def run() -> float:
        done = 0
        stop = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(headers=headers, limits=limits) as client:

            async def worker() -> None:
                nonlocal done
                while time.monotonic() < stop:
                    response = await client.get(url)
                    if response.status_code >= 300:
                        raise RuntimeError(f"{url} answered {response.status_code}")
                    done += 1

            start = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return done / (time.monotonic() - start)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connector", default="stripe")
    parser.add_argument(
        "--path",
        default=None,
        help="Path below the base URL (default: the first customer the mock lists, an id that "
        "exists there; unknown ids are not found, as at Stripe).",
    )
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from patchbay.mocks.server import MockServer, default_credentials
    from patchbay.runtime.spec import SpecRegistry

    spec = SpecRegistry(ROOT / "specs").get(args.connector)
    creds = default_credentials(spec)
    token = next(iter(creds.values()))
    headers = {"Authorization": f"Bearer {token}"}
    openapi = ROOT / "generated" / args.connector / "openapi.json"
    load = load_with_wrk if shutil.which("wrk") else load_with_httpx
    results: dict[str, float] = {}

    ours_port = free_port()
    ours = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchbay",
            "mock",
            "serve",
            args.connector,
            "--port",
            str(ours_port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prism_port = free_port()
    prism = subprocess.Popen(
        [str(prism_binary()), "mock", str(openapi), "-p", str(prism_port), "-h", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = MockServer(spec)
        base_path = server.local_base_url("").rstrip("/")
        ours_base = f"http://127.0.0.1:{ours_port}/{args.connector}{base_path}"
        wait_until_up(ours_base + "/customers?limit=1", headers)
        if args.path is None:
            listed = httpx.get(ours_base + "/customers?limit=1", headers=headers).json()
            args.path = f"/customers/{listed['data'][0]['id']}"
        ours_url = ours_base + args.path
        prism_url = f"http://127.0.0.1:{prism_port}{args.path}"
        wait_until_up(ours_url, headers)
        wait_until_up(prism_url, headers)
        for name, url in (("patchbay mock serve", ours_url), ("prism mock", prism_url)):
            load(url, headers, 1, args.connections)  # warm up
            results[name] = load(url, headers, args.seconds, args.connections)
    finally:
        for proc in (ours, prism):
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"load generator: {'wrk' if load is load_with_wrk else 'httpx (asyncio)'}, "
        f"{args.connections} connections, {args.seconds}s each, GET {args.path}"
    )
    for name, rps in results.items():
        print(f"{name:<22} {rps:>10.0f} req/s")
    ratio = results["patchbay mock serve"] / results["prism mock"]
    print(f"ratio patchbay/prism: {ratio:.2f}x")
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))


if __name__ == "__main__":
    main()
