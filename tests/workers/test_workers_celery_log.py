"""'No errors in Celery worker logs' on the log a real worker writes: the rehearsal exports
where it is, a failing task's error lines fail the check (quoted, secrets masked), and a
worker without a known log file is SKIP."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery import Celery  # type: ignore[import-untyped]

from rehearsal.workers import start_rehearsal_workers
from runbook.core.checks import Status
from runbook.phases.monitoring.workers.celery_log import celery_log_check
from runbook.phases.monitoring.workers.params import WorkersParams

NAMES = (
    "RUNBOOK_TEST_L_REDIS",
    "RUNBOOK_TEST_L_BROKER",
    "RUNBOOK_TEST_L_RESULTS",
    "RUNBOOK_TEST_L_WORKER_LOG",
)


def _params(**log: object) -> WorkersParams:
    return WorkersParams.model_validate(
        {
            "redis": {"url": {"secret": {"env": NAMES[0]}}},
            "celery": {
                "broker": {"secret": {"env": NAMES[1]}},
                "result_backend": {"secret": {"env": NAMES[2]}},
                "window_s": 600,
                "log": log or {"path_env": NAMES[3]},
            },
        }
    )


def _wait_for(path: Path, text: str, within_s: float = 30.0) -> None:
    """Celery stores a failure before it logs it: wait (generously) for the log line."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_the_rehearsal_worker_log_is_found_read_and_fails_on_a_failing_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    params = _params()
    with ExitStack() as stack:
        started = start_rehearsal_workers(params, stack, tmp_path, exercise_tasks=3)
        assert NAMES[3] in started.exported and started.worker is not None
        log = Path(os.environ[NAMES[3]])
        assert log == started.worker.log_path and log.is_file()
        _wait_for(log, "succeeded in")
        healthy = celery_log_check(params)
        assert healthy.status is Status.PASS, healthy.explanation
        assert healthy.observed["error_lines"] == 0 and healthy.observed["lines"] > 0

        broker = os.environ[NAMES[1]]
        password = urlsplit(broker).password
        assert password
        client = Celery(
            "log-test", broker=broker, backend=os.environ[NAMES[2]], set_as_current=False
        )
        try:
            with pytest.raises(RuntimeError):
                client.send_task("runbook.sample.fail", args=[f"lost {broker}"]).get(timeout=30)
        finally:
            client.close()
        _wait_for(log, "raised unexpected")
        failed = celery_log_check(params)
    assert failed.status is Status.FAIL and failed.id == "celery.worker_log"
    assert failed.observed["error_lines"] >= 1
    assert "raised unexpected" in failed.explanation
    assert password not in json.dumps(failed.to_payload())
    # an hour later the same lines are outside the window: nothing new was logged
    later = celery_log_check(params, now=datetime.now(UTC) + timedelta(hours=1))
    assert later.status is Status.INCONCLUSIVE and later.observed["error_lines"] == 0


def test_without_a_known_log_file_the_check_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NAMES[3], raising=False)
    assert celery_log_check(WorkersParams()).status is Status.SKIP
    no_log = WorkersParams.model_validate({"celery": {"broker": {"url": "redis://h:6379/0"}}})
    assert "celery.log" in celery_log_check(no_log).explanation
    unset = celery_log_check(_params())
    assert unset.status is Status.INCONCLUSIVE and f"${NAMES[3]}" in unset.explanation
    missing = celery_log_check(_params(path=str(tmp_path / "worker.log")))
    assert missing.status is Status.INCONCLUSIVE and "does not exist" in missing.explanation
    with pytest.raises(ValueError, match="exactly one of 'path' or 'path_env'"):
        _params(path="a.log", path_env="X_LOG")
