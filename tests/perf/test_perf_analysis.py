"""Window statistics, the memory slope, the figures, the database timing and the parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from perf_support import short_params
from pydantic import ValidationError

from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.phases.performance.figures import error_rate_figure, latency_figure
from runbook.phases.performance.params import PerfGates, PerformanceParams
from runbook.phases.performance.probe import LoadResult
from runbook.phases.performance.stats import route_stats, window_stats
from runbook.phases.performance.verdicts import database_time_check, memory_slope_check


def hand_made() -> pd.DataFrame:
    """Window 0 of route a: latencies 1..100 ms, all ok, plus 25 failures; route b: 10 ms x 4
    in window 1; a warm-up sample that must be ignored."""
    rows = [(0.1 + i * 0.001, "a", float(i), True) for i in range(1, 101)]
    rows += [(0.5, "a", 5000.0, False)] * 25
    rows += [(1.2, "b", 10.0, True)] * 4
    rows += [(-0.5, "a", 99999.0, True)]  # before the measured period (t_s < warmup_s)
    frame = pd.DataFrame(rows, columns=["t_s", "route", "latency_ms", "ok"])
    frame["t_s"] += 1.0  # warm-up of 1 s
    return frame


def test_window_stats_known_percentiles_and_error_rates() -> None:
    table = window_stats(hand_made(), 1.0, warmup_s=1.0).set_index(["route", "window_start_s"])
    a0 = table.loc[("a", 0.0)]
    assert (a0["n"], a0["ok"], a0["errors"]) == (125, 100, 25)
    assert a0["error_rate"] == pytest.approx(0.2)
    assert a0["throughput_rps"] == pytest.approx(125.0)
    # numpy 'linear' percentiles of 1..100: failures' latencies do not count
    assert (a0["p50_ms"], a0["p95_ms"], a0["p99_ms"]) == pytest.approx((50.5, 95.05, 99.01))
    b1 = table.loc[("b", 1.0)]
    assert (b1["n"], b1["p95_ms"], b1["error_rate"]) == (4, 10.0, 0.0)
    assert table.loc[("b", 0.0)]["n"] == 0 and np.isnan(table.loc[("b", 0.0)]["p95_ms"])
    everything = table.loc[("(all)", 0.0)]
    assert everything["n"] == 125 and everything["p50_ms"] == pytest.approx(50.5)
    per_route = route_stats(hand_made(), warmup_s=1.0, duration_s=2.0)
    assert per_route.loc["(all)", "n"] == 129
    assert per_route.loc["(all)", "throughput_rps"] == pytest.approx(64.5)


def test_window_stats_match_numpy_on_random_samples() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    frame = pd.DataFrame({
        "t_s": rng.uniform(0, 20, n), "route": rng.choice(["x", "y", "z"], n),
        "latency_ms": rng.lognormal(3, 1.2, n), "ok": rng.random(n) > 0.1,
    })  # fmt: skip
    table = window_stats(frame, 4.0)
    for _, row in table.sample(12, random_state=1).iterrows():
        start = row["window_start_s"]
        pick = (frame["t_s"] >= start) & (frame["t_s"] < start + 4.0) & frame["ok"]
        if row["route"] != "(all)":
            pick &= frame["route"] == row["route"]
        expected = np.percentile(frame.loc[pick, "latency_ms"], [50, 95, 99])
        assert row[["p50_ms", "p95_ms", "p99_ms"]].to_numpy(float) == pytest.approx(expected)


def series(slope_mb_per_h: float, hours: float = 2.0, noise: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    t = np.arange(0, hours * 3600, 60.0)
    return pd.DataFrame(
        {"t_s": t, "memory_mb": 400 + slope_mb_per_h * t / 3600 + rng.normal(0, noise, t.size)}
    )


def test_memory_slope_rising_fails_flat_passes() -> None:
    rising = memory_slope_check(
        series(60.0), source="azure:MemoryWorkingSet", max_slope_mb_per_h=20
    )
    assert rising.status is Status.FAIL and rising.observed == pytest.approx(60, abs=2)
    flat = memory_slope_check(series(0.0), source="azure:MemoryWorkingSet", max_slope_mb_per_h=20)
    assert flat.status is Status.PASS and abs(flat.observed) < 2
    pairs = list(series(0.0).itertuples(index=False, name=None))
    assert memory_slope_check(pairs, max_slope_mb_per_h=20).status is Status.PASS


def test_memory_slope_short_series_and_no_source() -> None:
    short = memory_slope_check(series(60.0, hours=0.25), source="x", min_span_s=3600)
    assert short.status is Status.INCONCLUSIVE
    skipped = memory_slope_check(None, source=None)
    assert skipped.status is Status.SKIP and "memory_source" in skipped.explanation
    assert memory_slope_check(None, source="azure:x").status is Status.ERROR


def fake_result() -> LoadResult:
    frame = hand_made()
    frame["route"] = pd.Categorical(frame["route"], categories=["a", "b"])
    return LoadResult(
        frame=frame,
        base_url="http://x",
        routes=["a", "b"],
        concurrency=2,
        workers=1,
        warmup_s=1.0,
        duration_s=2.0,
        window_s=1.0,
        rate_per_s=None,
        started_at="2025-01-01T00:00:00Z",
    )


def horizontal_lines(fig) -> dict[float, str]:
    ax = fig.axes[0]
    return {
        float(line.get_ydata()[0]): line.get_label()
        for line in ax.lines
        if len(set(np.asarray(line.get_ydata(), float))) == 1
        and line.get_xdata()[0] == 0
        and line.get_xdata()[-1] == 1
    }


def test_figures_draw_threshold_lines() -> None:
    gates = PerfGates()
    latency = horizontal_lines(latency_figure(fake_result(), gates))
    assert "200 ms" in latency[200.0] and "1000 ms" in latency[1000.0]
    labels = {line.get_label() for line in latency_figure(fake_result(), gates).axes[0].lines}
    assert {"p50", "p95", "p99"} <= labels
    errors = horizontal_lines(error_rate_figure(fake_result(), gates))
    assert "1%" in errors[1.0] and "5%" in errors[5.0]
    custom = horizontal_lines(latency_figure(fake_result(), PerfGates(p95_ms=300)))
    assert 300.0 in custom


def test_database_time_check_against_sandbox(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str]
) -> None:
    path = "/api/v1/health/detailed"
    ok = database_time_check(perf_sandbox.url, path, headers=auth_headers, samples=3)
    assert ok.status is Status.PASS and 0 <= ok.observed < 100
    assert len(ok.evidence["reads"]) == 3
    strict = database_time_check(perf_sandbox.url, path, limit_ms=1e-9, samples=1)
    assert strict.status is Status.FAIL
    wrong = database_time_check(perf_sandbox.url, path, field="database.nope", samples=1)
    assert wrong.status is Status.INCONCLUSIVE
    missing = database_time_check(perf_sandbox.url, "/api/v1/nope", samples=1)
    assert missing.status is Status.ERROR and "404" in missing.explanation
    assert database_time_check(perf_sandbox.url, None).status is Status.SKIP


def test_database_time_check_unreachable_is_error() -> None:
    result = database_time_check(
        "http://127.0.0.1:9", "/api/v1/health/detailed", samples=1, timeout_s=1
    )
    assert result.status is Status.ERROR


def test_params_forbid_unknown_keys_and_duplicate_routes() -> None:
    assert short_params().gates.p95_ms == 200
    with pytest.raises(ValidationError):
        PerformanceParams.model_validate({"routes": [{"path": "/x"}], "concurency": 3})
    with pytest.raises(ValidationError, match="unique"):
        PerformanceParams.model_validate({"routes": [{"path": "/x"}, {"path": "/x"}]})
