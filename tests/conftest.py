"""Shared fixtures: the repository root and a real sandbox on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules that each take a minute or more (whole runs, a browser, a killed run and its resume):
# collected first, so the xdist workers (`--dist loadfile`) start them early and the short
# modules fill in around them instead of one long module running alone at the end.
LONG_MODULES = (
    "tests/history/test_trends_and_diff.py",
    "tests/phases/test_release_rehearsal.py",
    "tests/resume/test_resume.py",
    "tests/lab/test_lab_browser.py",
    "tests/backbone/test_run_local.py",
    "tests/evidence_store/test_store_cli.py",
    "tests/backbone/test_notebooks_nbval.py",
    "tests/reliability/test_more_faults.py",
    "tests/checklist/test_catalogue.py",
    "tests/lab/test_lab_process.py",
    "tests/governance/test_governance_cli.py",
    "tests/papermill_entry/test_papermill_entry.py",
    "tests/phases/test_pre_deployment_phase.py",
    "tests/reliability/test_faults.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first, in LONG_MODULES order; every other module keeps its place."""
    rank = {name: i for i, name in enumerate(LONG_MODULES)}

    def key(item: pytest.Item) -> int:
        path = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable: a module's tests stay together and in order


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def sandbox_token() -> str:
    return "sbx-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def live_sandbox(sandbox_token: str) -> Iterator[object]:
    """A real sandbox subprocess on a free port (stopped after the module)."""
    from rehearsal.sandbox.config import SandboxConfig
    from rehearsal.sandbox.server import start_sandbox

    with start_sandbox(
        SandboxConfig(port=0, seed=7, job_step_seconds=0.05),
        sandbox_token,
        token_env="PIXCRAWLER_SANDBOX_TOKEN",
    ) as handle:
        yield handle
