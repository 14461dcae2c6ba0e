"""On the rehearsal: the sandbox plays the sample releases (switched as a deploy does, through
`PUT /_sandbox/release`), the real load probe measures each, and the post-deployment phase's
baseline checks judge each run against the last GO one from the saved samples. Two healthy
releases compare as pass; the regressed release (slow route 400 ms) fails, the confidence
interval in the explanation. The judge's settings are local.yaml's."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.release import Release, put_release
from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.core.checks import CheckResult, Status
from runbook.core.evidence import write_manifest
from runbook.core.evidence_queries import earlier_runs
from runbook.core.verdict import judge
from runbook.governance.rejudge import rejudge
from runbook.phases.performance.params import PerformanceParams
from runbook.phases.performance.probe import run_load
from runbook.phases.performance.verdicts import load_checks
from runbook.phases.post_deployment.baseline import PostDeploymentParams, baseline_checks

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ROOT / "rehearsal/src/rehearsal/samples/releases"
SLOW, ME = "GET /api/v1/sandbox/slow", "GET /api/v1/auth/me"
TOKEN_ENV = "BASELINE_JUDGE_SANDBOX_TOKEN"


def local_post_deployment() -> PostDeploymentParams:
    """The post_deployment section as parameters/local.yaml (over _base.yaml) sets it."""
    merged: dict[str, object] = {}
    for name in ("_base.yaml", "local.yaml"):
        merged.update((yaml.safe_load((ROOT / "parameters" / name).read_text()) or {}).get(
            "post_deployment") or {})  # fmt: skip
    return PostDeploymentParams.model_validate(merged)


@pytest.fixture(scope="module")
def token() -> str:
    return "judge-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def sandbox(token: str) -> Iterator[SandboxHandle]:
    config = SandboxConfig(port=0, slow_route_ms=20, seed=5, rate_limit_per_minute=10_000_000)
    with start_sandbox(config, token, token_env=TOKEN_ENV) as handle:
        yield handle


def deployment(env_dir: Path, run_id: str, release: str, sandbox: SandboxHandle,
               token: str) -> dict[str, CheckResult]:  # fmt: skip
    """One rehearsal deployment: the release deployed, the load measured and saved, the
    post-deployment baseline checks, the manifest (verdict as the results judge it)."""
    spec = json.loads((RELEASES / release / "release.json").read_text())
    put_release(sandbox.url, Release.model_validate(spec))
    perf = PerformanceParams.model_validate({
        "routes": [{"path": "/api/v1/sandbox/slow", "auth": False}, {"path": "/api/v1/auth/me"}],
        "concurrency": 8, "workers": 2, "duration_s": 4, "warmup_s": 0.5, "window_s": 1,
        "timeout_s": 5,
    })  # fmt: skip
    run_dir = env_dir / run_id
    started = datetime.now(UTC).isoformat()
    load = run_load(perf, sandbox.url, {"Authorization": f"Bearer {token}"})
    load.save(run_dir / "evidence" / "performance")
    perf_results = [r.model_copy(update={"phase": "performance"}) for r in load_checks(load, perf)]
    post = baseline_checks(perf_results, local_post_deployment(),
                           earlier_runs(run_dir, "post-deployment"),
                           run_dir / "evidence" / "post-deployment", run_id=run_id)  # fmt: skip
    results = perf_results + [r.model_copy(update={"phase": "post-deployment"}) for r in post]
    verdict = judge(r for r in results if r.id.startswith(("perf.p95", "perf.error"))).verdict
    write_manifest(run_dir, {
        "run_id": run_id, "environment": "local", "verdict": verdict.value,
        "started_at": started, "finished_at": datetime.now(UTC).isoformat(),
        "parameters": {"environment": "local", "performance": perf.model_dump(mode="json"),
                       "target": {"name": "sandbox", "base_url": sandbox.url,
                                  "token": {"env": TOKEN_ENV}},
                       "post_deployment": local_post_deployment().model_dump(mode="json")},
        "phases": [{"name": "performance", "status": "completed"},
                   {"name": "post-deployment", "status": "completed"}],
        "results": [r.to_payload() for r in results],
    })  # fmt: skip
    return {r.id: r for r in post}


def test_healthy_releases_pass_and_the_regressed_release_fails_with_its_interval(
    tmp_path: Path, sandbox: SandboxHandle, token: str
) -> None:
    env_dir = tmp_path / "outputs" / "local"
    first = deployment(env_dir, "r1-1.0.0", "release-1.0.0", sandbox, token)
    assert first[f"post.judge.latency.{SLOW}"].status is Status.INCONCLUSIVE  # no baseline yet
    assert "no earlier run" in first[f"post.judge.latency.{SLOW}"].explanation

    second = deployment(env_dir, "r2-1.1.0", "release-1.1.0", sandbox, token)
    for route in (SLOW, ME):
        check = second[f"post.judge.latency.{route}"]
        assert check.status is Status.PASS, check.explanation
        assert "(baseline: run r1-1.0.0)" in check.explanation
    assert second["post.judge.error-rate"].status is Status.PASS
    assert second["post.baseline.degradation"].status is Status.PASS

    third = deployment(env_dir, "r3-regressed", "release-1.1.0-regressed", sandbox, token)
    slow = third[f"post.judge.latency.{SLOW}"]
    assert slow.status is Status.FAIL, slow.explanation
    assert slow.explanation.startswith(f"{SLOW}: latency rose ")
    assert "98 % CI +" in slow.explanation and "a real regression" in slow.explanation
    assert "(baseline: run r2-1.1.0)" in slow.explanation
    low, high = slow.observed["ci"]
    assert 300 < low <= high < 450  # the release sleeps 400 ms instead of 20
    assert third[f"post.judge.latency.{ME}"].status is Status.PASS
    degradation = third["post.baseline.degradation"]
    assert degradation.status is Status.FAIL and "98 % CI" in degradation.explanation

    fourth = deployment(env_dir, "r4-1.1.0", "release-1.1.0", sandbox, token)
    back = fourth[f"post.judge.latency.{SLOW}"]  # the regressed run was not GO: r2 is the baseline
    assert back.status is Status.PASS and "(baseline: run r2-1.1.0)" in back.explanation

    # rejudge: the regressed run against the first healthy one instead, from the saved samples
    again = rejudge(env_dir / "r3-regressed", ["post_deployment.judge.baseline_run=r1-1.0.0"])
    change = next(c for c in again.checks if c.id == f"post.judge.latency.{SLOW}")
    assert change.new_status == "fail" and "(baseline: run r1-1.0.0)" in change.new_explanation
    looser = rejudge(env_dir / "r2-1.1.0", ["post_deployment.judge.confidence=0.9"])
    assert any("(judge)" in s for s in looser.rejudged_sources)
    assert next(c for c in looser.checks if c.id == f"post.judge.latency.{ME}").new_status == "pass"
