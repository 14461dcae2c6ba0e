"""Post-Deployment Tasks §4 Performance Baseline: built from the perf (and monitor) results,
written to a JSON file, compared with the previous deployment's baseline found in its manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rollback_support import perf_checks, result

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence import write_manifest
from runbook.core.evidence_queries import earlier_runs
from runbook.phases.post_deployment.baseline import PostDeploymentParams, baseline_checks

PARAMS = PostDeploymentParams()


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def _finish_run(env_dir: Path, run_id: str, checks: list[CheckResult], verdict: str) -> None:
    """Write a finished run's manifest, as the orchestrator does."""
    run_dir = env_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(run_dir, {
        "run_id": run_id, "finished_at": datetime.now(UTC).isoformat(), "verdict": verdict,
        "phases": [{"name": "post-deployment", "status": "completed"}],
        "results": [c.to_payload() for c in checks],
    })  # fmt: skip


def _deployment(env_dir: Path, run_id: str, perf: list[CheckResult], *,
                verdict: str = "GO") -> dict[str, CheckResult]:  # fmt: skip
    """One run's post-deployment phase against the earlier runs, then its manifest."""
    earlier = earlier_runs(env_dir / run_id, "post-deployment")
    checks = baseline_checks(perf, PARAMS, earlier, env_dir / run_id / "evidence", run_id=run_id)
    _finish_run(env_dir, run_id, checks, verdict)
    return _by_id(checks)


def test_first_deployment_documents_the_baseline_and_skips_the_comparison(tmp_path: Path) -> None:
    runs = [
        *perf_checks(latency_ms=100, error_rate=0.0),
        result("monitor.metrics.cpu", observed={"worst_interval": 60.0, "mean": 35.0}),
        result("deploy.record", observed={"build_id": "ci-7", "sha256": "ab" * 32}),
    ]
    checks = _by_id(baseline_checks(runs, PARAMS, [], tmp_path, run_id="r1"))

    documented = checks["post.baseline.documented"]
    assert documented.status is Status.PASS
    assert 100 <= documented.observed["p95_ms"] <= 110
    assert documented.observed["cpu_percent"] == 35.0
    assert documented.observed["throughput_rps"] == 200.0
    assert documented.observed["memory_percent"] is None  # absent, and said so
    assert "memory_percent" in documented.explanation
    saved = json.loads((tmp_path / "performance-baseline.json").read_text())
    assert saved["baseline"]["metrics"] == documented.observed
    assert saved["baseline"]["deployment"]["build_id"] == "ci-7"
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.SKIP and "first deployment" in degradation.explanation
    thresholds = checks["post.baseline.thresholds"]
    assert thresholds.status is Status.PASS and thresholds.severity is Severity.WARNING
    p95 = documented.observed["p95_ms"]
    assert thresholds.observed["p95_ms"] == -(-p95 * 1.5 // 10) * 10  # × 1.5, rounded up to 10
    # the §1–§3 tasks are sign-off items (tests/governance/test_one_signoff_per_box.py)
    assert not [c for c in checks.values() if c.id.startswith("post.signoff.")]


def test_a_p95_degradation_over_20_percent_fails(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0))
    checks = _deployment(tmp_path, "r2", perf_checks(latency_ms=130, error_rate=0.0))
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.FAIL
    assert "p95_ms" in degradation.explanation and "+30% worse" in degradation.explanation
    assert degradation.evidence["previous_run"]["run_id"] == "r1"


def test_a_degradation_within_20_percent_passes(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0))
    checks = _deployment(tmp_path, "r2", perf_checks(latency_ms=115, error_rate=0.0))
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.PASS, degradation.explanation
    assert 0.1 < degradation.observed["p95_ms"] < 0.2


def test_a_throughput_drop_over_20_percent_fails(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0, n=2000))
    checks = _deployment(tmp_path, "r2", perf_checks(latency_ms=100, error_rate=0.0, n=1500))
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.FAIL and "throughput_rps" in degradation.explanation


def test_an_improvement_is_documented(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0))
    checks = _deployment(tmp_path, "r2", perf_checks(latency_ms=60, error_rate=0.0))
    assert checks["post.baseline.degradation"].status is Status.PASS
    improvements = checks["post.baseline.improvements"]
    assert "p95_ms" in improvements.observed and "better" in improvements.explanation


def test_a_rolled_back_deployment_never_becomes_the_baseline(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0))
    _deployment(tmp_path, "r2", perf_checks(latency_ms=400, error_rate=0.0),
                verdict="ROLLBACK REQUIRED")  # fmt: skip
    checks = _deployment(tmp_path, "r3", perf_checks(latency_ms=110, error_rate=0.0))
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.PASS  # compared with r1, not with the slow r2
    assert degradation.evidence["previous_run"]["run_id"] == "r1"
    assert degradation.evidence["previous_run"]["passed_over"][0]["run_id"] == "r2"


def test_without_perf_results_there_is_no_baseline_to_trust(tmp_path: Path) -> None:
    checks = _by_id(baseline_checks([result("smoke.health")], PARAMS, [], tmp_path))
    assert checks["post.baseline.documented"].status is Status.INCONCLUSIVE
    assert checks["post.baseline.thresholds"].status is Status.SKIP


def test_the_limit_is_a_parameter(tmp_path: Path) -> None:
    _deployment(tmp_path, "r1", perf_checks(latency_ms=100, error_rate=0.0))
    earlier = earlier_runs(tmp_path / "r2", "post-deployment")
    strict = PostDeploymentParams(degradation_limit=0.05)
    checks = _by_id(baseline_checks(perf_checks(latency_ms=115, error_rate=0.0), strict, earlier,
                                    tmp_path / "r2"))  # fmt: skip
    assert checks["post.baseline.degradation"].status is Status.FAIL


def test_without_a_load_test_the_monitor_results_give_the_baseline(tmp_path: Path) -> None:
    monitor = [
        result("monitor.logs.p95", observed={"p50_ms": 40.0, "p95_ms": 120.0, "p99_ms": 300.0}),
        result("monitor.logs.error-rate", observed={"error_rate": 0.002, "failed": 4}),
        result("monitor.metrics.memory", observed={"worst_interval": 61.0, "mean": 55.0}),
    ]
    documented = _by_id(baseline_checks(monitor, PARAMS, [], tmp_path))["post.baseline.documented"]
    assert documented.status is Status.PASS
    assert documented.observed["p95_ms"] == 120.0 and documented.observed["error_rate"] == 0.002
    assert documented.observed["memory_percent"] == 55.0
    assert documented.observed["throughput_rps"] is None
    assert documented.evidence["baseline"]["sources"]["p95_ms"]["id"] == "monitor.logs.p95"
