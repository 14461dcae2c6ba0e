"""Builders of check results for the rollback, baseline and success tests.

Perf results are produced by the real `load_checks` over a sample frame built here (so the
default source paths are tested against the shapes the perf library really emits); the other
results are hand-made data, as earlier phases would record them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.performance.params import PerformanceParams, RouteSpec
from runbook.phases.performance.probe import LoadResult
from runbook.phases.performance.verdicts import load_checks

ROUTE = "GET /api/v1/projects/"


def result(id: str, status: Status = Status.PASS, observed: Any = None, *,
           severity: Severity = Severity.BLOCKER, phase: str | None = None,
           evidence: dict[str, Any] | None = None,
           explanation: str = "") -> CheckResult:  # fmt: skip
    return CheckResult(id=id, section="test", title=id, status=status, observed=observed,
                       severity=severity, phase=phase, evidence=evidence or {},
                       explanation=explanation or f"{id} {status.value}")  # fmt: skip


def perf_checks(latency_ms: float, error_rate: float, *, n: int = 2000,
                duration_s: float = 10.0) -> list[CheckResult]:  # fmt: skip
    """The perf phase's results for a run with this latency (±10 %) and share of 500s."""
    rng = np.random.default_rng(7)
    t = np.linspace(0, duration_s, n, endpoint=False)
    latency = latency_ms * rng.uniform(0.9, 1.1, n)
    failed = rng.random(n) < error_rate
    status = np.where(failed, 500, 200).astype(np.uint16)
    frame = pd.DataFrame({
        "t_s": t, "route": pd.Categorical([ROUTE] * n, categories=[ROUTE]),
        "method": "GET", "status": status, "ok": ~failed, "latency_ms": latency,
        "error": np.where(failed, "unexpected status 500", ""), "worker": np.int16(0),
    })  # fmt: skip
    load = LoadResult(
        frame=frame, base_url="http://127.0.0.1:1", routes=[ROUTE], concurrency=4, workers=1,
        warmup_s=0.0, duration_s=duration_s, window_s=1.0, rate_per_s=None,
        started_at="2025-01-01T00:00:00+00:00",
        probe={"workers": [{"pid": 1, "samples": n, "cpu_s": 1.0, "wall_s": 10.0,
                            "cpu_share": 0.1}]},
    )  # fmt: skip
    params = PerformanceParams(routes=[RouteSpec(path="/api/v1/projects/")], duration_s=duration_s,
                               warmup_s=0.0, window_s=1.0)  # fmt: skip
    return [r.model_copy(update={"phase": "performance"}) for r in load_checks(load, params)]


def smoke_checks(broken: str | None = None) -> list[CheckResult]:
    """Smoke results of the verify phase, one step failing if `broken` names it."""
    ids = ["smoke.health", "smoke.auth-me", "smoke.list-notifications"]
    out = [result(i, Status.FAIL if i == broken else Status.PASS, phase="verify") for i in ids]
    out.append(result("smoke.cleanup", Status.PASS, severity=Severity.WARNING, phase="verify"))
    return out


def healthy_run() -> list[CheckResult]:
    """A run where everything up to performance went well."""
    return [
        result("code.tests.backend", phase="pre-deployment"),
        result("code.lint", phase="pre-deployment"),
        result("deploy.zip_deploy", phase="deploy"),
        result("deploy.swap", phase="deploy"),
        result("deploy.zero_downtime", observed={"failed": 0}, phase="deploy"),
        result("deploy.record", observed={"sha256": "ab" * 32, "build_id": "ci-1"},
               phase="deploy"),
        *smoke_checks(),
        result("integration.jobs", phase="verify"),
        *perf_checks(latency_ms=50, error_rate=0.0),
        result("monitor.metrics.error-rate", observed={"overall": 0.001, "requests": 9000},
               phase="monitor"),
        result("monitor.logs.database-errors", observed={"failed": 0, "calls": 800},
               phase="monitor"),
        result("monitor.metrics.memory-slope", observed={"slope_mb_per_h": 1.5},
               phase="monitor"),
    ]  # fmt: skip
