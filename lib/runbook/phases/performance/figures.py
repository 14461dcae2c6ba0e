"""Figures a reviewer reads in a second: percentiles over time against the gate and rollback
lines, and error rate over time against 1 % and 5 %."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from runbook.core.plots import say_nothing_to_plot
from runbook.phases.performance.params import PerfGates, PerformanceParams
from runbook.phases.performance.probe import LoadResult
from runbook.phases.performance.stats import ALL_ROUTES, window_stats
from runbook.phases.performance.verdicts import SKIPPED_ROUTES

GATE_COLOUR, ROLLBACK_COLOUR = "#bf8700", "#cf222e"


def _gates(thresholds: PerfGates | PerformanceParams) -> PerfGates:
    return thresholds.gates if isinstance(thresholds, PerformanceParams) else thresholds


def _overall(result: LoadResult) -> pd.DataFrame:
    if not result.routes or result.measured.empty:
        return pd.DataFrame()
    table = window_stats(result.frame, result.window_s, warmup_s=result.warmup_s)
    return table[table["route"] == ALL_ROUTES]


def _empty_figure(result: LoadResult, what: str, height: float) -> Figure:
    """A figure that says why there is nothing to draw (never an exception)."""
    skipped = result.probe.get(SKIPPED_ROUTES) or {}
    why = (
        "; ".join(sorted(set(skipped.values())))
        if skipped and not result.routes
        else "; ".join(result.failures) or "no request was measured"
    )
    fig = Figure(figsize=(8, height), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(what, fontsize=10)
    say_nothing_to_plot(ax, why)
    return fig


def _frame_axes(ax: Axes, result: LoadResult, ylabel: str) -> None:
    ax.set_xlabel(f"seconds after warm-up ({result.window_s:g} s windows)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)


def latency_figure(result: LoadResult, thresholds: PerfGates | PerformanceParams) -> Figure:
    """p50/p95/p99 of all routes per window, with the p95 gate and the rollback line."""
    gates = _gates(thresholds)
    data = _overall(result)
    if data.empty:
        return _empty_figure(result, "Latency per window", 3.6)
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = data["window_start_s"]
    for column, style in (("p50_ms", ":"), ("p95_ms", "-"), ("p99_ms", "--")):
        ax.plot(x, data[column], style, marker=".", label=column.split("_")[0], color="#0969da")
    ax.axhline(gates.p95_ms, color=GATE_COLOUR, lw=2, label=f"gate: p95 < {gates.p95_ms:g} ms")
    ax.axhline(
        gates.rollback_p95_ms,
        color=ROLLBACK_COLOUR,
        lw=2,
        label=f"rollback: p95 > {gates.rollback_p95_ms:g} ms",
    )
    ax.set_yscale("log")
    worst = data["p95_ms"].max()
    summary = "no successful response" if pd.isna(worst) else f"worst window p95 {worst:.0f} ms"
    ax.set_title(f"Latency per window, {result.concurrency} connections — {summary}", fontsize=10)
    _frame_axes(ax, result, "latency (ms, log scale)")
    return fig


def error_rate_figure(result: LoadResult, thresholds: PerfGates | PerformanceParams) -> Figure:
    """Error rate of all routes per window (%), with the 1 % gate and the 5 % rollback line."""
    gates = _gates(thresholds)
    data = _overall(result)
    if data.empty:
        return _empty_figure(result, "Error rate per window", 3.0)
    fig = Figure(figsize=(8, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        data["window_start_s"],
        data["error_rate"] * 100,
        marker=".",
        color="#0969da",
        label="error rate",
    )
    ax.axhline(
        gates.error_rate * 100, color=GATE_COLOUR, lw=2, label=f"gate: < {gates.error_rate:.0%}"
    )
    ax.axhline(
        gates.rollback_error_rate * 100,
        color=ROLLBACK_COLOUR,
        lw=2,
        label=f"rollback: > {gates.rollback_error_rate:.0%}",
    )
    top = max(
        gates.rollback_error_rate * 100 * 1.5,
        float(data["error_rate"].max() * 110)
        if len(data) and data["error_rate"].notna().any()
        else 0.0,
    )
    ax.set_ylim(0, min(top, 100.0) or 1.0)
    ax.set_title("Error rate per window (non-expected status or transport error)", fontsize=10)
    _frame_axes(ax, result, "errors (%)")
    return fig
