"""Helpers of the governance tests: real run directories written with the real evidence
functions, and `runbook run` in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Status

ROOT = Path(__file__).resolve().parents[2]


def make_run(
    env_dir: Path,
    *,
    build_id: str = "build-7",
    verdict: str = "GO",
    finished_at: datetime | None = None,
    phases: tuple[str, ...] = ("deploy", "verify", "performance"),
    note: str = "",
) -> tuple[str, Path, str]:
    """A finished run directory (notebook, report, manifest, chain line); returns (id, dir,
    manifest sha256)."""
    run_id, run_dir = ev.new_run_dir(env_dir)
    (run_dir / "notebooks").mkdir()
    (run_dir / "notebooks" / "04_verify.ipynb").write_text(json.dumps({"note": note}))
    (run_dir / "report.html").write_text(f"<html>{verdict}</html>")
    status = Status.PASS if verdict == "GO" else Status.FAIL
    result = CheckResult(
        id="smoke.health", section="§2.2", title="health", status=status, phase="verify"
    )
    finished = (finished_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
    digest = ev.write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "environment": env_dir.name,
            "build_id": build_id,
            "finished_at": finished,
            "verdict": verdict,
            "phases": [{"name": p, "status": "completed", "verdict": verdict} for p in phases],
            "results": [result.to_payload()],
        },
    )
    return run_id, run_dir, digest


def make_chain(env_dir: Path, n: int = 4) -> list[tuple[str, Path, str]]:
    return [
        make_run(env_dir, note=str(i), finished_at=datetime.now(UTC) - timedelta(hours=n - i))
        for i in range(n)
    ]


def chain_lines(env_dir: Path) -> list[str]:
    return (env_dir / ev.CHAIN).read_text().splitlines()


def write_chain_lines(env_dir: Path, lines: list[str]) -> None:
    (env_dir / ev.CHAIN).write_text("".join(line + "\n" for line in lines))


def copy_env(env_dir: Path, dest: Path) -> Path:
    """A copy of an environment directory (runs and chain) to tamper with."""
    target = dest / env_dir.name
    shutil.copytree(env_dir, target)
    return target


def runbook_run(
    outputs: Path, token: str, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`runbook run --env local` for real, with a known sandbox token."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PIXCRAWLER_SANDBOX_TOKEN", "RUNBOOK_HEADLESS"}
    }
    env["PIXCRAWLER_SANDBOX_TOKEN"] = token
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook.cli",
            "run",
            "--env",
            "local",
            *args,
            "--outputs",
            str(outputs),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def run_dir_of(proc: subprocess.CompletedProcess[str]) -> Path:
    _verdict, path = proc.stdout.strip().splitlines()[-1].split(": ", 1)
    return Path(path)


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / ev.MANIFEST).read_text())
