"""Each monitored series against its threshold lines (gate, warning, critical)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from runbook.phases.monitoring.params import LogThresholds, MonitorParams

GATE, WARNING, CRITICAL, SERIES = "#1a7f37", "#bf8700", "#cf222e", "#0969da"


def _figure(
    x: pd.Series, series: dict[str, pd.Series], lines: list[tuple[float, str, str]],
    title: str, ylabel: str,
) -> Figure:  # fmt: skip
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.add_subplot()
    styles = ["-", "--", ":"]
    for i, (label, values) in enumerate(series.items()):
        ax.plot(x, values, styles[i % 3], marker=".", color=SERIES, label=label)
    for value, colour, label in lines:
        ax.axhline(value, color=colour, lw=1.6, label=label)
    if not any(v.notna().any() for v in series.values()):
        ax.text(
            0.5, 0.5, "no data in the window", transform=ax.transAxes, ha="center", color=CRITICAL
        )
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("interval start (UTC)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return fig


def metric_figures(frame: pd.DataFrame, params: MonitorParams) -> dict[str, Figure]:
    """error_rate, response_time, cpu, memory: the judged metric series with their lines."""
    t = params.thresholds
    x = pd.to_datetime(frame["timestamp"], utc=True) if len(frame) else pd.Series(dtype="object")
    return {
        "error_rate": _figure(
            x, {"Http5xx / Requests": frame["error_rate"] * 100},
            [(t.error_rate * 100, GATE, f"gate < {t.error_rate:.0%}"),
             (t.error_rate_critical * 100, CRITICAL, f"critical > {t.error_rate_critical:.0%}")],
            "Error rate per interval (Azure Monitor)", "errors (%)",
        ),
        "response_time": _figure(
            x, {"HttpResponseTime (average)": frame["response_time_ms"]},
            [(t.response_time_ms, GATE, f"normal < {t.response_time_ms:g} ms"),
             (t.response_time_warning_ms, WARNING, f"warning > {t.response_time_warning_ms:g} ms")],
            "Response time per interval (average, not a percentile)", "ms",
        ),
        "cpu": _figure(
            x, {"CPU (CpuTime / interval / cores)": frame["cpu_percent"]},
            [(t.cpu_percent, GATE, f"gate < {t.cpu_percent:g}%"),
             (t.cpu_warning_percent, WARNING, f"warning > {t.cpu_warning_percent:g}%")],
            "CPU usage per interval", "CPU (%)",
        ),
        "memory": _figure(
            x, {"MemoryWorkingSet": frame["memory_percent"]},
            [(t.memory_warning_percent, WARNING, f"warning > {t.memory_warning_percent:g}%"),
             (t.memory_critical_percent, CRITICAL, f"critical > {t.memory_critical_percent:g}%")],
            f"Memory per interval (of {params.instance.memory_mb:g} MiB)", "memory (%)",
        ),
    }  # fmt: skip


def log_figures(per_bin: pd.DataFrame, thresholds: LogThresholds) -> dict[str, Figure]:
    """latency (p50/p95/p99) and error_rate per bin from the Logs, with their lines."""
    t = thresholds
    x = (pd.to_datetime(per_bin["TimeGenerated"], utc=True) if len(per_bin)
         else pd.Series(dtype="object"))  # fmt: skip
    empty = pd.Series(dtype="float64")
    return {
        "latency": _figure(
            x, {k: per_bin[k] if k in per_bin else empty for k in ("p50_ms", "p95_ms", "p99_ms")},
            [(t.p95_ms, GATE, f"gate p95 < {t.p95_ms:g} ms"),
             (t.p95_warning_ms, WARNING, f"warning p95 > {t.p95_warning_ms:g} ms")],
            "Request duration percentiles per bin (Application Insights)", "ms",
        ),
        "error_rate": _figure(
            x, {"failed / requests": (per_bin["error_rate"] * 100) if "error_rate" in per_bin
                else empty},
            [(t.error_rate * 100, GATE, f"gate < {t.error_rate:.0%}"),
             (t.error_rate_critical * 100, CRITICAL, f"critical > {t.error_rate_critical:.0%}")],
            "Error rate per bin (Application Insights requests)", "errors (%)",
        ),
    }  # fmt: skip
