"""The rollback decision: each "When to Rollback" line on its own flips it; missing evidence is
shown as not evaluated and never counts as clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from rollback_support import healthy_run, perf_checks, result, smoke_checks

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence import write_manifest
from runbook.core.parameters import ParameterError, load
from runbook.phases.monitoring.params import MonitorParams
from runbook.phases.rollback.decision import decide, previous_monitor_results
from runbook.phases.rollback.params import MonitorEvidence, RollbackParams


def _replace(results: list[CheckResult], *new: CheckResult) -> list[CheckResult]:
    ids = {r.id for r in new}
    return [r for r in results if r.id not in ids] + list(new)


def _without(results: list[CheckResult], prefix: str) -> list[CheckResult]:
    return [r for r in results if not r.id.startswith(prefix)]


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def test_a_healthy_run_needs_no_rollback() -> None:
    decision = decide(healthy_run(), RollbackParams())
    checks = _by_id(decision.checks())
    assert not decision.roll_back and not decision.inconclusive
    assert checks["rollback.decision"].status is Status.PASS
    assert {r.state for r in decision.criteria} == {"clear"}


@pytest.mark.parametrize(("key", "changed", "params", "number"), [
    ("error_rate", [result("monitor.metrics.error-rate", observed={"overall": 0.062})], {},
     "6.2 %"),
    ("p95_ms", perf_checks(latency_ms=1300, error_rate=0.0), {}, "ms > 1000 ms"),
    ("critical_functionality", smoke_checks(broken="smoke.auth-me"), {}, "smoke.auth-me fail"),
    ("database_connection", [result("monitor.logs.database-errors",
                                    observed={"failed": 3, "calls": 900})], {}, "3 > 0"),
    ("memory_leak", [result("monitor.metrics.memory-slope", observed={"slope_mb_per_h": 45.0})],
     {}, "45 MiB/h > 20 MiB/h"),
    ("security", [], {"criteria": {"security": {"vulnerability_discovered": True,
                                                "reported_by": "A. Sec", "reason": "CVE-2099-1"}}},
     "reported by A. Sec: CVE-2099-1"),
])  # fmt: skip
def test_each_line_on_its_own_flips_the_decision(key: str, changed: list[CheckResult],
                                                 params: dict, number: str) -> None:  # fmt: skip
    decision = decide(_replace(healthy_run(), *changed), RollbackParams.model_validate(params))
    checks = _by_id(decision.checks())

    assert decision.roll_back
    assert [r.key for r in decision.criteria if r.crossed] == [key]
    assert number in decision.reasons[0]
    assert checks["rollback.decision"].status is Status.FAIL
    assert checks["rollback.decision"].severity is Severity.BLOCKER
    assert checks[f"rollback.criterion.{key}"].status is Status.FAIL


def test_the_lines_are_strictly_above_their_limits() -> None:
    at_limit = _replace(healthy_run(),
                        result("monitor.metrics.error-rate", observed={"overall": 0.05}),
                        result("monitor.metrics.memory-slope",
                               observed={"slope_mb_per_h": 20.0}))  # fmt: skip
    assert not decide(at_limit, RollbackParams()).roll_back
    lower = RollbackParams.model_validate({"criteria": {"error_rate": {"limit": 0.04}}})
    assert decide(at_limit, lower).roll_back


def test_an_errored_smoke_step_is_broken_functionality_too() -> None:
    errored = result("smoke.health", Status.ERROR, explanation="connection refused")
    decision = decide(_replace(healthy_run(), errored), RollbackParams())
    assert (
        decision.roll_back and "connection refused" in decision.row("critical_functionality").detail
    )


def test_a_failing_database_health_result_crosses_the_database_line() -> None:
    failing = result("monitor.logs.database-errors", Status.FAIL,
                     explanation="connection refused by the database")  # fmt: skip
    runs = _without(healthy_run(), "monitor.logs.database")
    decision = decide([*runs, failing], RollbackParams())
    assert decision.roll_back
    assert "connection refused" in decision.row("database_connection").detail


def test_missing_key_evidence_makes_the_decision_inconclusive_never_a_pass() -> None:
    no_perf = _without(_without(healthy_run(), "perf."), "monitor.metrics.error-rate")
    decision = decide(no_perf, RollbackParams())
    checks = _by_id(decision.checks())

    assert not decision.roll_back and decision.inconclusive
    assert checks["rollback.decision"].status is Status.INCONCLUSIVE
    assert decision.row("error_rate").state == "not evaluated"
    assert checks["rollback.criterion.p95_ms"].status is Status.INCONCLUSIVE
    assert checks["rollback.criterion.p95_ms"].severity is Severity.BLOCKER


def test_an_optional_line_without_evidence_is_shown_but_does_not_block() -> None:
    decision = decide(_without(healthy_run(), "monitor.metrics.memory"), RollbackParams())
    checks = _by_id(decision.checks())
    assert not decision.roll_back and not decision.inconclusive
    memory = checks["rollback.criterion.memory_leak"]
    assert memory.status is Status.INCONCLUSIVE and memory.severity is Severity.WARNING
    assert "memory_leak" in checks["rollback.decision"].observed["not_evaluated"]


def test_numbers_of_results_that_could_not_measure_are_not_used() -> None:
    errored = [r.model_copy(update={"status": Status.ERROR}) if r.id.startswith("perf.") else r
               for r in perf_checks(latency_ms=1500, error_rate=0.2)]  # fmt: skip
    runs = [*_without(healthy_run(), "perf."), *errored]
    decision = decide(_without(runs, "monitor.metrics.error-rate"), RollbackParams())
    assert not decision.roll_back and decision.inconclusive
    assert "status error: nothing measured" in decision.row("p95_ms").detail


def test_sources_are_parameters() -> None:
    custom = RollbackParams.model_validate(
        {
            "criteria": {
                "error_rate": {
                    "sources": [{"id": "azure.metrics.http5xx", "path": "observed.share"}]
                }
            }
        }
    )
    runs = [*healthy_run(), result("azure.metrics.http5xx", observed={"share": 0.3})]
    decision = decide(runs, custom)
    assert decision.roll_back and "azure.metrics.http5xx" in decision.reasons[0]


def test_a_security_flag_needs_who_and_why() -> None:
    with pytest.raises(ValidationError, match="reported_by"):
        RollbackParams.model_validate(
            {"criteria": {"security": {"vulnerability_discovered": True}}}
        )


def _monitor_run(env_dir: Path, run_id: str, finished: datetime, error_rate: float) -> None:
    run_dir = env_dir / run_id
    run_dir.mkdir(parents=True)
    write_manifest(run_dir, {
        "run_id": run_id, "finished_at": finished.isoformat(),
        "phases": [{"name": "monitor", "status": "completed"}],
        "results": [result("monitor.metrics.error-rate", observed={"overall": error_rate},
                           phase="monitor").to_payload()],
    })  # fmt: skip


def test_monitor_evidence_of_an_earlier_run_is_used_and_named(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    _monitor_run(tmp_path, "run-old", now - timedelta(hours=100), 0.01)
    _monitor_run(tmp_path, "run-monitor", now - timedelta(hours=2), 0.09)
    found = previous_monitor_results(tmp_path / "run-now", MonitorEvidence())
    assert [r.observed["overall"] for r in found] == [0.09]

    runs = _without(healthy_run(), "monitor.")
    decision = decide(runs, RollbackParams(), monitor_results=found)
    assert decision.roll_back and "run run-monitor" in decision.reasons[0]
    # this run's own monitor result wins over an earlier run's
    own = decide(healthy_run(), RollbackParams(), monitor_results=found)
    assert not own.roll_back


def test_monitor_evidence_older_than_allowed_is_ignored(tmp_path: Path) -> None:
    _monitor_run(tmp_path, "run-monitor", datetime.now(UTC) - timedelta(hours=72), 0.09)
    this_run = tmp_path / "run-now"
    assert previous_monitor_results(this_run, MonitorEvidence(max_age_hours=48)) == []
    assert len(previous_monitor_results(this_run, MonitorEvidence(max_age_hours=96))) == 1
    assert previous_monitor_results(None, MonitorEvidence()) == []


@pytest.mark.parametrize("env", ["local", "development", "staging", "production"])
def test_a_memory_slope_the_monitor_accepts_never_orders_a_rollback(env: str) -> None:
    params = load(env).params
    monitor, rollback = params.monitor or MonitorParams(), params.rollback or RollbackParams()
    accepted = monitor.thresholds.memory_slope_mb_per_h * 0.99
    slope = result("monitor.metrics.memory-slope", observed={"slope_mb_per_h": accepted})
    decision = decide(_replace(healthy_run(), slope), rollback)
    assert decision.row("memory_leak").evaluated
    assert not decision.row("memory_leak").crossed, decision.row("memory_leak").detail


def test_a_rollback_line_stricter_than_its_gate_is_refused_naming_both_keys() -> None:
    with pytest.raises(ParameterError) as caught:
        load("local", ["rollback.criteria.memory_slope_mb_per_h.limit=50"])
    message = str(caught.value)
    assert "rollback.criteria.memory_slope_mb_per_h.limit (50)" in message
    assert "monitor.thresholds.memory_slope_mb_per_h (1000)" in message
    with pytest.raises(
        ParameterError,
        match=r"rollback.criteria.p95_ms.limit \(150\) is below "
        r"performance.gates.p95_ms \(200\)",
    ):
        load("local", ["rollback.criteria.p95_ms.limit=150"])
