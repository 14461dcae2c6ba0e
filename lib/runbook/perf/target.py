"""The performance checks against the runbook's target: what a notebook cell calls, with the
target's bearer token resolved in-process (never shown) and every value from parameters."""

from __future__ import annotations

from runbook.checks import CheckResult
from runbook.perf.params import PerformanceParams
from runbook.perf.probe import LoadResult, run_load
from runbook.perf.verdicts import database_time_check, memory_slope_check
from runbook.secrets import resolve
from runbook.target import TargetParams


def _headers(target: TargetParams, auth: bool) -> dict[str, str]:
    headers = dict(target.headers)
    if auth:
        headers["Authorization"] = f"Bearer {resolve(target.token)}"
    return headers


def run_target_load(params: PerformanceParams, target: TargetParams) -> LoadResult:
    """The load probe against the target (routes with auth get its bearer token)."""
    return run_load(params, target.base_url, _headers(target, any(r.auth for r in params.routes)))


def database_check(params: PerformanceParams, target: TargetParams) -> CheckResult:
    """Database query time from the target's detailed health, against the gate."""
    return database_time_check(
        target.base_url, params.detailed_health_path, headers=dict(target.headers),
        field=params.database_field, limit_ms=params.gates.database_ms,
        samples=params.database_samples, timeout_s=params.timeout_s,
    )


def memory_check(params: PerformanceParams, samples: object = None) -> CheckResult:
    """Memory slope over the run from the configured source (SKIP, saying why, without one)."""
    return memory_slope_check(
        samples, source=params.memory_source,  # type: ignore[arg-type]
        max_slope_mb_per_h=params.gates.memory_slope_mb_per_h,
        min_span_s=params.memory_min_span_s,
    )
