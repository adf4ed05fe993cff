"""Code generation and contract-suite cost as the catalogue grows, each against a baseline
measured in the same run (ratios, no thresholds), then the import cost of generated packages.

    .venv/bin/python bench/codegen.py [--repeat 3] [--no-imports]

For every spec in specs/ (18 in Batch 1):
- generating all of them from scratch; baseline: datamodel-code-generator alone on the very
  same schemas (the floor: Patchbay's share is the rest);
- a no-op ``generate --check``, in process and as the ``patchbay`` command; baselines: hashing
  every spec and generated file (what a hash-only check cannot avoid), and starting the
  interpreter and importing the CLI (``patchbay --help``);
- the whole contract suite; baseline: loading every golden fixture and building every
  connector's mock (the suite's fixed cost), so the ratio is what running the cases adds.
Issue 15's targets, for reading the figures: all from scratch < 3 s, no-op check < 1 s,
contract suite < 60 s. Per connector: ``import patchbay.connectors.<name>`` and reaching its
client class in a fresh process (target < 150 ms).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from patchbay.codegen.generator import check, generate, sha256  # noqa: E402
from patchbay.codegen.models import plan_models, render_models  # noqa: E402
from patchbay.mocks.contract import contract_cases, run_suite  # noqa: E402
from patchbay.mocks.server import MockOptions, MockServer  # noqa: E402
from patchbay.runtime.spec import (  # noqa: E402
    SpecRegistry,
    load_spec,
    spec_files,
)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import patchbay.connectors.{name} as pkg
t1 = time.perf_counter()
getattr(pkg, "{client}")
t2 = time.perf_counter()
print(json.dumps({{"package": t1 - t0, "client": t2 - t0}}))
"""

# The same with the shared runtime already imported: what the connector itself costs.
OWN_PROBE = """
import json, time
import patchbay.runtime.sdk  # everything a generated client imports from the runtime
t0 = time.perf_counter()
from patchbay.connectors.{name} import {client}
print(json.dumps({{"own": time.perf_counter() - t0}}))
"""

BASELINE_PROBE = """
import json, time
t0 = time.perf_counter()
import httpx, pydantic, jsonschema, prometheus_client
print(json.dumps({"deps": time.perf_counter() - t0}))
"""


def best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def probe(code: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def hash_everything(specs: Path, out: Path) -> None:
    """The floor of a hash-only check: read and hash every spec and generated file."""
    for path in [*spec_files(specs), *sorted(out.rglob("*.py")), *sorted(out.rglob("*.json"))]:
        sha256(path.read_bytes())


def command(*args: str) -> None:
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)


def suite_setup(registry: SpecRegistry) -> None:
    """What the contract suite costs before any case runs: fixtures loaded, mocks built."""
    contract_cases(registry)
    for name in registry.names():
        MockServer(registry.get(name), MockOptions())


def row(label: str, seconds: float, base: float | None = None, base_label: str = "") -> str:
    text = f"{label:<46} {seconds:>8.3f}"
    if base is not None:
        text += f"  baseline {base:>7.3f} ({base_label}), ratio {seconds / base:5.1f}x"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-imports", action="store_true", help="Skip the import probes.")
    args = parser.parse_args()
    specs = [load_spec(p) for p in spec_files(SPECS)]
    patchbay = str(Path(sys.executable).with_name("patchbay"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "generated"

        def scratch() -> None:
            shutil.rmtree(out, ignore_errors=True)
            generate(SPECS, out, force=True)

        full = best(scratch, args.repeat)
        noop = best(lambda: check(SPECS, out), args.repeat)
        hashed = best(lambda: hash_everything(SPECS, out), args.repeat)
        noop_generate = best(lambda: generate(SPECS, out), args.repeat)
    floor = best(lambda: [render_models(s, plan_models(s)) for s in specs], args.repeat)
    cli_check = best(lambda: command(patchbay, "generate", "--check"), args.repeat)
    cli_start = best(lambda: command(patchbay, "--help"), args.repeat)
    registry = SpecRegistry(SPECS)
    cases = len(contract_cases(registry))
    run_suite(registry, ["stripe"])  # warm the generated clients' imports once
    suite = best(lambda: run_suite(registry), max(1, args.repeat - 1))
    setup = best(lambda: suite_setup(registry), args.repeat)
    n = len(specs)
    print(f"{'measure (best of ' + str(args.repeat) + ')':<46} {'seconds':>8}")
    print(row(f"generate all {n} specs from scratch", full, floor, "datamodel-code-generator"))
    print(row("no-op generate --check (in process)", noop, hashed, "hash every file"))
    print(row("no-op patchbay generate --check (command)", cli_check, cli_start, "patchbay --help"))
    print(row("no-op generate (all skipped by hash)", noop_generate))
    print(row(f"contract suite, {cases} cases", suite, setup, "fixtures + mocks"))
    print("targets (issue 15): from scratch < 3 s, no-op check < 1 s, contract suite < 60 s")
    if args.no_imports:
        return
    deps = min(probe(BASELINE_PROBE)["deps"] for _ in range(args.repeat))
    title = f"import, fresh process, best of {args.repeat}"
    print(f"\n{title:<30} {'package':>9} {'client':>9} {'own':>9}")
    print(f"{'httpx+pydantic+jsonschema+prom':<30} {'':>9} {deps * 1000:>7.1f}ms  (shared deps)")
    for spec in specs:
        client = "".join(w.capitalize() for w in spec.name.split("_")) + "Client"
        code = IMPORT_PROBE.format(name=spec.name, client=client)
        runs = [probe(code) for _ in range(args.repeat)]
        own_code = OWN_PROBE.format(name=spec.name, client=client)
        own = min(probe(own_code)["own"] for _ in range(args.repeat))
        package = min(r["package"] for r in runs)
        reach = min(r["client"] for r in runs)
        module = f"patchbay.connectors.{spec.name}"
        print(f"{module:<34} {package * 1000:>7.1f}ms {reach * 1000:>7.1f}ms {own * 1000:>7.1f}ms")
    print("package: import patchbay.connectors.X (lazy); client: + its client class, runtime")
    print("included; own: the client class with the shared runtime already imported.")


if __name__ == "__main__":
    main()
