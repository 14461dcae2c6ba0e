"""Orchestration overhead and the whole run: `runbook run --env local` against the bare
nbclient floor, side by side, and where the run's time goes.

The floor executes the same notebooks, parameterized the same way, one after the other with
`NotebookClient` in this one process, against stand-ins already started (untimed). The
runbook's figure is the whole CLI: process start, parameter validation, starting and stopping
the stand-ins, papermill, the report and the manifest. Goals (issue 7): ratio ≤ 1.15, whole
run ≤ 45 s on this 2-core machine.

    uv run python bench/orchestration.py [--phase verify ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from nbclient import NotebookClient
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from rehearsal.services import start_local_services
from runbook.core.parameters import load, project_root, public_dump
from runbook.orchestration import phase_plan as ph

TOKEN_ENV = "PIXCRAWLER_SANDBOX_TOKEN"


def bare_floor(root: Path, names: list[str], workdir: Path) -> tuple[float, dict[str, float]]:
    """Seconds to run the notebooks with NotebookClient in-process, and per phase (stand-ins
    started before the clock and stopped after it)."""
    selected = ph.select(root, names)
    uses = set().union(*(p.uses for p in selected))
    per_phase: dict[str, float] = {}
    with ExitStack() as stack:
        params, _ = start_local_services(
            load("local", root=root).params, stack, lambda _line: None, uses
        )
        started = time.perf_counter()
        for phase in selected:
            t0 = time.perf_counter()
            nb = load_notebook_node(str(phase.path(root)))
            nb = parameterize_notebook(
                nb, {"env": "local", "params": public_dump(params), "run_dir": str(workdir)}
            )
            NotebookClient(
                nb,
                timeout=300,
                kernel_name="python3",
                shutdown_kernel="immediate",
                resources={"metadata": {"path": str(root)}},
            ).execute()
            per_phase[phase.name] = time.perf_counter() - t0
        return time.perf_counter() - started, per_phase


def runbook_cli(names: list[str], outputs: Path) -> tuple[float, dict[str, float]]:
    """Seconds for the whole `runbook run` command, and its own account of the time: each
    phase's duration, the start (stand-ins, kernels) and the finish (report, manifest)."""
    args = [sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--outputs", str(outputs)]
    for name in names:
        args += ["--phase", name]
    env = dict(os.environ, **{TOKEN_ENV: secrets.token_urlsafe(16)})
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"runbook run failed:\n{proc.stdout}\n{proc.stderr}")
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    account = {p["name"]: p["duration_s"] for p in manifest["phases"]}
    notebooks = [
        json.loads((run_dir / p["notebook"]).read_text())["metadata"]["papermill"]
        for p in manifest["phases"]
        if p["notebook"]
    ]
    first = min(datetime.fromisoformat(n["start_time"]) for n in notebooks)
    last = max(datetime.fromisoformat(n["end_time"]) for n in notebooks)
    began = datetime.fromisoformat(manifest["started_at"])
    ended = datetime.fromisoformat(manifest["finished_at"])
    account["(start: stand-ins, first kernel)"] = (first - began).total_seconds()
    account["(finish: renderings, report)"] = (ended - last).total_seconds()
    account["(process start, imports, exit)"] = elapsed - (ended - began).total_seconds()
    return elapsed, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", action="append", dest="phases")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = project_root()
    names = args.phases or [p.name for p in ph.existing(root)]
    os.environ.setdefault(TOKEN_ENV, secrets.token_urlsafe(16))
    floors, runs, floor_phases, run_phases = [], [], [], []
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so machine load hits both alike
            f, fp = bare_floor(root, names, Path(tmp) / f"bare{i}")
            r, rp = runbook_cli(names, Path(tmp) / "outputs")
            floors.append(f)
            runs.append(r)
            floor_phases.append(fp)
            run_phases.append(rp)
            print(f"  round {i + 1}: floor {f:6.2f} s   runbook run {r:6.2f} s", flush=True)
    f, r = statistics.median(floors), statistics.median(runs)
    print(f"\nphases: {', '.join(names)}  (repeat {args.repeat}, medians)")
    print(f"bare nbclient floor : {f:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in floors)}")
    print(f"runbook run (CLI)   : {r:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in runs)}")
    print(f"ratio               : {r / f:6.2f}x   (goal ≤ 1.15x)")
    print("\nwhere the time goes (median s)   floor   runbook run")
    for key in run_phases[0]:
        fl = statistics.median(p[key] for p in floor_phases) if key in floor_phases[0] else None
        rn = statistics.median(p[key] for p in run_phases)
        print(f"  {key:32} {'' if fl is None else f'{fl:6.2f}':>6}   {rn:6.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
