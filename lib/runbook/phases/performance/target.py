"""The performance checks against the runbook's target: what a notebook cell calls, with the
target's bearer token resolved in-process (never shown) and every value from parameters.

Without the test user's token, routes with `auth: true` are not loaded: the unauthenticated
routes run, and each skipped route's p95 is INCONCLUSIVE naming the missing reference."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from runbook.core.checks import CheckResult
from runbook.core.secret_refs import resolve
from runbook.core.target import TargetParams
from runbook.phases.performance.params import PerformanceParams
from runbook.phases.performance.probe import LoadResult, _empty_frame, run_load
from runbook.phases.performance.verdicts import (
    SKIPPED_ROUTES,
    database_time_check,
    memory_slope_check,
)
from runbook.phases.verify.smoke import missing_token

if TYPE_CHECKING:
    from runbook.phases.monitoring.database.params import DatabaseParams


def _headers(target: TargetParams, auth: bool) -> dict[str, str]:
    headers = dict(target.headers)
    if auth:
        headers["Authorization"] = f"Bearer {resolve(target.token)}"
    return headers


def run_target_load(
    params: PerformanceParams, target: TargetParams, database: DatabaseParams | None = None
) -> LoadResult:
    """The load probe against the target (routes with auth get its bearer token; without a
    token they are left out and recorded as skipped, with the reason). With a `database`
    section its connection pool is read every `pool_stability.interval_s` meanwhile; the
    readings ride in `probe["database_pool"]` (database.pool_stability_check)."""
    if database is None:
        return _target_load(params, target)
    from runbook.phases.monitoring.database.pool_window import PROBE_KEY, sample_pool

    with sample_pool(database, warmup_s=params.warmup_s) as series:
        result = _target_load(params, target)
    if series is not None:
        result.probe[PROBE_KEY] = series.model_dump(mode="json")
    return result


def _target_load(params: PerformanceParams, target: TargetParams) -> LoadResult:
    needs_token = [r for r in params.routes if r.auth]
    no_token = missing_token(target.token) if needs_token else None
    if no_token is None:
        return run_load(params, target.base_url, _headers(target, bool(needs_token)))
    skipped = {r.label: no_token for r in needs_token}
    runnable = [r for r in params.routes if not r.auth]
    if not runnable:
        return LoadResult(
            frame=_empty_frame([]), base_url=target.base_url.rstrip("/"), routes=[],
            concurrency=params.concurrency, workers=0, warmup_s=params.warmup_s,
            duration_s=params.duration_s, window_s=params.window_s,
            rate_per_s=params.rate_per_s,
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            probe={SKIPPED_ROUTES: skipped},
        )  # fmt: skip
    result = run_load(
        params.model_copy(update={"routes": runnable}), target.base_url, _headers(target, False)
    )
    result.probe[SKIPPED_ROUTES] = skipped
    return result


def database_check(params: PerformanceParams, target: TargetParams) -> CheckResult:
    """Database query time from the target's detailed health, against the gate; a database the
    target reports unhealthy fails, quoting the target's reason."""
    return database_time_check(
        target.base_url,
        params.detailed_health_path,
        headers=dict(target.headers),
        field=params.database_field,
        limit_ms=params.gates.database_ms,
        samples=params.database_samples,
        timeout_s=params.timeout_s,
        status_field=params.database_status_field,
        unhealthy_values=params.database_unhealthy_values,
        reason_fields=params.database_reason_fields,
    )


def memory_check(params: PerformanceParams, samples: object = None) -> CheckResult:
    """Memory slope over the run from the configured source (SKIP, saying why, without one)."""
    return memory_slope_check(
        samples,
        source=params.memory_source,
        max_slope_mb_per_h=params.gates.memory_slope_mb_per_h,
        min_span_s=params.memory_min_span_s,
    )
