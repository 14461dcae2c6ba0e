"""'No errors in logs' from log files: the scanner (window by byte offset or by timestamp, error
lines counted, the first few quoted with secrets masked) and §1.3's app-log check in the monitor
phase, on logs real processes wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from runbook.core.checks import Status
from runbook.core.logscan import LogCheckSpec, LogScanParams, log_errors_check, scan_log, scrub
from runbook.core.parameters import load
from runbook.phases.monitoring.applogs import app_log_check

SECRET_ENV = "RUNBOOK_TEST_APP_LOG_SECRET"
SPEC = LogCheckSpec("test.log", "a section", "No errors in logs", "the test log")

# what a uvicorn app writes to stdout/stderr when a request fails, with a secret in the message
APP_PROGRAM = r"""
import logging, os, sys
logging.basicConfig(stream=sys.stdout, format="%(levelname)s:     %(message)s", level="INFO")
log = logging.getLogger("app")
log.info("Started server process [%d]", os.getpid())
log.info("Application startup complete.")
if sys.argv[1] == "fail":
    try:
        raise RuntimeError("cannot reach postgresql://app:hunter2-pw@db.internal:5432/app")
    except RuntimeError:
        log.exception("Exception in ASGI application token=%s", os.environ["SECRET"])
log.info('127.0.0.1:5000 - "GET /health HTTP/1.1" 200 OK')
"""


def run_app(log: Path, mode: str, secret: str) -> None:
    """A real process whose output goes to `log`, as the development deploy's app does."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-c", APP_PROGRAM, mode],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SECRET": secret},
            check=True,
            timeout=60,
        )


def test_error_lines_after_the_offset_are_counted_and_quoted_without_secrets(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    secret = "s3cr3t-" + os.urandom(6).hex()
    run_app(log, "ok", secret)
    offset = log.stat().st_size
    run_app(log, "fail", secret)
    before = log_errors_check(SPEC, log, LogScanParams(), offset=0, secrets=[secret])
    after = log_errors_check(SPEC, log, LogScanParams(), offset=offset, secrets=[secret])
    assert before.status == after.status == Status.FAIL
    # "ERROR: ... Exception in ASGI application" and the traceback's first line
    assert after.observed["error_lines"] == 2
    assert after.evidence["bytes"][0] == offset
    text = json.dumps(after.model_dump(mode="json"))
    assert secret not in text and "hunter2-pw" not in text
    assert "Exception in ASGI application token=***" in after.explanation
    healthy = log_errors_check(SPEC, log, LogScanParams(), offset=log.stat().st_size)
    assert healthy.status == Status.INCONCLUSIVE  # nothing written since: no line to judge


def test_a_clean_log_passes_and_an_allowance_is_honoured(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    run_app(log, "ok", "unused-secret")
    clean = log_errors_check(SPEC, log, LogScanParams())
    assert clean.status == Status.PASS and clean.observed == {"error_lines": 0, "lines": 3}
    run_app(log, "fail", "unused-secret")
    allowed = log_errors_check(SPEC, log, LogScanParams(max_errors=2))
    assert allowed.status == Status.PASS and allowed.observed["error_lines"] == 2
    assert log_errors_check(SPEC, log, LogScanParams(max_errors=1)).status == Status.FAIL


def test_a_timestamp_window_skips_older_lines_and_keeps_their_continuations(tmp_path: Path) -> None:
    now = datetime.now().replace(microsecond=0)  # loggers write local time
    old, new = now - timedelta(hours=2), now - timedelta(minutes=1)
    log = tmp_path / "worker.log"
    log.write_text(
        "celery@host v5 banner line\n"
        f"[{old:%Y-%m-%d %H:%M:%S},001: ERROR/MainProcess] old failure\n"
        "Traceback (most recent call last):\n"
        f"[{new:%Y-%m-%d %H:%M:%S},002: INFO/MainProcess] Task ok succeeded\n"
        f"[{new:%Y-%m-%d %H:%M:%S},003: ERROR/MainProcess] new failure\n"
        "Traceback (most recent call last):\n",
        encoding="utf-8",
    )
    params = LogScanParams(timestamp_pattern=r"^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+):")
    since = datetime.now(UTC) - timedelta(minutes=30)
    scan = scan_log(log, params, since=since)
    # the banner before the first (old) timestamp is older still: left out with it
    assert (scan.lines, scan.errors, scan.undated) == (3, 2, 0)
    assert scan.quoted[0].endswith("new failure")
    everything = scan_log(log, params)  # no `since`: the whole file
    assert (everything.lines, everything.errors) == (6, 4)
    log.write_text("ERROR: a line nobody dated\nstarting\n", encoding="utf-8")
    undated = scan_log(log, params, since=since)  # cannot be dated: counted (fail closed)
    assert (undated.lines, undated.errors, undated.undated) == (2, 1, 2)


def test_a_truncated_log_is_read_from_its_start_and_a_missing_one_is_inconclusive(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("ERROR: boom\n", encoding="utf-8")
    scan = scan_log(log, LogScanParams(), offset=10_000)
    assert scan.errors == 1 and "shorter" in scan.note
    gone = log_errors_check(SPEC, tmp_path / "absent.log", LogScanParams())
    assert gone.status == Status.INCONCLUSIVE and "does not exist" in gone.explanation


def test_credential_shapes_are_masked_in_quotes() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"
    line = (
        f"ERROR auth {jwt} Authorization: Bearer abc123DEF456ghi789JKL "
        "AccountKey=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo= redis://:pw-9x8y7z@cache:6379/0"
    )
    out = scrub(line)
    for value in (
        jwt,
        "abc123DEF456ghi789JKL",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
        "pw-9x8y7z",
    ):
        assert value not in out
    assert out.startswith("ERROR auth ***")
    assert scrub("ERROR value=topsecretvalue", ["topsecretvalue"]) == "ERROR value=***"


def test_patterns_are_checked_when_the_parameters_are_read() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        LogScanParams(error_pattern="(unclosed")
    with pytest.raises(ValidationError, match="named group 'ts'"):
        LogScanParams(timestamp_pattern=r"^\[\d+")


def test_the_monitor_phase_reads_the_app_log_the_development_deploy_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = load("local").params
    secret = "tok-" + os.urandom(8).hex()
    monkeypatch.setenv(params.target.token.env, secret)
    skipped = app_log_check(params, tmp_path)
    assert skipped.status == Status.SKIP and "did not start the app" in skipped.explanation
    assert app_log_check(params, None).status == Status.SKIP
    log = tmp_path / "evidence" / "deploy" / "app.log"
    run_app(log, "ok", secret)
    assert app_log_check(params, tmp_path).status == Status.PASS
    run_app(log, "fail", secret)  # the app failed later, during verify or the load
    failed = app_log_check(params, tmp_path)
    assert failed.status == Status.FAIL and failed.id == "monitor.app-log.errors"
    assert failed.evidence["log"] == "evidence/deploy/app.log"
    assert secret not in json.dumps(failed.model_dump(mode="json"))  # the run's own token


def test_an_app_log_path_in_the_parameters_is_read_instead(tmp_path: Path) -> None:
    base = load("local").params
    log = tmp_path / "pixcrawler.log"
    monitor = base.monitor.model_copy(
        update={"app_log": base.monitor.app_log.model_copy(update={"path": str(log)})}
    )
    params = base.model_copy(update={"monitor": monitor})
    assert app_log_check(params, None).status == Status.INCONCLUSIVE  # configured, not there
    run_app(log, "fail", "unused-secret")
    assert app_log_check(params, None).status == Status.FAIL
