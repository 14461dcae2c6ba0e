"""A real local run, made once per session (CLI, papermill, the sandbox and the stand-ins), and
the check ids the runbook can produce: that run's results plus the ids the id-producing code
gives for what a rehearsal does not exercise (a development deploy that starts the app, the
promotion gate of production, the post-rollback sign-offs)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared_runs import healthy_local_run

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalRun:
    run_dir: Path
    manifest: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def result_ids(self) -> set[str]:
        return {r["id"] for r in self.manifest["results"]}


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    """`runbook run --env local` (every phase): the session's shared healthy run."""
    shared = healthy_local_run(tmp_path_factory)
    return LocalRun(
        run_dir=shared.run_dir, manifest=shared.manifest, stdout=shared.stdout,
        stderr=shared.stderr,
    )  # fmt: skip


def development_deploy_ids(workdir: Path) -> set[str]:
    """The ids a development deploy (method start) gives, from the real functions with the
    development parameters: the app cannot start here (no checkout), the pages do not answer,
    the log is absent: the ids are the same as when all goes well."""
    from runbook.core.parameters import load
    from runbook.phases.deploy.local_app import docs_checks, log_check, start_app, still_running

    deploy = load("development", root=ROOT).params.deploy
    assert deploy is not None and deploy.method == "start"
    started, proc = start_app(deploy, workdir)
    if proc is not None:  # pragma: no cover - only where a development checkout exists
        proc.terminate()
        proc.wait(timeout=30)
    short = subprocess.Popen([sys.executable, "-c", "pass"])
    short.wait(timeout=30)
    results = [
        started,
        still_running(deploy, short, workdir),
        *docs_checks(deploy),
        log_check(deploy, workdir / "no-log-here"),
    ]
    return {r.id for r in results}


def governance_ids(outputs: Path) -> set[str]:
    """The promotion gate's id as production's parameters configure it (no staging run here)."""
    from runbook.core.parameters import load
    from runbook.governance.promotion import gate_from_params

    params = load("production", root=ROOT).params
    assert params.promotion is not None
    return {gate_from_params(outputs, params.promotion, params.build_id).result().id}


def post_rollback_ids() -> set[str]:
    """The post-rollback sign-offs, from the function that records them."""
    from runbook.phases.rollback.decision import decide
    from runbook.phases.rollback.execute import post_rollback_actions
    from runbook.phases.rollback.params import RollbackParams

    rb = RollbackParams()
    return {r.id for r in post_rollback_actions(decide([], rb), rb)}


def database_ids(workdir: Path) -> set[str]:
    """The database checks (Monitoring §2) as the real function gives them: without a section
    (the local run: one SKIP) and for a database it cannot reach (every check, ERROR)."""
    from runbook.phases.monitoring.database.checks import database_checks
    from runbook.phases.monitoring.database.params import DatabaseParams

    name = "RUNBOOK_CHECKLIST_IDS_DATABASE_URL"
    os.environ[name] = f"postgresql://nobody@/none?host={workdir}"
    try:
        unreachable = database_checks(
            DatabaseParams.model_validate({"url": {"env": name}, "connect_timeout_s": 1})
        )
    finally:
        del os.environ[name]
    return {r.id for r in [*database_checks(None), *unreachable]}


@pytest.fixture(scope="session")
def producible_ids(local_run: LocalRun, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every check id the runbook is known to produce (see the module docstring)."""
    scratch = tmp_path_factory.mktemp("ids")
    return (
        local_run.result_ids
        | development_deploy_ids(scratch / "deploy")
        | governance_ids(scratch / "outputs")
        | post_rollback_ids()
        | database_ids(scratch)
    )
