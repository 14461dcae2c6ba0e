"""`runbook run --env local` started as a subprocess, as a person would start it; the fault
tests start several at once and each test waits for its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 420
NO_INTEGRATION = ("--param", "integration=null")  # verify = the smoke steps only (cheap)


@dataclass
class Launched:
    proc: subprocess.Popen[str]
    outputs: Path
    _done: tuple[str, str] | None = None

    def finish(self) -> tuple[int, str, str]:
        """Wait for the run: exit code, stdout, stderr."""
        if self._done is None:
            self._done = self.proc.communicate(timeout=RUN_TIMEOUT_S)
        out, err = self._done
        return self.proc.returncode, out, err

    @property
    def run_dir(self) -> Path:
        _, out, err = self.finish()
        assert out.strip(), err
        return Path(out.strip().splitlines()[-1].split(": ", 1)[1])

    @property
    def manifest(self) -> dict:
        return json.loads((self.run_dir / "manifest.json").read_text())

    @property
    def results(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.manifest["results"]}


def launch(outputs: Path, *args: str, root: Path | None = None,
           extra_env: dict[str, str] | None = None,
           preexec: Callable[[], None] | None = None) -> Launched:  # fmt: skip
    """Start `runbook run --env local --outputs OUTPUTS ARGS...` (RUNBOOK_ROOT=root if given;
    an exported RUNBOOK_ARM_TOKEN is dropped unless extra_env sets it)."""
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_ARM_TOKEN"}
    if root is not None:
        env["RUNBOOK_ROOT"] = str(root)
    env.update(extra_env or {})
    proc = subprocess.Popen(
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
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=preexec,
    )
    return Launched(proc, outputs)
