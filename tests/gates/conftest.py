"""Fixtures: the sample repository, materialized for real, with every check run once.

`gate_matrix` materializes the clean sample and one copy per defect, and runs every
pre-deployment check on each (real pytest, ruff, mypy and git subprocesses). The clean run
goes first and warms a mypy cache that each defect run gets a copy of; the defect runs then
share the two cores.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gates_support import SampleRun, run_all_checks

from rehearsal.sample_repo import DEFECTS, SampleRepo, materialize_sample


@pytest.fixture(scope="session")
def gate_matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SampleRun]:
    """'clean' and each defect name -> the results of every check on that sample."""
    root = tmp_path_factory.mktemp("gate-matrix")
    cache = root / "mypy-cache-clean"
    runs = {
        "clean": run_all_checks(materialize_sample(root / "clean" / "repo"), root / "clean", cache)
    }

    def run_defect(name: str) -> SampleRun:
        work = root / name
        own_cache = work / "mypy-cache"
        shutil.copytree(cache, own_cache)  # a copy: mypy 2 keeps its cache in SQLite files
        return run_all_checks(materialize_sample(work / "repo", [name]), work, own_cache)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, run in zip(DEFECTS, pool.map(run_defect, DEFECTS), strict=True):
            runs[name] = run
    return runs


@pytest.fixture
def clean_sample(tmp_path: Path) -> SampleRepo:
    """A fresh clean sample repository (git only; nothing run)."""
    return materialize_sample(tmp_path / "repo")
