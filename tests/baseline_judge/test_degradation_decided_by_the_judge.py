"""'Performance degradation > 20 %' asks the judge whether a change is real: runs saved as the
performance phase saves them (raw samples under evidence/performance, hashed by the manifest),
then the post-deployment baseline checks of the next run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from runbook.core.checks import CheckResult, Status
from runbook.core.evidence import write_manifest
from runbook.core.evidence_queries import earlier_runs
from runbook.phases.performance.params import PerformanceParams, RouteSpec
from runbook.phases.performance.probe import SAMPLES_FILE, LoadResult
from runbook.phases.performance.verdicts import load_checks
from runbook.phases.post_deployment.baseline import PostDeploymentParams, baseline_checks

ROUTE = "GET /api/v1/projects/"
PARAMS = PostDeploymentParams()


def load(latency: np.ndarray) -> LoadResult:
    """A load run over one route with these latencies (all answered 200)."""
    n = latency.size
    frame = pd.DataFrame({
        "t_s": np.linspace(0, 10, n, endpoint=False),
        "route": pd.Categorical([ROUTE] * n, categories=[ROUTE]), "method": "GET",
        "path": "/api/v1/projects/", "status": np.full(n, 200, dtype=np.uint16),
        "ok": np.ones(n, dtype=bool), "latency_ms": latency, "error": "", "worker": np.int16(0),
    })  # fmt: skip
    return LoadResult(
        frame=frame, base_url="http://127.0.0.1:1", routes=[ROUTE], concurrency=4, workers=1,
        warmup_s=0.0, duration_s=10.0, window_s=1.0, rate_per_s=None,
        started_at="2026-01-01T00:00:00+00:00",
        probe={"workers": [{"pid": 1, "samples": n, "cpu_s": 1.0, "wall_s": 10.0,
                            "cpu_share": 0.1}]},
    )  # fmt: skip


def deployment(env_dir: Path, run_id: str, latency: np.ndarray,
               verdict: str = "GO") -> dict[str, CheckResult]:  # fmt: skip
    run_dir = env_dir / run_id
    result = load(latency)
    result.save(run_dir / "evidence" / "performance")
    params = PerformanceParams(routes=[RouteSpec(path="/api/v1/projects/")], duration_s=10.0,
                               warmup_s=0.0, window_s=1.0)  # fmt: skip
    perf = [r.model_copy(update={"phase": "performance"}) for r in load_checks(result, params)]
    post = baseline_checks(perf, PARAMS, earlier_runs(run_dir, "post-deployment"),
                           run_dir / "evidence" / "post-deployment", run_id=run_id)  # fmt: skip
    write_manifest(run_dir, {
        "run_id": run_id, "verdict": verdict, "finished_at": datetime.now(UTC).isoformat(),
        "phases": [{"name": "post-deployment", "status": "completed"}],
        "results": [r.to_payload() for r in perf + post],
    })  # fmt: skip
    return {r.id: r for r in post}


def lognormal(seed: int, n: int, median: float = 100.0, sigma: float = 0.3) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median), sigma, n)


def test_a_real_50_percent_slowdown_fails_with_its_interval(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 1500))
    check = deployment(tmp_path, "r2", lognormal(2, 1500) * 1.5)["post.baseline.degradation"]
    assert check.status is Status.FAIL
    assert check.explanation.startswith(f"degraded: {ROUTE}: latency rose ")
    assert "98 % CI +" in check.explanation and "(20% of the baseline median" in check.explanation


def test_a_p95_rise_from_a_few_slow_tail_requests_is_judged_noise(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 1500))
    tail = lognormal(2, 1500)
    tail[np.argsort(tail)[-120:]] *= 1.8  # the slowest 8 % slower still: p95 rises > 20 %
    check = deployment(tmp_path, "r2", tail)["post.baseline.degradation"]
    assert check.observed["p95_ms"] > 0.2  # the fixed comparison alone would fail it
    assert check.status is Status.PASS, check.explanation
    assert check.explanation.startswith("no real degradation beyond 20% of run r1")
    assert "judged noise: p95_ms" in check.explanation


def test_a_degradation_the_interval_cannot_settle_goes_to_a_person(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 60))
    check = deployment(tmp_path, "r2", lognormal(2, 60) * 1.25)["post.baseline.degradation"]
    assert check.status is Status.INCONCLUSIVE, check.explanation
    assert check.explanation.startswith("perhaps degraded, a person decides: p95_ms ")
    assert "straddling the tolerance" in check.explanation


def test_altered_baseline_samples_are_never_used(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 1500))
    samples = tmp_path / "r1" / "evidence" / "performance" / SAMPLES_FILE
    samples.write_bytes(samples.read_bytes() + b"\0")
    checks = deployment(tmp_path, "r2", lognormal(2, 1500) * 1.5)
    judged = checks[f"post.judge.latency.{ROUTE}"]
    assert judged.status is Status.INCONCLUSIVE
    passed_over = judged.evidence["baseline"]["passed_over"][0]
    assert (
        passed_over["run_id"] == "r1"
        and "does not match its manifest's sha256" in (passed_over["why"])
    )
    # without samples the checklist's fixed comparison decides, as it states it
    degradation = checks["post.baseline.degradation"]
    assert degradation.status is Status.FAIL
    assert degradation.explanation.startswith("degraded: p95_ms ") and "% worse)" in (
        degradation.explanation
    )


def test_the_last_n_go_runs_are_pooled_and_other_verdicts_passed_over(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 500))
    deployment(tmp_path, "r2", lognormal(2, 500))
    deployment(tmp_path, "r3", lognormal(3, 500) * 2, verdict="NO-GO")
    pooled = PARAMS.model_copy(update={"judge": PARAMS.judge.model_copy(
        update={"baseline_runs": 2})})  # fmt: skip
    run_dir = tmp_path / "r4"
    load(lognormal(4, 500)).save(run_dir / "evidence" / "performance")
    earlier = earlier_runs(run_dir, "post-deployment")
    found = baseline_checks([], pooled, earlier, run_dir / "evidence" / "post-deployment")
    checks = {c.id: c for c in found}
    judged = checks[f"post.judge.latency.{ROUTE}"]
    assert judged.status is Status.PASS
    assert judged.evidence["baseline"]["runs"] == ["r2", "r1"]
    assert judged.evidence["judgement"]["n_baseline"] == 1000
    assert judged.evidence["baseline"]["passed_over"] == [{"run_id": "r3", "why": "verdict NO-GO"}]


def test_unreadable_samples_of_this_run_are_inconclusive_not_a_crash(tmp_path: Path) -> None:
    deployment(tmp_path, "r1", lognormal(1, 500))
    run_dir = tmp_path / "r2"
    load(lognormal(2, 500)).save(run_dir / "evidence" / "performance")
    (run_dir / "evidence" / "performance" / SAMPLES_FILE).write_bytes(b"not gzip")
    earlier = earlier_runs(run_dir, "post-deployment")
    found = baseline_checks([], PARAMS, earlier, run_dir / "evidence" / "post-deployment")
    judged = {c.id: c for c in found}["post.judge.latency"]
    assert judged.status is Status.INCONCLUSIVE
    assert judged.explanation.startswith("this run's load samples cannot be read: ")
