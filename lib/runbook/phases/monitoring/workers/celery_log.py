"""§1.3 "No errors in Celery worker logs" from the worker's log file: the error lines dated
within `celery.window_s` (Celery's `[date time,ms: LEVEL/Process]` prefix; traceback lines
belong to the record above), counted against `celery.log.max_errors` and quoted with the run's
secrets masked. Where the worker's log file is not known (a deployed worker) the check is SKIP.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.core.checks import CheckResult, Status
from runbook.core.logscan import LogCheckSpec, log_errors_check
from runbook.core.secret_refs import resolved_values
from runbook.phases.monitoring.workers.check_specs import CheckSpec
from runbook.phases.monitoring.workers.params import WorkersParams

SECTION = "Deployment Steps §1.3 Monitor Development — No errors in Celery worker logs"
WORKER_LOG = CheckSpec("celery.worker_log", SECTION, "No errors in Celery worker logs")


def celery_log_check(params: WorkersParams, now: datetime | None = None) -> CheckResult:
    """PASS: at most `celery.log.max_errors` error lines in the worker's log over the last
    `celery.window_s`; FAIL: more, the first few quoted; SKIP: no 'celery.log' configured;
    INCONCLUSIVE: the log (or the variable naming it) is missing, or it has no line."""
    celery = params.celery
    if celery is None:
        return WORKER_LOG.skip("no 'celery' section in this environment's parameters")
    log = celery.log
    if log is None:
        return WORKER_LOG.skip(
            "no 'celery.log' in the parameters: the worker's log file is not "
            "known here (a deployed worker's errors are in Application "
            "Insights)"
        )
    if log.path_env is not None:
        value = os.environ.get(log.path_env)
        if not value:
            return WORKER_LOG.result(
                Status.INCONCLUSIVE,
                f"${log.path_env}, which should name the worker's log file, is not set in this run",
                threshold={"max_error_lines": log.max_errors},
            )
        path = Path(value)
    else:
        path = Path(str(log.path))
    since = (now or datetime.now(UTC)) - timedelta(seconds=celery.window_s)
    spec = LogCheckSpec(
        WORKER_LOG.id,
        WORKER_LOG.section,
        WORKER_LOG.title,
        "the Celery worker's log",
        WORKER_LOG.severity,
    )
    return log_errors_check(spec, path, log, since=since, secrets=resolved_values(params))
