"""Deployment Steps §1.1 on a development machine: the app is started from the checkout, it
answers health and /docs, its log is read for errors, and the run stops it (real uvicorn
processes on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from rehearsal.sample_repo import materialize_sample
from runbook.core.checks import Status
from runbook.phases.deploy.local_app import stop_started_apps
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.sequence import run_deploy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _params(repo: Path, port: int, **start: object) -> DeployParams:
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.main:app",
            "--host",
            "{host}",
            "--port",
            "{port}",
        ],
        "repo": str(repo),
        "cwd": ".",
        **start,
    }
    return DeployParams.model_validate(
        {
            "method": "start",
            "start": spec,
            "app_urls": {"production": f"http://127.0.0.1:{port}"},
            "health": {"route": "/health", "version_field": None, "timeout": 90, "interval": 0.2},
        }
    )


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize_sample(tmp_path_factory.mktemp("dev-app") / "repo").path


def test_started_app_is_healthy_documented_and_clean_then_stopped(
    sample: Path, tmp_path: Path
) -> None:
    work = tmp_path / "evidence" / "deploy"
    run = run_deploy(_params(sample, _free_port()), None, work)
    by_id = {r.id: r for r in run.results}
    assert [r.status for r in run.results] == [Status.PASS] * 7, run.results
    assert set(by_id) == {
        "deploy.start",
        "deploy.health.production",
        "deploy.running",
        "deploy.docs.openapi-json",
        "deploy.docs.docs",
        "deploy.docs.redoc",
        "deploy.logs",
    }
    pid = by_id["deploy.start"].observed["pid"]
    assert stop_started_apps(tmp_path) == [pid]
    assert _gone(pid)
    assert (work / "app.log").is_file()


def test_an_app_that_cannot_start_fails_with_its_log(sample: Path, tmp_path: Path) -> None:
    params = _params(
        sample,
        _free_port(),
        argv=[sys.executable, "-m", "uvicorn", "backend.no_such_module:app", "--port", "{port}"],
    )
    params.health.timeout = 5
    run = run_deploy(params, None, tmp_path / "evidence" / "deploy")
    statuses = {r.id: r.status for r in run.results}
    assert statuses["deploy.start"] is Status.PASS  # it started ...
    assert statuses["deploy.running"] is Status.FAIL  # ... and exited
    assert statuses["deploy.logs"] is Status.FAIL  # its traceback is an error line
    assert "no_such_module" in next(r for r in run.results if r.id == "deploy.running").explanation
    stop_started_apps(tmp_path)


def test_a_busy_address_is_refused_before_anything_starts(sample: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        run = run_deploy(_params(sample, busy.getsockname()[1]), None, tmp_path / "d")
    [only] = run.results
    assert only.status is Status.ERROR and "already answers" in only.explanation
    assert not (tmp_path / "d" / "app-process.json").exists()


def test_a_missing_doc_page_fails_its_own_box(sample: Path, tmp_path: Path) -> None:
    params = _params(sample, _free_port(), doc_pages=["/docs", "/no-such-page"])
    run = run_deploy(params, None, tmp_path / "evidence" / "deploy")
    statuses = {r.id: r.status for r in run.results}
    assert statuses["deploy.docs.docs"] is Status.PASS
    assert statuses["deploy.docs.no-such-page"] is Status.FAIL
    stop_started_apps(tmp_path)


def test_error_lines_in_the_apps_log_fail_its_box_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.phases.deploy.local_app import log_check

    monkeypatch.setenv("RUNBOOK_TEST_APP_SECRET", "hunter2-app-secret")
    params = _params(tmp_path, 8000, env={"DB_PASSWORD": {"env": "RUNBOOK_TEST_APP_SECRET"}})
    work = tmp_path / "deploy"
    work.mkdir()
    (work / "app.log").write_text(
        "INFO:     Started server\n\x1b[31mERROR\x1b[0m:    boom hunter2-app-secret\n"
        "INFO: an error-free line\n"
    )
    result = log_check(params, work)
    assert result.status is Status.FAIL and result.observed["error_lines"] == 1
    assert "boom" in result.explanation and "hunter2" not in result.model_dump_json()
    (work / "app.log").write_text("INFO:     Started server\n")
    assert log_check(params, work).status is Status.PASS
    (work / "app.log").write_text("")  # nothing logged: nothing proved
    assert log_check(params, work).status is Status.INCONCLUSIVE
