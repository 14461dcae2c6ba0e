"""§3.5 Extended Monitoring proved from the evidence store: the deploying run checks its schedule
against the checklist's cadence and writes it (monitor.schedule.planned); later monitor runs read
the environment's manifests and chain (written here as the orchestrator writes them, with the
run times a week of scheduled runs would have) and judge each stage's cadence so far
(monitor.schedule.kept.<stage>)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook.core.checklist.catalogue import load_catalogue
from runbook.core.checks import CheckResult, Status
from runbook.core.evidence import write_manifest
from runbook.core.evidence_queries import earlier_runs
from runbook.core.parameters import load
from runbook.phases.monitoring.params import MonitorParams
from runbook.phases.monitoring.schedule import (
    SCHEDULE_FILE,
    kept_checks,
    planned_checks,
    schedule_kept,
    schedule_planned,
)

DEPLOYED = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
DAY1, DAY23, DAY47 = (
    "monitor.schedule.kept.day-1-hourly-checks",
    "monitor.schedule.kept.day-2-3-every-4-hours",
    "monitor.schedule.kept.day-4-7-daily-checks",
)


def _finish(
    env_dir: Path, run_id: str, started: datetime, phases: list[str], results: list[CheckResult]
) -> None:
    run_dir = env_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "started_at": started.isoformat(),
            "finished_at": (started + timedelta(minutes=5)).isoformat(),
            "verdict": "GO",
            "phases": [{"name": p, "status": "completed"} for p in phases],
            "results": [r.to_payload() for r in results],
        },
    )


def _deploy_run(env_dir: Path) -> CheckResult:
    """A production run that deployed at DEPLOYED and planned the schedule."""
    planned = schedule_planned(MonitorParams(), "production", DEPLOYED, env_dir / "r0" / "ev")
    assert planned is not None
    _finish(env_dir, "r0", DEPLOYED, ["deploy", "monitor"], [planned])
    return planned


def _monitor_runs(env_dir: Path, hours: list[float]) -> None:
    for i, h in enumerate(hours, start=1):
        _finish(env_dir, f"m{i:03d}", DEPLOYED + timedelta(hours=h), ["monitor"], [])


def _kept(env_dir: Path, at_h: float, params: MonitorParams | None = None) -> dict[str, Status]:
    now = DEPLOYED + timedelta(hours=at_h)
    results = schedule_kept(
        params or MonitorParams(),
        "production",
        [],
        earlier_runs(env_dir / "now", "deploy"),
        earlier_runs(env_dir / "now", "monitor"),
        now,
    )
    return {r.id: r for r in results}  # type: ignore[misc]


def test_the_deploying_run_plans_the_checklist_cadence_and_writes_it(tmp_path: Path) -> None:
    planned = _deploy_run(tmp_path)
    assert planned.status is Status.PASS and planned.id == "monitor.schedule.planned"
    assert planned.observed["runs"] == 24 + 12 + 4
    assert planned.evidence["deployed_at"] == DEPLOYED.isoformat()
    text = (tmp_path / "r0" / "ev" / SCHEDULE_FILE).read_text()
    assert 'cron: "0 3-23 3 3 *"' in text and "monitor.window=PT4H" in text


def test_a_schedule_less_often_than_the_checklist_fails_naming_the_stage() -> None:
    slack = MonitorParams.model_validate(
        {
            "schedule": [
                {"label": "Day 1", "start_h": 0, "end_h": 24, "every_h": 2},
                {"label": "Rest", "start_h": 24, "end_h": 168, "every_h": 4},
            ]
        }
    )
    result = schedule_planned(slack, "production", DEPLOYED)
    assert result is not None and result.status is Status.FAIL
    assert "Day 1: Hourly checks" in result.explanation
    assert "Day 2-3" not in result.explanation


def test_nothing_deployed_plans_nothing_and_staging_has_no_extended_monitoring() -> None:
    skipped = schedule_planned(MonitorParams(), "production", None)
    assert skipped is not None and skipped.status is Status.SKIP
    assert schedule_planned(MonitorParams(), "staging", DEPLOYED) is None
    assert schedule_kept(MonitorParams(), "development", [], [], []) == []


def test_runs_every_hour_keep_day_one_so_far_and_later_stages_wait(tmp_path: Path) -> None:
    _deploy_run(tmp_path)
    _monitor_runs(tmp_path, [1.1, 2.0, 3.05, 4.1, 5.0])
    kept = _kept(tmp_path, 6.1)
    assert kept[DAY1].status is Status.PASS and "kept so far" in kept[DAY1].explanation
    assert kept[DAY1].observed["runs_in_stage"] == 7  # the deploying run, five more, this one
    assert kept[DAY23].status is Status.SKIP and kept[DAY47].status is Status.SKIP


def test_a_missed_hourly_run_fails_day_one_naming_the_gap(tmp_path: Path) -> None:
    _deploy_run(tmp_path)
    _monitor_runs(tmp_path, [1.0, 2.0, 5.0])  # the 3 h and 4 h runs never happened
    kept = _kept(tmp_path, 6.0)
    assert kept[DAY1].status is Status.FAIL
    assert "2026-03-03T04:00+00:00 → 2026-03-03T07:00+00:00 (3.0 h)" in kept[DAY1].explanation


def test_the_tolerance_is_a_parameter(tmp_path: Path) -> None:
    _deploy_run(tmp_path)
    _monitor_runs(tmp_path, [1.0, 2.4])  # 1.4 h apart
    assert _kept(tmp_path, 3.0)[DAY1].status is Status.FAIL  # default: 1 h + 15 min
    loose = MonitorParams.model_validate({"schedule_check": {"tolerance": "PT30M"}})
    assert _kept(tmp_path, 3.0, loose)[DAY1].status is Status.PASS


def test_a_whole_week_kept_proves_every_stage(tmp_path: Path) -> None:
    _deploy_run(tmp_path)
    hours = [*range(1, 25), *range(28, 73, 4), *range(96, 169, 24)]
    _monitor_runs(tmp_path, [float(h) for h in hours])
    kept = _kept(tmp_path, 170)
    assert {k: v.status for k, v in kept.items()} == {
        DAY1: Status.PASS,
        DAY23: Status.PASS,
        DAY47: Status.PASS,
    }
    assert all(v.explanation.startswith("kept:") for v in kept.values())


def test_a_late_daily_run_fails_days_four_to_seven_only(tmp_path: Path) -> None:
    _deploy_run(tmp_path)
    hours = [*range(1, 25), *range(28, 73, 4), 96, 150, 168]
    _monitor_runs(tmp_path, [float(h) for h in hours])
    kept = _kept(tmp_path, 169)
    assert kept[DAY1].status is Status.PASS and kept[DAY23].status is Status.PASS
    assert kept[DAY47].status is Status.FAIL and "(54.0 h)" in kept[DAY47].explanation


def test_without_a_planned_deployment_the_cadence_is_inconclusive(tmp_path: Path) -> None:
    _monitor_runs(tmp_path, [1.0, 2.0])
    kept = _kept(tmp_path, 3.0)
    assert {v.status for v in kept.values()} == {Status.INCONCLUSIVE}


def test_the_notebook_lines_read_the_run_parameters_and_the_store(tmp_path: Path) -> None:
    params = load("local").params
    planned = planned_checks(params, datetime.now(UTC) - timedelta(minutes=10), tmp_path / "e")
    assert [r.status for r in planned] == [Status.PASS]
    kept = {r.id: r for r in kept_checks(params, planned, tmp_path / "local" / "run-1")}
    assert kept[DAY1].status is Status.PASS and kept[DAY23].status is Status.SKIP


@pytest.mark.parametrize(
    "box",
    [
        "day-1-hourly-checks",
        "day-2-3-every-4-hours",
        "day-4-7-daily-checks",
        "week-2-normal-monitoring",
    ],
)
def test_each_box_names_what_proves_it(box: str) -> None:
    mapped = load_catalogue().box(f"steps-3.5/{box}")
    assert mapped.unproved is None and "monitor.schedule.planned" in mapped.checks
