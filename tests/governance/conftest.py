"""One real local run (environment, deploy, verify, performance) shared by the module tests:
sandbox, Azure stand-in, papermill and a kernel, all for real."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from shared_runs import shared_run


@dataclass
class RealRun:
    run_dir: Path
    token: str
    outputs: Path


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """Made once per session and shared by the governance modules (tests only read it)."""
    shared = shared_run(
        tmp_path_factory, "governance-run",
        "--phase", "environment", "--phase", "deploy", "--phase", "verify",
        "--phase", "performance",
        "--param", "performance.duration_s=2", "--param", "performance.warmup_s=0.5",
    )  # fmt: skip
    assert shared.returncode == 0, shared.stdout + shared.stderr
    return RealRun(run_dir=shared.run_dir, token=shared.token, outputs=shared.run_dir.parents[1])
