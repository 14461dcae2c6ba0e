"""Orchestration overhead: `runbook run --env local --phase ...` against the bare nbclient floor.

The floor executes the same notebooks, parameterized the same way, with `NotebookClient` in
this one process against an already running sandbox. The runbook's figure is the whole CLI:
process start, parameter validation, the sandbox start, papermill, the report and manifest.

    uv run python bench/orchestration.py [--phase verify] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbclient import NotebookClient
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from runbook import phases as ph
from runbook.params import load, project_root, public_dump
from runbook.sandbox.server import start_sandbox


def bare_floor(root: Path, names: list[str], token: str, workdir: Path) -> float:
    """Seconds to run the notebooks with NotebookClient in-process (sandbox started untimed)."""
    loaded = load("local", root=root)
    token_env = loaded.params.target.token.env
    with start_sandbox(loaded.params.sandbox, token, token_env=token_env) as sb:
        params = loaded.params.model_copy(update={"target": loaded.params.target.model_copy(
            update={"base_url": sb.url})})
        started = time.perf_counter()
        for phase in ph.select(root, names):
            nb = load_notebook_node(str(phase.path(root)))
            nb = parameterize_notebook(nb, {"env": "local", "params": public_dump(params),
                                            "run_dir": str(workdir)})
            NotebookClient(nb, timeout=300, kernel_name="python3", shutdown_kernel="immediate",
                           resources={"metadata": {"path": str(root / "runbooks")}}).execute()
        return time.perf_counter() - started


def runbook_cli(names: list[str], token: str, outputs: Path) -> float:
    """Seconds for the whole `runbook run` command."""
    args = [sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--outputs",
            str(outputs)]
    for name in names:
        args += ["--phase", name]
    env = dict(os.environ, PIXCRAWLER_SANDBOX_TOKEN=token)
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"runbook run failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", action="append", dest="phases")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = project_root()
    names = args.phases or [p.name for p in ph.existing(root)]
    token = secrets.token_urlsafe(16)
    floors, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so machine load hits both alike
            floors.append(bare_floor(root, names, token, Path(tmp) / f"bare{i}"))
            runs.append(runbook_cli(names, token, Path(tmp) / "outputs"))
    f, r = statistics.median(floors), statistics.median(runs)
    print(f"phases: {', '.join(names)}  (repeat {args.repeat}, medians)")
    print(f"bare nbclient floor : {f:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in floors)}")
    print(f"runbook run (CLI)   : {r:6.2f} s   runs: {', '.join(f'{x:.2f}' for x in runs)}")
    print(f"ratio               : {r / f:6.2f}x")


if __name__ == "__main__":
    main()
