"""§1.3 "No errors in application logs" from the app's own log file, read again in the monitor
phase (after verify and the load): by default the log a development deploy of this run wrote
(evidence/deploy/app.log); deployed environments have Application Insights instead
(`monitor.logs.exceptions`), so without an app log the check is SKIP, saying so."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from runbook.core.checks import CheckResult, Status
from runbook.core.logscan import LogCheckSpec, log_errors_check
from runbook.core.parameters import Parameters
from runbook.core.secret_refs import resolved_values
from runbook.phases.monitoring.clients import window_bounds
from runbook.phases.monitoring.params import MonitorParams

DEPLOY_LOG = Path("evidence") / "deploy" / "app.log"
APP_LOG = LogCheckSpec(
    "monitor.app-log.errors",
    "Deployment Steps §1.3 Monitor Development — No errors in application logs",
    "No errors in application logs (the app's own log)",
    "the app's log",
)


def app_log_check(
    params: Parameters, run_dir: Path | None, now: datetime | None = None
) -> CheckResult:
    """The app's log (`monitor.app_log.path`, else this run's evidence/deploy/app.log) has at
    most `max_errors` error lines: from its start, or over `monitor.window` when its lines are
    dated (`timestamp_pattern`). SKIP when no path is configured and this run started no app."""
    mp = params.monitor or MonitorParams()
    p = mp.app_log
    if p.path is not None:
        path, shown = Path(p.path), p.path
    elif run_dir is not None and (run_dir / DEPLOY_LOG).is_file():
        path, shown = run_dir / DEPLOY_LOG, DEPLOY_LOG.as_posix()
    else:
        return CheckResult(
            id=APP_LOG.id,
            section=APP_LOG.section,
            title=APP_LOG.title,
            severity=APP_LOG.severity,
            status=Status.SKIP,
            threshold={"max_error_lines": p.max_errors},
            explanation="no app log: this run did not start the app (not a development deploy) "
            "and monitor.app_log.path is not set; a deployed app's errors are read from "
            "Application Insights (monitor.logs.exceptions)",
        )
    since = window_bounds(mp, now)[0] if p.timestamp_pattern else None
    return log_errors_check(
        APP_LOG, path, p, since=since, secrets=resolved_values(params), shown_path=shown
    )
