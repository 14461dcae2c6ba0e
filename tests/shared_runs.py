"""Local runs shared by every test that only reads them, across xdist workers: the first worker
to ask for a run makes it under a file lock in the session's shared temporary folder; the others
wait for it and read the same run. Tests must not change it (copy it first)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_BOUND_S = 1200.0  # a whole run on a busy 2-core machine, with generous room


@dataclass(frozen=True)
class SharedRun:
    """The run's folder and what the command printed (its token, for the secret checks)."""

    run_dir: Path
    returncode: int
    stdout: str
    stderr: str
    token: str

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "manifest.json").read_text())

    def completed(self) -> subprocess.CompletedProcess[str]:
        """As if the test had run the command itself."""
        return subprocess.CompletedProcess([], self.returncode, self.stdout, self.stderr)


def _shared_folder(factory: pytest.TempPathFactory, name: str) -> Path:
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker has its own basetemp under one root
        base = base.parent
    folder = base / f"shared-{name}"
    folder.mkdir(exist_ok=True)
    return folder


def shared_run(factory: pytest.TempPathFactory, name: str, *args: str) -> SharedRun:
    """`runbook run --env local ARGS…` made once per session under `name`, whichever worker
    asks first (the others wait for it and read the same run)."""
    folder = _shared_folder(factory, name)
    record = folder / "run.json"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            record.write_text(json.dumps(_run(folder / "outputs", args)))
    data = json.loads(record.read_text())
    return SharedRun(**{**data, "run_dir": Path(data["run_dir"])})


def healthy_local_run(factory: pytest.TempPathFactory) -> SharedRun:
    """The session's healthy local run of all nine phases."""
    return shared_run(factory, "local-run")


def _run(outputs: Path, args: tuple[str, ...]) -> dict[str, Any]:
    token = "tok-" + os.urandom(9).hex()
    env = {
        k: v for k, v in os.environ.items() if k not in {"PIXCRAWLER_API_TOKEN", "RUNBOOK_HEADLESS"}
    }
    env["PIXCRAWLER_SANDBOX_TOKEN"] = token
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook.cli",
            "run",
            "--env",
            "local",
            "--outputs",
            str(outputs),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        env=env,
        cwd=ROOT,
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert ": " in last, f"no run directory in the output:\n{proc.stdout}\n{proc.stderr}"
    return {
        "run_dir": last.split(": ", 1)[1],
        "returncode": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "token": token,
    }
