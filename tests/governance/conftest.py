"""One real local run (environment, deploy, verify, performance) shared by the module tests:
sandbox, Azure stand-in, papermill and a kernel, all for real."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from governance_support import run_dir_of, runbook_run


@dataclass
class RealRun:
    run_dir: Path
    token: str
    outputs: Path


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    outputs = tmp_path_factory.mktemp("outputs")
    token = "gov-" + secrets.token_urlsafe(24)
    proc = runbook_run(
        outputs,
        token,
        "--phase",
        "environment",
        "--phase",
        "deploy",
        "--phase",
        "verify",
        "--phase",
        "performance",
        "--param",
        "performance.duration_s=2",
        "--param",
        "performance.warmup_s=0.5",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return RealRun(run_dir=run_dir_of(proc), token=token, outputs=outputs)
