"""What the monitor phase says when a source is not there to read: no Azure App Service in
this environment (not applicable: SKIP, e.g. development on a developer's machine), or no
Application Insights workspace configured (the box cannot be proved: INCONCLUSIVE)."""

from __future__ import annotations

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.monitoring.params import MonitorParams

NO_AZURE = (
    "not applicable here: this environment has no Azure App Service (parameters key "
    "'azure'), so Azure Monitor has nothing to read"
)
NO_WORKSPACE = (
    "cannot look: monitor.logs.workspace_id is not set, so Application Insights "
    "(application logs, p95, error rate, exceptions) cannot be read"
)


def absent_source(
    check_id: str, title: str, params: MonitorParams, *, azure: bool, section: str | None = None
) -> CheckResult:
    """One result standing for every check of a source that is not there: SKIP without Azure,
    INCONCLUSIVE when Azure is there but the source is not configured."""
    return CheckResult(
        id=check_id,
        section=section or params.section,
        title=title,
        severity=Severity.BLOCKER,
        status=Status.INCONCLUSIVE if azure else Status.SKIP,
        explanation=NO_WORKSPACE if azure else NO_AZURE,
    )
