"""Shared constants and parameters of the performance tests."""

from __future__ import annotations

from runbook.phases.performance.params import PerformanceParams

TOKEN_ENV = "PERF_TEST_SANDBOX_TOKEN"
SLOW = "/api/v1/sandbox/slow"
ME = "/api/v1/auth/me"


def short_params(**changes: object) -> PerformanceParams:
    """A short, low-concurrency run over the slow route and an authenticated route."""
    base: dict[str, object] = {
        "routes": [{"path": SLOW, "auth": False}, {"path": ME}],
        "concurrency": 4, "workers": 2, "duration_s": 1.5, "warmup_s": 0.3, "window_s": 0.5,
        "timeout_s": 3.0,
    }  # fmt: skip
    return PerformanceParams.model_validate({**base, **changes})
