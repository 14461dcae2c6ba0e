"""§3.5 Extended Monitoring as CI schedule entries: GitHub Actions `on: schedule` blocks anchored
at the deployment time, each with the window its runs look back over (equal to its cadence, so
the runs cover the week without gaps or overlap).

And proved: the run that deploys checks its schedule against the checklist's cadence and writes
it as evidence (`monitor.schedule.planned`); every later monitor run reads the evidence store
(the deploy runs' and monitor runs' manifests) and judges whether the runs since the deploy
kept each stage's cadence so far (`monitor.schedule.kept.<stage>`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult, Status
from runbook.phases.monitoring.params import (
    MonitorParams,
    ScheduleCheckParams,
    ScheduleStage,
    default_schedule,
    iso_duration,
)


def run_times(params: MonitorParams, deployed_at: datetime) -> list[tuple[str, datetime, str]]:
    """(stage label, run time UTC, window) of every scheduled check, in order."""
    anchor = _utc(deployed_at).replace(second=0, microsecond=0)
    out = []
    for stage in params.schedule:
        hours = stage.start_h + stage.every_h
        while hours <= stage.end_h:
            out.append(
                (
                    stage.label,
                    anchor + timedelta(hours=hours),
                    iso_duration(timedelta(hours=stage.every_h)),
                )
            )
            hours += stage.every_h
    return out


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("deployed_at must carry a time zone (e.g. 2025-01-31T14:05:00+00:00)")
    return value.astimezone(UTC)


def _hours(values: list[int]) -> str:
    """Hours as a cron field: ranges where consecutive (0-5,9,13-23)."""
    parts, start = [], None
    ordered = sorted(set(values))
    for i, h in enumerate(ordered):
        start = h if start is None else start
        if i + 1 == len(ordered) or ordered[i + 1] != h + 1:
            parts.append(str(start) if start == h else f"{start}-{h}")
            start = None
    return ",".join(parts)


def schedule_entries(env: str, params: MonitorParams, deployed_at: datetime) -> list[str]:
    """One GitHub Actions `on: schedule` block per §3.5 stage, anchored at `deployed_at`."""
    times = run_times(params, deployed_at)
    anchor = _utc(deployed_at)
    blocks = []
    for stage in params.schedule:
        mine = [(t, w) for label, t, w in times if label == stage.label]
        if not mine:
            continue
        window = mine[0][1]
        by_day: dict[tuple[int, int], list[int]] = {}
        for t, _ in mine:
            by_day.setdefault((t.month, t.day), []).append(t.hour)
        minute = mine[0][0].minute
        crons = [f'    - cron: "{minute} {_hours(hours)} {day} {month} *"'
                 for (month, day), hours in by_day.items()]  # fmt: skip
        command = params.schedule_command.format(env=env, window=window)
        blocks.append("\n".join([
            f"# Deployment Steps §3.5 Extended Monitoring — {stage.label} "
            f"({len(mine)} run(s), each looking back {window})",
            f"# deployed {anchor.isoformat()}; first run {mine[0][0].isoformat()}, last "
            f"{mine[-1][0].isoformat()}; cron is yearly: remove this block after the last run",
            f"# run: {command}",
            "on:",
            "  schedule:",
            *crons,
        ]))  # fmt: skip
    return blocks


# -- §3.5 proved: the plan written at the deploy, the cadence kept by the later monitor runs ------
PLANNED_ID = "monitor.schedule.planned"
KEPT_PREFIX = "monitor.schedule.kept."
SECTION_35 = "Deployment Steps §3.5 Extended Monitoring (First Week)"
SCHEDULE_FILE = "monitor-schedule.txt"
_BOX = "steps-3.5/day-1-hourly-checks"  # the catalogue says where §3.5 applies


def schedule_settings(params: MonitorParams) -> ScheduleCheckParams:
    """`monitor.schedule_check`: how the §3.5 cadence is judged."""
    return params.schedule_check


def applies(env: str) -> bool:
    """Whether §3.5 is this environment's to prove (the catalogue's not_applicable)."""
    from runbook.core.checklist.catalogue import NotApplicable, load_catalogue

    return not isinstance(load_catalogue().box(_BOX).mapping_for(env), NotApplicable)


def stage_key(label: str) -> str:
    """'Day 1: Hourly checks' -> 'day-1-hourly-checks' (the kept result's id suffix)."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def uncovered(planned: list[ScheduleStage], checklist: list[ScheduleStage]) -> list[str]:
    """Checklist stages some hour of which no planned stage checks at least as often."""
    out = []
    for need in checklist:
        for hour in range(need.start_h, need.end_h):
            ok = any(s.start_h <= hour < s.end_h and s.every_h <= need.every_h for s in planned)
            if not ok:
                out.append(
                    f"{need.label} (hour {hour} after the deploy: nothing checks at least "
                    f"every {need.every_h} h)"
                )
                break
    return out


def schedule_planned(
    params: MonitorParams, env: str, deployed_at: datetime | None, evidence_dir: Path | None = None
) -> CheckResult | None:
    """monitor.schedule.planned: the environment's §3.5 schedule checks at least as often as
    the checklist says (day 1 hourly, days 2–3 every 4 h, days 4–7 daily, then normal
    monitoring), anchored at the deploy's start; the schedule (run times, CI entries) is the
    evidence later monitor runs are judged against. None where §3.5 does not apply."""
    if not applies(env):
        return None
    common: dict[str, Any] = {
        "id": PLANNED_ID,
        "section": SECTION_35,
        "title": "Extended monitoring scheduled: "
        "day 1 hourly, days 2-3 every 4 hours, days 4-7 daily, then normal monitoring",
        "severity": schedule_settings(params).severity,
        "threshold": {"checklist": [s.model_dump() for s in default_schedule()]},
    }
    if deployed_at is None:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation="nothing was deployed in this run: no schedule to plan",
        )
    stages = [s.model_dump() for s in params.schedule]
    missing = uncovered(params.schedule, default_schedule())
    times = run_times(params, deployed_at) if params.schedule else []
    entries = schedule_entries(env, params, deployed_at) if params.schedule else []
    evidence = {
        "deployed_at": _utc(deployed_at).isoformat(),
        "stages": stages,
        "run_times": [
            {"stage": label, "at": at.isoformat(), "window": window} for label, at, window in times
        ],
        "ci_schedule": entries,
    }
    if evidence_dir is not None:
        folder = Path(evidence_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SCHEDULE_FILE).write_text("\n\n".join(entries) + "\n")
        evidence["file"] = str(folder / SCHEDULE_FILE)
    observed = {
        "stages": [
            f"{s.label}: every {s.every_h} h, hours {s.start_h}-{s.end_h}" for s in params.schedule
        ],
        "runs": len(times),
    }
    if missing:
        return CheckResult(
            **common,
            status=Status.FAIL,
            observed=observed,
            evidence=evidence,
            explanation="monitor.schedule checks less often than the checklist: "
            + "; ".join(missing),
        )
    last = max(s.end_h for s in params.schedule)
    return CheckResult(
        **common,
        status=Status.PASS,
        observed=observed,
        evidence=evidence,
        explanation=f"{len(times)} monitor runs scheduled from "
        f"{_utc(deployed_at).isoformat(timespec='minutes')} to hour "
        f"{last}; after that, normal monitoring (the alert rules)",
    )


def _planned_in(results: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    for payload in results:
        if payload.get("id") == PLANNED_ID and payload.get("status") == Status.PASS.value:
            return dict(payload.get("evidence") or {})
    return None


def latest_plan(
    current: Iterable[CheckResult], deployments: Iterable[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    """The newest passed schedule plan: this run's own, else the newest earlier deploy run's
    (manifests newest first); and the run it came from."""
    own = _planned_in(r.to_payload() for r in current)
    if own is not None:
        return own, "this run"
    for manifest in deployments:
        found = _planned_in(manifest.get("results", []))
        if found is not None:
            return found, str(manifest.get("run_id"))
    return None, None


def monitor_times(monitor_runs: Iterable[dict[str, Any]], since: datetime) -> list[datetime]:
    """When each earlier monitor run started (its manifest's started_at), from `since` on."""
    times = []
    for manifest in monitor_runs:
        try:
            at = datetime.fromisoformat(str(manifest.get("started_at")))
        except ValueError:
            continue
        if at.tzinfo is not None and at >= since:
            times.append(at.astimezone(UTC))
    return sorted(times)


def schedule_kept(
    params: MonitorParams,
    env: str,
    current: Iterable[CheckResult],
    deployments: Iterable[dict[str, Any]],
    monitor_runs: Iterable[dict[str, Any]],
    now: datetime | None = None,
) -> list[CheckResult]:
    """monitor.schedule.kept.<stage>: since the newest planned deployment, the monitor runs
    (earlier ones from the evidence store, and this one now) came no further apart than the
    stage's cadence plus the tolerance, as far as the stage has gone. A stage not begun yet is
    SKIP; no planned deployment is INCONCLUSIVE; nothing where §3.5 does not apply."""
    if not applies(env):
        return []
    settings = schedule_settings(params)
    now = _utc(now or datetime.now(UTC))
    plan, source = latest_plan(current, deployments)
    if plan is None:
        return [
            CheckResult(
                id=KEPT_PREFIX + stage_key(s.label),
                section=SECTION_35,
                title=s.label,
                severity=settings.severity,
                status=Status.INCONCLUSIVE,
                explanation="no deployment with a planned §3.5 schedule (monitor.schedule.planned) "
                "in this environment's evidence: nothing to keep the cadence of",
            )
            for s in params.schedule
        ]
    deployed = datetime.fromisoformat(plan["deployed_at"]).astimezone(UTC)
    stages = [ScheduleStage.model_validate(s) for s in plan.get("stages", [])]
    runs = [t for t in monitor_times(monitor_runs, deployed) if t < now] + [now]
    points = [deployed, *runs]
    return [_stage_kept(stage, deployed, points, now, settings, source) for stage in stages]


def _stage_kept(
    stage: ScheduleStage,
    deployed: datetime,
    points: list[datetime],
    now: datetime,
    settings: ScheduleCheckParams,
    source: str | None,
) -> CheckResult:
    begins, ends = (
        deployed + timedelta(hours=stage.start_h),
        deployed + timedelta(hours=stage.end_h),
    )
    allowed = timedelta(hours=stage.every_h) + settings.tolerance_delta
    common: dict[str, Any] = {
        "id": KEPT_PREFIX + stage_key(stage.label),
        "section": SECTION_35,
        "title": stage.label,
        "severity": settings.severity,
        "threshold": {
            "every_h": stage.every_h,
            "tolerance": iso_duration(settings.tolerance_delta)
            if settings.tolerance_delta.total_seconds()
            else "PT0S",
        },
    }
    if now < begins:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation=f"begins {begins.isoformat(timespec='minutes')}: nothing to keep yet",
        )
    pairs = [(a, b) for a, b in pairwise(points) if begins <= a < ends]  # the stage in force
    gaps = [(a, b) for a, b in pairs if b - a > allowed]
    in_stage = [p for p in points[1:] if begins <= p < ends]
    longest = max((b - a for a, b in pairs), default=timedelta(0))
    observed = {
        "runs_in_stage": len(in_stage),
        "longest_gap_h": round(longest.total_seconds() / 3600, 2),
        "deployed_at": deployed.isoformat(),
    }
    evidence = {
        "plan_from": source,
        "monitor_runs": [p.isoformat() for p in points[1:]],
        "stage": stage.model_dump(),
    }
    if gaps:
        text = "; ".join(
            f"{a.isoformat(timespec='minutes')} → {b.isoformat(timespec='minutes')}"
            f" ({(b - a).total_seconds() / 3600:.1f} h)"
            for a, b in gaps[:5]
        )
        return CheckResult(
            **common,
            status=Status.FAIL,
            observed=observed,
            evidence=evidence,
            explanation=f"cadence missed (every {stage.every_h} h, allowed "
            f"{allowed.total_seconds() / 3600:g} h between runs): " + text,
        )
    so_far = "kept" if now >= ends else "kept so far"
    return CheckResult(
        **common,
        status=Status.PASS,
        observed=observed,
        evidence=evidence,
        explanation=f"{so_far}: {len(in_stage)} monitor run(s) in the stage, "
        f"never more than {allowed.total_seconds() / 3600:g} h apart",
    )


def planned_checks(
    params: Any, deployed_at: datetime | None, evidence_dir: Path | None = None
) -> list[CheckResult]:
    """`schedule_planned` for a run's parameters (nothing without a monitor section or where
    §3.5 does not apply): the deploy notebook's one line."""
    monitor = getattr(params, "monitor", None)
    if monitor is None:
        return []
    found = schedule_planned(monitor, params.environment, deployed_at, evidence_dir)
    return [found] if found is not None else []


def kept_checks(
    params: Any,
    prior: Iterable[CheckResult],
    run_dir: Path | str | None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """`schedule_kept` for a run's parameters, reading this environment's earlier deploy and
    monitor runs from the evidence store beside `run_dir`: the monitor notebook's one line."""
    from runbook.core.evidence_queries import earlier_runs

    monitor = getattr(params, "monitor", None)
    if monitor is None:
        return []
    return schedule_kept(
        monitor,
        params.environment,
        prior,
        earlier_runs(run_dir, "deploy"),
        earlier_runs(run_dir, "monitor"),
        now,
    )
