"""Judging saved series again (no services): gaps, no data, slope, re-judging with other lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from runbook.core.checks import Status
from runbook.phases.monitoring.metrics import (
    ROLES,
    SourceOutcome,
    judge_metrics,
    memory_slope_mb_per_h,
)
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams

AZURE = AzureParams(subscription_id="s", resource_group="rg", site="app")
START = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
WINDOW = (START, START + timedelta(minutes=10))


def _frame(n: int = 10, **columns: list[float]) -> pd.DataFrame:
    base = {
        "timestamp": [pd.Timestamp(START + timedelta(minutes=i)) for i in range(n)],
        "requests": [100.0] * n, "http5xx": [0.0] * n, "http4xx": [0.0] * n,
        "response_time_s": [0.05] * n, "cpu_time_s": [6.0] * n,
        "memory_bytes": [200.0 * 1024 * 1024] * n, "health_percent": [100.0] * n,
    }  # fmt: skip
    base.update(columns)
    return pd.DataFrame(base)


def _ok() -> dict[str, SourceOutcome]:
    return {r: SourceOutcome(r, r, "Total", "ok") for r in ROLES}


def _by_id(results: list) -> dict[str, Status]:
    return {r.id.split(".")[-1]: r.status for r in results}


def test_healthy_series_pass_every_metric_check() -> None:
    statuses = _by_id(judge_metrics(_frame(), _ok(), MonitorParams(), AZURE, WINDOW))
    assert statuses == {
        "error-rate": Status.PASS, "response-time": Status.PASS, "cpu": Status.PASS,
        "memory": Status.PASS, "memory-slope": Status.PASS, "health": Status.PASS,
    }  # fmt: skip


def test_consecutive_gaps_after_the_first_value_are_inconclusive_not_pass() -> None:
    memory = [200.0 * 1024 * 1024] * 4 + [np.nan] * 3 + [200.0 * 1024 * 1024] * 3
    frame = _frame(memory_bytes=memory)
    results = judge_metrics(frame, _ok(), MonitorParams(consecutive_error_limit=3), AZURE, WINDOW)
    memory_result = next(r for r in results if r.id == "monitor.metrics.memory")
    assert memory_result.status is Status.INCONCLUSIVE
    assert "3 consecutive intervals without a value" in memory_result.explanation
    # two gaps in a row stay under a limit of 3: judged on the values it has
    frame2 = _frame(memory_bytes=memory[:5] + memory[6:] + [memory[0]])
    again = judge_metrics(frame2, _ok(), MonitorParams(consecutive_error_limit=3), AZURE, WINDOW)
    assert _by_id(again)["memory"] is Status.PASS


def test_leading_missing_intervals_are_not_errors_but_no_data_is_inconclusive() -> None:
    cpu = [np.nan] * 6 + [6.0] * 4  # the source started answering late in the window
    assert _by_id(judge_metrics(_frame(cpu_time_s=cpu), _ok(), MonitorParams(), AZURE,
                                WINDOW))["cpu"] is Status.PASS  # fmt: skip
    none = judge_metrics(_frame(cpu_time_s=[np.nan] * 10), _ok(), MonitorParams(), AZURE, WINDOW)
    cpu_result = next(r for r in none if r.id == "monitor.metrics.cpu")
    assert cpu_result.status is Status.INCONCLUSIVE and "no cpu_time data" in cpu_result.explanation


def test_missing_response_time_matters_only_where_there_were_requests() -> None:
    requests = [100.0] * 3 + [0.0] * 5 + [100.0] * 2
    times = [0.05] * 3 + [np.nan] * 5 + [0.05] * 2
    results = judge_metrics(_frame(requests=requests, response_time_s=times), _ok(),
                            MonitorParams(), AZURE, WINDOW)  # fmt: skip
    assert _by_id(results)["response-time"] is Status.PASS


def test_a_bad_value_fails_and_is_named_while_a_source_error_is_inconclusive() -> None:
    frame = _frame(http5xx=[0.0] * 9 + [3.0])  # 3 % in the last interval
    results = judge_metrics(frame, _ok(), MonitorParams(), AZURE, WINDOW)
    error_rate = next(r for r in results if r.id == "monitor.metrics.error-rate")
    assert error_rate.status is Status.FAIL
    assert error_rate.observed["intervals_over_gate"] == 1
    assert error_rate.evidence["bad_intervals"] == [str(frame["timestamp"].iloc[-1])]

    sources = _ok()
    sources["http5xx"] = SourceOutcome(
        "http5xx", "Http5xx", "Total", "error", "throttled: throttled (HTTP 429) after retries"
    )
    broken = judge_metrics(frame, sources, MonitorParams(), AZURE, WINDOW)
    error_rate = next(r for r in broken if r.id == "monitor.metrics.error-rate")
    assert error_rate.status is Status.INCONCLUSIVE and "throttled" in error_rate.explanation


def test_memory_slope_is_judged_in_mib_per_hour() -> None:
    growing = [(200 + 10 * i) * 1024 * 1024.0 for i in range(10)]  # 10 MiB/min = 600 MiB/h
    frame = _frame(memory_bytes=growing)
    frame["memory_mb"] = frame["memory_bytes"] / 1024 / 1024
    assert round(memory_slope_mb_per_h(frame)) == 600
    results = judge_metrics(_frame(memory_bytes=growing), _ok(), MonitorParams(), AZURE, WINDOW)
    assert _by_id(results)["memory-slope"] is Status.FAIL


def test_saved_series_can_be_rejudged_with_other_lines() -> None:
    frame = _frame(cpu_time_s=[45.0] * 10)  # 75 % of one core
    assert _by_id(judge_metrics(frame, _ok(), MonitorParams(), AZURE, WINDOW))["cpu"] is (
        Status.FAIL
    )
    two_cores = MonitorParams.model_validate({"instance": {"cpu_cores": 2}})
    assert _by_id(judge_metrics(frame, _ok(), two_cores, AZURE, WINDOW))["cpu"] is Status.PASS
