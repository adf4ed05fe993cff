"""What ``patchbay coverage`` costs, per connector and criterion, against the contract suite
alone (the baseline, measured in the same run): coverage runs that suite too, so the ratio is
what the other criteria add.

    .venv/bin/python bench/coverage.py [--fuzz-examples 3] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This file is named like the module it measures; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from patchbay.mocks.contract import run_suite  # noqa: E402
from patchbay.mocks.coverage import CoverageOptions, coverage_report  # noqa: E402
from patchbay.runtime.spec import SpecRegistry  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fuzz-examples", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    registry = SpecRegistry(ROOT / "specs")
    options = CoverageOptions(fuzz_examples=args.fuzz_examples)
    coverage_report(registry, ["github"], options)  # warm imports (schemathesis, models)
    baseline = best(args.repeat, lambda: run_suite(registry))
    whole = best(args.repeat, lambda: coverage_report(registry, options=options))
    print(f"contract suite alone (baseline)   {baseline:6.2f} s")
    print(f"coverage, {len(registry.names())} connectors          {whole:6.2f} s")
    print(f"ratio coverage / baseline         {whole / baseline:6.1f}x")
    print("\nper connector (one run):")
    for item in coverage_report(registry, options=options):
        print(f"  {item.connector:<16} {item.seconds:6.2f} s  {item.level}")


if __name__ == "__main__":
    main()
