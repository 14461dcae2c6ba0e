"""Every benchmark of issue 7, one after the other, in one output: orchestration overhead and
the whole run (orchestration.py), per-window analysis over 1e5..1e7 records (analysis.py) and
the probe's accuracy against wrk (probe_vs_wrk.py). Each part runs as its own process, so one
part's imports and threads never weigh on the next; run it on an otherwise quiet machine.

    uv run python bench/benchmarks.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = (
    (
        "orchestration overhead and whole run (goals ≤ 1.15x, ≤ 45 s)",
        "orchestration.py",
        ["--repeat", "3"],
        ["--repeat", "1"],
    ),
    (
        "analysis: per-window p50/p95/p99 and error rate (goal ≤ 0.5 s at 1e7)",
        "analysis.py",
        [],
        ["--repeat", "1"],
    ),
    (
        "probe accuracy: p95 against wrk's at c=1, 10, 50 (goal within ±10 %)",
        "probe_vs_wrk.py",
        [],
        ["--rounds", "1"],
    ),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat / round each")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
    failed = []
    began = time.perf_counter()
    for title, script, full, quick in PARTS:
        print(f"\n=== {title}\n", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / script), *(quick if args.quick
                                                                   else full)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              check=False)  # fmt: skip
        print(proc.stdout.rstrip(), flush=True)
        if proc.returncode != 0:
            failed.append(script)
            print(f"({script} exited with {proc.returncode})", flush=True)
    print(
        f"\nall benchmarks: {time.perf_counter() - began:.0f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
