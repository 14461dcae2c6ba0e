"""Running `runbook run` as a person would, for the phase tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]

    @property
    def run_dir(self) -> Path:
        return Path(self.proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])

    @property
    def manifest(self) -> dict:
        return json.loads((self.run_dir / "manifest.json").read_text())

    @property
    def results(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.manifest["results"]}

    def notebook_spans(self) -> dict[str, tuple[datetime, datetime]]:
        """When each executed phase notebook started and ended (papermill's metadata)."""
        spans = {}
        for phase in self.manifest["phases"]:
            if phase["notebook"]:
                meta = json.loads((self.run_dir / phase["notebook"]).read_text())["metadata"]
                spans[phase["name"]] = (
                    datetime.fromisoformat(meta["papermill"]["start_time"]),
                    datetime.fromisoformat(meta["papermill"]["end_time"]),
                )
        return spans

    def failing(self) -> set[str]:
        return {i for i, r in self.results.items() if r["status"] in {"fail", "error"}}


def run_phases(
    outputs: Path,
    *phases: str,
    params: tuple[str, ...] = (),
    env: str = "local",
    extra_env: dict[str, str] | None = None,
) -> Run:
    args = [sys.executable, "-m", "runbook.cli", "run", "--env", env, "--outputs", str(outputs)]
    for phase in phases:
        args += ["--phase", phase]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(extra_env or {})},
    )
    assert proc.stdout.strip(), proc.stderr
    return Run(proc)
