"""Code generation speed and the import cost of generated packages, measured in one run.

    .venv/bin/python bench/codegen.py [--repeat 3]

Prints: regenerating every spec from scratch; a no-op ``--check``; datamodel-code-generator
alone on the very same schemas (the floor: Patchbay's share is the rest); and, per connector,
the time to ``import generated.<connector>`` and to reach its client class in a fresh process.
Targets: all specs < 5 s, no-op check < 1 s, import < 150 ms per connector.
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

from patchbay.codegen.generator import check, generate  # noqa: E402
from patchbay.codegen.models import plan_models, render_models  # noqa: E402
from patchbay.runtime.registry import spec_files  # noqa: E402
from patchbay.runtime.spec_loading import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import generated.{name} as pkg
t1 = time.perf_counter()
getattr(pkg, "{client}")
t2 = time.perf_counter()
print(json.dumps({{"package": t1 - t0, "client": t2 - t0}}))
"""

# The same with the shared runtime already imported: what the connector itself costs.
OWN_PROBE = """
import json, time
import runtime, runtime.facade, runtime.polling, runtime.webhook_events
t0 = time.perf_counter()
from generated.{name} import {client}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    specs = [load_spec(p) for p in spec_files(SPECS)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "generated"

        def scratch() -> None:
            shutil.rmtree(out, ignore_errors=True)
            generate(SPECS, out, force=True)

        full = best(scratch, args.repeat)
        noop = best(lambda: check(SPECS, out), args.repeat)
        noop_generate = best(lambda: generate(SPECS, out), args.repeat)
    floor = best(lambda: [render_models(s, plan_models(s)) for s in specs], args.repeat)
    print(f"{'measure':<44} {'seconds':>8}")
    print(f"{f'generate all {len(specs)} specs from scratch':<44} {full:>8.3f}")
    print(f"{'  of which datamodel-code-generator alone':<44} {floor:>8.3f}  ({floor / full:.0%})")
    print(f"{'no-op generate --check':<44} {noop:>8.3f}")
    print(f"{'no-op generate (all skipped by hash)':<44} {noop_generate:>8.3f}")
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
        print(
            f"{'patchbay.connectors.' + spec.name:<30} {package * 1000:>7.1f}ms {reach * 1000:>7.1f}ms "
            f"{own * 1000:>7.1f}ms"
        )
    print("package: import generated.X (lazy); client: + its client class, runtime included;")
    print("own: the client class with the shared runtime already imported.")


if __name__ == "__main__":
    main()
