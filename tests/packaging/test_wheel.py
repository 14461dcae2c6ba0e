"""The product as a team installs it: the built wheel alone, in a fresh virtual environment,
outside the checkout. It carries its notebooks and shipped parameters and no rehearsal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    assert uv, "uv is needed to build the wheel (the README's setup installs it)"
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("pixcrawler_runbook-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """bin/ of a fresh virtual environment holding only the wheel and its dependencies."""
    uv = shutil.which("uv")
    assert uv
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    yield venv / "bin"


def outside(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`bin_dir/args[0] args[1:]` in `cwd`, with nothing pointing back at the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RUNBOOK_ROOT", "VIRTUAL_ENV", "PYTHONPATH")
    }
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_ships_the_product_and_not_the_rehearsal(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "runbook/_data/runbooks/03_deploy.ipynb" in names
    assert "runbook/_data/parameters/staging.yaml" in names
    assert "runbook/_data/parameters/_base.yaml" in names
    assert "runbook/core/checklist/catalogue.yaml" in names
    assert not [n for n in names if n.startswith("rehearsal/") or "/sandbox/" in n]


def test_an_installed_product_plans_a_staging_run_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    done = outside(installed, tmp_path, "runbook", "run", "--dry-run", "--env", "staging")
    assert done.returncode == 0, done.stderr
    assert "environment: staging" in done.stderr
    assert "03_deploy.ipynb" in done.stderr
    rehearsal = outside(installed, tmp_path, "python", "-c", "import rehearsal")
    assert rehearsal.returncode != 0  # the rehearsal is not part of what a team installs


def test_an_installed_product_refuses_the_rehearsal_environment_saying_why(
    installed: Path, tmp_path: Path
) -> None:
    done = outside(installed, tmp_path, "runbook", "run", "--dry-run", "--env", "local")
    assert done.returncode == 2
    assert "pixcrawler-runbook-rehearsal" in done.stderr


def test_an_installed_product_onboards_a_teams_repository(installed: Path, tmp_path: Path) -> None:
    """`runbook init` in a folder with no parameters/ yet writes one extending the shipped
    defaults, which the installed product then plans from."""
    repo = tmp_path / "service"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    team = tmp_path / "team"
    team.mkdir()
    init = outside(
        installed,
        team,
        "runbook",
        "init",
        "--env",
        "mine",
        "--repo",
        str(repo),
        "--url",
        "http://127.0.0.1:8010",
    )
    assert init.returncode == 0, init.stdout + init.stderr
    written = (team / "parameters" / "mine.yaml").read_text()
    assert "extends: _base.yaml" in written and "main:app" in written
    plan = outside(installed, team, "runbook", "run", "--dry-run", "--env", "mine")
    assert plan.returncode == 0, plan.stderr
    assert "environment: mine" in plan.stderr
