"""Deployment Steps §3.2 "Deployment started at scheduled time": the moment the deploy phase
starts deploying, compared with the scheduled window (`deploy.window: {start, end}`, ISO 8601
with a time zone).

The window is a parameter, so it is part of the plan a person approves (`runbook plan`, then
`runbook approve`): approving the plan approves its window. Outside the window the deploy is
refused before anything changes (`enforce`, default on), as change-freeze windows are. An
environment that requires a window (`window_required`, production) and has none is
INCONCLUSIVE, never a pass; one that does not require it records nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.results import deploy_result

KEY = "scheduled-window"
TITLE = "Deployment started at scheduled time"
SECTION = "Deployment Steps §3.2 Deploy to Production"


def window_check(params: DeployParams, started_at: datetime) -> CheckResult | None:
    """deploy.scheduled-window: PASS when `started_at` lies in [start, end), FAIL outside,
    INCONCLUSIVE when a window is required but none is given; None when none is asked for."""
    window = params.window
    if window is None and not params.window_required:
        return None
    started = started_at.astimezone(UTC)
    observed = {"started_at": started.isoformat(timespec="seconds")}
    if window is None:
        return deploy_result(
            params,
            KEY,
            TITLE,
            Status.INCONCLUSIVE,
            section=SECTION,
            observed=observed,
            threshold={"window": None},
            explanation="no deployment window is scheduled (deploy.window: {start, end}), so "
            "nothing says whether this start was the scheduled one",
        )
    threshold = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    evidence = {"window": window.model_dump(mode="json"), "enforced": params.window_enforce}
    inside = window.start <= started < window.end
    if inside:
        return deploy_result(
            params,
            KEY,
            TITLE,
            Status.PASS,
            section=SECTION,
            observed=observed,
            threshold=threshold,
            evidence=evidence,
            explanation=f"started {_fmt(started)}, inside the scheduled window "
            f"{_fmt(window.start)} – {_fmt(window.end)}"
            + (f" ({window.note})" if window.note else ""),
        )
    when = "before" if started < window.start else "after"
    refused = "; the deploy was refused, nothing was changed" if params.window_enforce else ""
    return deploy_result(
        params,
        KEY,
        TITLE,
        Status.FAIL,
        section=SECTION,
        observed=observed,
        threshold=threshold,
        evidence=evidence,
        explanation=f"started {_fmt(started)}, {when} the scheduled window "
        f"{_fmt(window.start)} – {_fmt(window.end)}{refused}",
    )


def refuses(result: CheckResult, params: DeployParams) -> bool:
    """True when the deploy must not go on: started outside an enforced window."""
    return result.status is Status.FAIL and params.window_enforce


def _fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
