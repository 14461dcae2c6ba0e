"""Success Criteria: GO, NO-GO, ROLLBACK REQUIRED and INCOMPLETE from a run's results."""

from __future__ import annotations

from pathlib import Path

from rollback_support import healthy_run, perf_checks, result, smoke_checks

from runbook.core.checks import CheckResult, Status
from runbook.core.verdict import Verdict
from runbook.phases.post_deployment.baseline import PostDeploymentParams, baseline_checks
from runbook.phases.rollback.decision import decide
from runbook.phases.rollback.params import RollbackParams
from runbook.phases.success.criteria import SuccessParams, success_verdict

CONFIRMED = {
    "successful_if": {"no_critical_bugs": {"reported": False, "confirmed_by": "release manager"}}
}
VERIFIED = [
    "rollback.initiated",
    "rollback.previous_version_deployed",
    "rollback.health",
    "rollback.functionality_restored",
    "rollback.metrics_normal",
]


def _whole_run(base: list[CheckResult], tmp_path: Path) -> list[CheckResult]:
    """Earlier phases' results, then the rollback decision and the post-deployment baseline."""
    decision = decide(base, RollbackParams()).checks()
    post = baseline_checks(base, PostDeploymentParams(), [], tmp_path)
    return [*base, *decision, *post]


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def _replace(results: list[CheckResult], *new: CheckResult) -> list[CheckResult]:
    ids = {r.id for r in new}
    return [r for r in results if r.id not in ids] + list(new)


def test_a_healthy_deployment_is_go(tmp_path: Path) -> None:
    verdict = success_verdict(_whole_run(healthy_run(), tmp_path),
                              SuccessParams.model_validate(CONFIRMED))  # fmt: skip
    checks = _by_id(verdict.checks())

    assert verdict.verdict is Verdict.GO, verdict.reasons
    assert checks["success.verdict"].observed == "GO"
    assert checks["success.verdict"].status is Status.PASS
    assert {c.status for c in checks.values()} == {Status.PASS}
    assert "perf.p95" in checks["success.response_times"].explanation  # first deployment
    assert checks["success.no_critical_bugs"].explanation.endswith("release manager")


def test_a_failed_test_is_no_go(tmp_path: Path) -> None:
    run = _replace(healthy_run(), result("code.tests.backend", Status.FAIL,
                                         explanation="2 tests failed"))  # fmt: skip
    verdict = success_verdict(_whole_run(run, tmp_path), SuccessParams.model_validate(CONFIRMED))
    assert verdict.verdict is Verdict.NO_GO
    assert any("All tests pass" in r and "2 tests failed" in r for r in verdict.reasons)
    assert _by_id(verdict.checks())["success.all_tests_pass"].status is Status.FAIL


def test_an_error_rate_between_1_and_5_percent_is_no_go_not_rollback(tmp_path: Path) -> None:
    run = _replace(healthy_run(), *perf_checks(latency_ms=50, error_rate=0.03),
                   result("monitor.metrics.error-rate", observed={"overall": 0.02}))  # fmt: skip
    verdict = success_verdict(_whole_run(run, tmp_path), SuccessParams.model_validate(CONFIRMED))
    assert verdict.verdict is Verdict.NO_GO
    assert _by_id(verdict.checks())["success.error_rate"].status is Status.FAIL


def test_a_performance_degradation_is_no_go(tmp_path: Path) -> None:
    run = [*healthy_run(), result("post.baseline.degradation", Status.FAIL,
                                  explanation="p95_ms 100 → 130 (+30% worse)")]  # fmt: skip
    verdict = success_verdict([*run, *decide(run, RollbackParams()).checks()],
                              SuccessParams.model_validate(CONFIRMED))  # fmt: skip
    assert verdict.verdict is Verdict.NO_GO
    assert _by_id(verdict.checks())["success.failed.performance_degradation"].status is Status.FAIL


def test_broken_functionality_is_rollback_required_and_says_it_was_not_rolled_back(
    tmp_path: Path,
) -> None:
    run = _replace(healthy_run(), *smoke_checks(broken="smoke.list-notifications"))
    verdict = success_verdict(_whole_run(run, tmp_path), SuccessParams.model_validate(CONFIRMED))
    checks = _by_id(verdict.checks())

    assert verdict.verdict is Verdict.ROLLBACK_REQUIRED
    assert checks["success.verdict"].observed == "ROLLBACK REQUIRED"
    assert checks["success.failed.critical_functionality"].status is Status.FAIL
    assert checks["success.failed.rollback_required"].status is Status.FAIL
    assert any("NOT been executed" in r for r in verdict.reasons)


def test_a_verified_rollback_still_leaves_the_deployment_failed(tmp_path: Path) -> None:
    run = _replace(healthy_run(), *smoke_checks(broken="smoke.list-notifications"))
    executed = [result(i, phase="rollback") for i in VERIFIED]
    verdict = success_verdict([*_whole_run(run, tmp_path), *executed],
                              SuccessParams.model_validate(CONFIRMED))  # fmt: skip
    assert verdict.verdict is Verdict.ROLLBACK_REQUIRED
    assert verdict.rollback["verified"]
    assert any("executed and verified" in r and "deployment failed" in r for r in verdict.reasons)

    unverified = _replace(executed, result("rollback.health", Status.FAIL, phase="rollback"))
    again = success_verdict([*_whole_run(run, tmp_path), *unverified],
                            SuccessParams.model_validate(CONFIRMED))  # fmt: skip
    assert again.verdict is Verdict.ROLLBACK_REQUIRED
    assert any("NOT verified: rollback.health fail" in r for r in again.reasons)


def test_without_a_rollback_phase_its_lines_are_computed_here(tmp_path: Path) -> None:
    run = _replace(healthy_run(), *perf_checks(latency_ms=50, error_rate=0.08))
    verdict = success_verdict(run, SuccessParams.model_validate(CONFIRMED))
    checks = _by_id(verdict.checks())
    assert verdict.verdict is Verdict.ROLLBACK_REQUIRED
    assert "computed here" in checks["success.failed.error_rate"].explanation


def test_an_unconfirmed_critical_bug_line_keeps_it_incomplete(tmp_path: Path) -> None:
    verdict = success_verdict(_whole_run(healthy_run(), tmp_path), SuccessParams())
    checks = _by_id(verdict.checks())
    assert verdict.verdict is Verdict.INCOMPLETE
    assert checks["success.no_critical_bugs"].status is Status.PENDING_SIGN_OFF
    assert checks["success.verdict"].status is Status.INCONCLUSIVE

    reported = SuccessParams.model_validate(
        {
            "successful_if": {
                "no_critical_bugs": {
                    "reported": True,
                    "confirmed_by": "support",
                    "note": "uploads lost",
                }
            }
        }
    )
    assert success_verdict(_whole_run(healthy_run(), tmp_path), reported).verdict is Verdict.NO_GO


def test_missing_evidence_is_incomplete_unless_the_line_is_declared_optional(
    tmp_path: Path,
) -> None:
    no_monitor = [r for r in healthy_run() if not r.id.startswith("monitor.")]
    run = _whole_run(no_monitor, tmp_path)
    verdict = success_verdict(run, SuccessParams.model_validate(CONFIRMED))
    assert verdict.verdict is Verdict.INCOMPLETE
    assert any(r.startswith("Monitoring shows healthy metrics: missing") for r in verdict.reasons)
    assert any(r.startswith("Memory leaks detected") for r in verdict.reasons)

    optional = SuccessParams.model_validate({**CONFIRMED,
        "successful_if": {**CONFIRMED["successful_if"], "monitoring_healthy": {"required": False}},
        "failed_if": {"memory_leaks": {"required": False},
                      "database_connection": {"required": False}}})  # fmt: skip
    relaxed = success_verdict(run, optional)
    assert relaxed.verdict is Verdict.GO, relaxed.reasons
    assert _by_id(relaxed.checks())["success.monitoring_healthy"].status is Status.SKIP


def test_any_other_failed_blocker_of_the_run_is_no_go(tmp_path: Path) -> None:
    run = [*healthy_run(), result("azure.appsettings.production", Status.FAIL,
                                  explanation="DEBUG is 'true'")]  # fmt: skip
    verdict = success_verdict(_whole_run(run, tmp_path), SuccessParams.model_validate(CONFIRMED))
    assert verdict.verdict is Verdict.NO_GO
    assert any("DEBUG is 'true'" in r for r in verdict.reasons)


def test_a_settled_inconclusive_blocker_holds_its_line_an_unsettled_one_does_not(
    tmp_path: Path,
) -> None:
    from runbook.core.checks import Severity
    from runbook.governance.settlement import (
        SettlementEntry,
        SettlementParams,
        apply_settlements,
        evidence_sha256,
    )

    run = _whole_run(healthy_run(), tmp_path)
    undecided = _by_id(run)["post.baseline.degradation"].model_copy(
        update={"status": Status.INCONCLUSIVE, "severity": Severity.BLOCKER,
                "explanation": "perhaps degraded: p95 +24 %, 98 % CI +12 to +31 %"}
    )  # fmt: skip
    run = _replace(run, undecided)
    params = SuccessParams.model_validate(CONFIRMED)
    assert success_verdict(run, params).verdict is Verdict.INCOMPLETE
    settled = apply_settlements(run, SettlementParams(settled=[SettlementEntry(
        check=undecided.id, evidence_sha256=evidence_sha256(undecided), by="Ada Lovelace",
        role="tech-lead", note="accepted for this release")]))  # fmt: skip
    assert success_verdict(settled, params).verdict is Verdict.GO
