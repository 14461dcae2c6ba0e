"""Benchmark (issue 10, item 8): the runbook's pre-deployment gates against the checklist's
commands typed by hand, one after another, on the same real repository and machine.

    uv run python bench/predeploy_vs_hand.py                # fresh clone of /tmp/fst @ 0.10.0
    uv run python bench/predeploy_vs_hand.py --repo PATH --base REF --cwd backend \\
        --types "mypy app" --lint "ruff check app" --format "ruff format app --check"

(a) by hand: `uv run <lint>`, `uv run <types>`, `uv run <format>` in the checkout, one after
another (each in its own process, like a person at a shell, with the runbook's VIRTUAL_ENV
left out so uv uses the target's environment); (b) the runbook: `gates.run_gates` with the
same commands as gates, in its scratch worktree of the candidate, side by side (`--parallel`),
with tool-version probes and evidence files. Round 1 is cold (fresh environments and caches
on both sides), round 2 warm. Only the gates that need no database run: the template's backend
tests need PostgreSQL, which this bench does not start. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runbook.gates import Gate, PreDeploymentParams, run_gates
from runbook.gates.params import CODE_QUALITY

DEFAULT_SOURCE = Path("/tmp/fst")
DEFAULT_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"


def hand_env(uv_python: str | None) -> dict[str, str]:
    """A person's shell: the runbook's own virtual environment is not active."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("UV_")}
    if uv_python:
        env.update(UV_PYTHON=uv_python, UV_PYTHON_DOWNLOADS="never")
    return env


def by_hand(repo: Path, cwd: str, commands: list[list[str]], env: dict[str, str]) -> float:
    """Seconds to run the commands one after another (exit codes printed, not judged)."""
    started = time.perf_counter()
    for argv in commands:
        t0 = time.perf_counter()
        done = subprocess.run(["uv", "run", *argv], cwd=repo / cwd, env=env, check=False,
                              capture_output=True, timeout=1800)  # fmt: skip
        print(f"    hand: uv run {shlex.join(argv)}: exit {done.returncode} in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    return time.perf_counter() - started


def gates_for(cwd: str, lint: list[str], types: list[str], fmt: list[str]) -> list[Gate]:
    """The same commands as runbook gates (`{run}` = `uv run`)."""
    section = f"{CODE_QUALITY} — bench"
    return [
        Gate(id="code.lint", title="lint", section=section, kind="ruff-check", cwd=cwd,
             argv=["{run}", *lint]),
        Gate(id="code.types", title="types", section=section, kind="mypy", cwd=cwd,
             argv=["{run}", *types]),
        Gate(id="code.format", title="format", section=section, kind="ruff-format", cwd=cwd,
             argv=["{run}", *fmt]),
    ]  # fmt: skip


def by_runbook(params: PreDeploymentParams, evidence: Path) -> float:
    """Seconds `run_gates` takes; prints each gate's status and tool version."""
    started = time.perf_counter()
    results = run_gates(params, evidence)
    elapsed = time.perf_counter() - started
    for r in results:
        print(f"    runbook: {r.id}: {r.status.value} ({r.evidence.get('tool_version')}) in "
              f"{r.evidence.get('duration_s')} s — {r.explanation[:90]}")  # fmt: skip
    return elapsed


def clone(source: Path, ref: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(source), str(dest)], check=True)
    subprocess.run(["git", "-c", "advice.detachedHead=false", "-C", str(dest), "checkout",
                    "--quiet", ref], check=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="a checkout (default: clone /tmp/fst)")
    parser.add_argument("--ref", default="0.10.0", help="candidate tag of the default clone")
    parser.add_argument("--base", default="0.9.0", help="base ref (recorded, for the report)")
    parser.add_argument("--cwd", default="backend", help="folder the commands run in")
    parser.add_argument("--lint", default="ruff check app")
    parser.add_argument("--types", default="mypy app")
    parser.add_argument("--format", default="ruff format app --check")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--uv-python", default=DEFAULT_PYTHON if Path(DEFAULT_PYTHON).exists()
                        else None, help="UV_PYTHON for both sides (pyenv shims get in the way)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="predeploy-bench-"))
    repo = args.repo or clone(DEFAULT_SOURCE, args.ref, work / "checkout")
    lint, types, fmt = (shlex.split(c) for c in (args.lint, args.types, args.format))
    env = hand_env(args.uv_python)
    passthrough = ["UV_PYTHON", "UV_PYTHON_DOWNLOADS"] if args.uv_python else []
    if args.uv_python:
        os.environ.update(UV_PYTHON=args.uv_python, UV_PYTHON_DOWNLOADS="never")
    params = PreDeploymentParams(
        repo=repo, base_ref=args.base, gates=gates_for(args.cwd, lint, types, fmt),
        coverage_layers=[], parallel=args.parallel, env_passthrough=passthrough,
        worktree_cache=work / "worktrees",
    )  # fmt: skip
    print(f"repository: {repo} (candidate HEAD, base {args.base}); machine: {os.cpu_count()} "
          f"cores; python {sys.version.split()[0]}")  # fmt: skip
    print("scope: lint, types and format only — the backend tests need PostgreSQL, which this "
          "bench does not start (no database gate is timed on either side)")  # fmt: skip
    for round_no in range(1, args.rounds + 1):
        label = "cold" if round_no == 1 else "warm"
        print(f"round {round_no} ({label}):")
        hand = by_hand(repo, args.cwd, [lint, types, fmt], env)
        runbook = by_runbook(params, work / f"evidence-{round_no}")
        print(f"  by hand: {hand:.1f} s; runbook: {runbook:.1f} s; ratio runbook/hand: "
              f"{runbook / hand:.2f}")  # fmt: skip
    print(f"work folder (clone, worktrees, evidence): {work}")


if __name__ == "__main__":
    main()
