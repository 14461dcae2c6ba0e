"""Every shipped environment validates every phase: `--dry-run` prints the whole plan and exits
0, `runbook plan --env production` prints its hash, and production is governed as the
checklist implies (approval of the plan, promotion from a fresh staging GO)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.core.parameters import available_environments, load
from runbook.orchestration.phase_plan import PHASES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["development", "staging", "production"]


def _cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXCRAWLER_")}
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_shipped_environments_are_there() -> None:
    assert set(SHIPPED) <= set(available_environments(ROOT))


@pytest.mark.parametrize("env", SHIPPED)
def test_dry_run_of_every_shipped_environment_shows_every_phase(env: str, tmp_path: Path) -> None:
    proc = _cli("run", "--env", env, "--dry-run", "--outputs", str(tmp_path), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for phase in PHASES:
        assert f"{phase.name} — runbooks/{phase.notebook}" in proc.stderr
    assert "deploy:" in proc.stderr  # how and where it would deploy
    assert "not set now" in proc.stderr and "$PIXCRAWLER_API_TOKEN" in proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("env", SHIPPED)
def test_every_phase_has_its_section(env: str) -> None:
    params = load(env, root=ROOT).params
    for phase in PHASES:
        assert getattr(params, phase.params_key) is not None, (env, phase.params_key)


def test_production_requires_approval_and_promotion_and_deploys_through_a_slot() -> None:
    p = load("production", root=ROOT).params
    assert p.approval is not None and p.approval.required
    assert p.promotion is not None and p.promotion.from_environments == ["staging"]
    assert p.deploy is not None and p.deploy.swap_to_production and p.deploy.target_slot
    staging = load("staging", root=ROOT).params
    assert staging.approval is None and staging.promotion is None


def test_development_starts_the_app_from_the_checkout() -> None:
    p = load("development", root=ROOT).params
    assert p.deploy is not None and p.deploy.method == "start" and p.deploy.start is not None
    assert p.deploy.start.argv[:3] == ["uv", "run", "uvicorn"]
    assert "backend.main:app" in p.deploy.start.argv
    assert p.azure is None  # Phase 1 runs on a developer's machine


def test_plan_of_production_prints_its_hash(tmp_path: Path) -> None:
    proc = _cli("plan", "--env", "production", "--out", str(tmp_path / "plan"), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"[0-9a-f]{64}", proc.stdout.strip())
