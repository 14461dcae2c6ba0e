"""Azure Monitor platform metrics of the App Service over a look-back window, judged per interval.

One `metrics.list` call per metric (a source): an SDK failure of a source is ERROR with its
reason; a source that answers with an errorCode, no value at all in the window, or
`consecutive_error_limit` consecutive intervals without a value after its first one is
INCONCLUSIVE. Bad values are counted apart from missing ones. Nothing sleeps: the window is
read back, ending now.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from azure.mgmt.monitor import MonitorManagementClient
from matplotlib.figure import Figure

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.trend import slope_per_hour
from runbook.phases.monitoring.clients import monitor_client, site_resource_id, window_bounds
from runbook.phases.monitoring.params import MetricSpec, MonitorParams, iso_duration
from runbook.providers.azure.errors import describe_azure_error
from runbook.providers.azure.metrics import read_metric
from runbook.providers.azure.params import AzureParams

ROLES = ("requests", "http5xx", "http4xx", "response_time", "cpu_time", "memory", "health")
RAW_COLUMNS = {
    "requests": "requests",
    "http5xx": "http5xx",
    "http4xx": "http4xx",
    "response_time": "response_time_s",
    "cpu_time": "cpu_time_s",
    "memory": "memory_bytes",
    "health": "health_percent",
}
MIB = 1024 * 1024


@dataclass
class SourceOutcome:
    """What one metric source answered: ok, an SDK failure, or an errorCode (JSON-able)."""

    role: str
    metric: str
    aggregation: str
    status: str  # "ok" | "error" (SDK call failed) | "source-error" (errorCode) | "no-series"
    message: str = ""
    failure: dict[str, Any] | None = None
    points: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _fetch_one(
    client: MonitorManagementClient,
    resource_uri: str,
    spec: MetricSpec,
    role: str,
    timespan: str,
    interval: str,
) -> tuple[SourceOutcome, pd.Series]:
    empty = pd.Series(dtype="float64", name=RAW_COLUMNS[role])
    read = read_metric(client, resource_uri, spec.name, spec.aggregation, timespan=timespan,
                       interval=interval)  # fmt: skip
    if read.kind != "ok":
        return SourceOutcome(
            role, spec.name, spec.aggregation, read.kind, read.problem or "", read.failure
        ), empty
    points: dict[pd.Timestamp, float] = {}
    for time, value in read.points:
        stamp = pd.Timestamp(time).tz_convert("UTC")
        if value is not None:
            points[stamp] = points.get(stamp, 0.0) + value  # sum over instances
        else:
            points.setdefault(stamp, float("nan"))
    data = pd.Series(points, name=RAW_COLUMNS[role], dtype="float64").sort_index()
    outcome = SourceOutcome(role, spec.name, spec.aggregation, "ok", points=int(data.notna().sum()))
    return outcome, data


def derive(frame: pd.DataFrame, params: MonitorParams) -> pd.DataFrame:
    """Add the judged series to a raw frame: error rate, ms, CPU %, MiB, memory %."""
    out = frame.copy()
    for column in RAW_COLUMNS.values():
        if column not in out:
            out[column] = np.nan
    requests = out["requests"]
    out["error_rate"] = out["http5xx"] / requests.where(requests > 0)
    out["response_time_ms"] = out["response_time_s"] * 1000
    interval_s = params.interval_delta.total_seconds()
    inst = params.instance
    out["cpu_percent"] = out["cpu_time_s"] / (interval_s * inst.cpu_cores * inst.instances) * 100
    out["memory_mb"] = out["memory_bytes"] / MIB
    out["memory_percent"] = out["memory_mb"] / (inst.memory_mb * inst.instances) * 100
    return out


def fetch_metrics(
    params: MonitorParams,
    azure: AzureParams,
    *,
    client: MonitorManagementClient | None = None,
    now: datetime | None = None,
) -> tuple[pd.DataFrame, dict[str, SourceOutcome], tuple[datetime, datetime]]:
    """Read every metric of params.metrics over the window: (raw frame, sources, window)."""
    start, end = window_bounds(params, now)
    timespan = f"{start.isoformat()}/{end.isoformat()}".replace("+00:00", "Z")
    interval = iso_duration(params.interval_delta)
    resource_uri = site_resource_id(azure).lstrip("/")
    sources: dict[str, SourceOutcome] = {}
    columns: list[pd.Series] = []
    if client is None:
        try:
            client = monitor_client(azure)
        except Exception as exc:  # noqa: BLE001 -- fail closed
            failure = describe_azure_error(exc)
            for role in ROLES:
                spec: MetricSpec = getattr(params.metrics, role)
                sources[role] = SourceOutcome(
                    role, spec.name, spec.aggregation, "error",
                    f"cannot build the Monitor client: {failure.message}", failure.model_dump(),
                )  # fmt: skip
            return pd.DataFrame(columns=["timestamp"]), sources, (start, end)
    # one query per metric, a few at a time (the SDK client is thread-safe; ARM allows it)
    with ThreadPoolExecutor(4, thread_name_prefix="runbook-metrics") as pool:
        fetched = list(pool.map(
            lambda role: _fetch_one(client, resource_uri, getattr(params.metrics, role), role,
                                    timespan, interval), ROLES))  # fmt: skip
    for role, (outcome, series) in zip(ROLES, fetched, strict=True):
        sources[role] = outcome
        columns.append(series)
    frame = pd.concat(columns, axis=1) if any(len(c) for c in columns) else pd.DataFrame()
    frame = frame.reindex(columns=list(RAW_COLUMNS.values()))
    frame.index.name = "timestamp"
    return frame.reset_index(), sources, (start, end)


# -- judging ------------------------------------------------------------------------------------
def _gaps(values: pd.Series, expected: pd.Series) -> tuple[int, int, int]:
    """(intervals with a value, intervals missing one where expected, longest missing run).
    A value is expected where `expected` holds, from the first interval with a value on."""
    has = values.notna().to_numpy()
    exp = expected.fillna(False).to_numpy(dtype=bool)
    if not has.any():
        return 0, 0, 0
    first = int(np.argmax(has))
    missing = (~has) & exp
    missing[:first] = False
    run = longest = 0
    for flag in missing:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return int(has.sum()), int(missing.sum()), longest


@dataclass
class _Ctx:
    params: MonitorParams
    azure: AzureParams
    frame: pd.DataFrame
    sources: dict[str, SourceOutcome]
    window: tuple[datetime, datetime]

    def evidence(self, roles: tuple[str, ...], columns: list[str], **extra: Any) -> dict[str, Any]:
        shown = list(dict.fromkeys(["timestamp", *columns]))
        table = self.frame[[c for c in shown if c in self.frame]].copy()
        if "timestamp" in table:
            table["timestamp"] = table["timestamp"].astype(str)
        rows = json.loads(table.to_json(orient="records"))
        return {
            "resource_id": site_resource_id(self.azure) if self.azure else None,
            "arm_endpoint": self.azure.arm_endpoint,
            "window": {
                "start": self.window[0].isoformat(),
                "end": self.window[1].isoformat(),
                "interval": iso_duration(self.params.interval_delta),
            },
            "sources": {r: self.sources[r].as_dict() for r in roles if r in self.sources},
            "intervals": rows,
            **extra,
        }


def _result(
    ctx: _Ctx, key: str, title: str, severity: Severity, status: Status, observed: Any,
    threshold: Any, explanation: str, evidence: dict[str, Any],
) -> CheckResult:  # fmt: skip
    return CheckResult(
        id=f"monitor.metrics.{key}", section=ctx.params.section, title=title, severity=severity,
        status=status, observed=observed, threshold=threshold, explanation=explanation,
        evidence=evidence,
    )  # fmt: skip


def _source_problem(ctx: _Ctx, roles: tuple[str, ...]) -> tuple[Status, str] | None:
    """INCONCLUSIVE (never PASS, and apart from a bad value) when a source could not be read,
    reported an error or gave no series: a data source that cannot be read leaves the run
    INCOMPLETE, as the verdict rules want for an unreachable data source."""
    bad = [ctx.sources[r] for r in roles if r in ctx.sources and ctx.sources[r].status != "ok"]
    missing = [r for r in roles if r not in ctx.sources]
    if missing:
        return Status.INCONCLUSIVE, f"metric source(s) not read: {', '.join(missing)}"
    errors = [s for s in bad if s.status == "error"]
    if errors:
        return Status.INCONCLUSIVE, "source error: " + "; ".join(
            f"{s.metric}: {s.message}" for s in errors
        )
    if bad:
        return Status.INCONCLUSIVE, "; ".join(f"{s.metric}: {s.message}" for s in bad)
    return None


def _coverage(ctx: _Ctx, column: str, expected: pd.Series, what: str) -> tuple[Status, str] | None:
    """INCONCLUSIVE when a series has no value in the window, or too many consecutive gaps."""
    values = ctx.frame[column] if column in ctx.frame else pd.Series(dtype="float64")
    present, missing, longest = _gaps(values, expected)
    if present == 0:
        return Status.INCONCLUSIVE, f"no {what} data in the window: nothing to judge"
    limit = ctx.params.consecutive_error_limit
    if longest >= limit:
        return Status.INCONCLUSIVE, (
            f"{what}: {longest} consecutive intervals without a value (limit {limit}; "
            f"{missing} missing in all): the source stopped answering"
        )
    return None


def _error_rate_check(ctx: _Ctx) -> CheckResult:
    t = ctx.params.thresholds
    roles = ("requests", "http5xx")
    title = f"Error rate < {t.error_rate:.0%} (Azure Monitor Http5xx / Requests per interval)"
    threshold = {
        "error_rate_lt": t.error_rate,
        "critical_gt": t.error_rate_critical,
        "min_requests_per_interval": t.min_requests_per_interval,
    }
    columns = ["requests", "http5xx", "http4xx", "error_rate"]
    evidence = ctx.evidence(("requests", "http5xx", "http4xx"), columns)
    problem = _source_problem(ctx, roles)
    f = ctx.frame
    if problem is None:
        everywhere = pd.Series(True, index=f.index)
        problem = _coverage(ctx, "requests", everywhere, "Requests") or _coverage(
            ctx, "http5xx", f["requests"] > 0, "Http5xx"
        )
    if problem is None and f["requests"].fillna(0).sum() == 0:
        problem = (Status.INCONCLUSIVE, "no requests in the window: no error rate to judge")
    if problem is not None:
        return _result(
            ctx,
            "error-rate",
            title,
            Severity.BLOCKER,
            problem[0],
            None,
            threshold,
            problem[1],
            evidence,
        )
    total = float(f["requests"].fillna(0).sum())
    errors = float(f["http5xx"].fillna(0).sum())
    overall = errors / total
    judged = f[f["requests"] >= t.min_requests_per_interval]
    over_gate = judged[judged["error_rate"] >= t.error_rate]
    over_critical = judged[judged["error_rate"] > t.error_rate_critical]
    worst = float(judged["error_rate"].max()) if len(judged) else None
    observed = {
        "overall": round(overall, 5),
        "requests": int(total),
        "http5xx": int(errors),
        "worst_interval": None if worst is None else round(worst, 5),
        "intervals_over_gate": len(over_gate),
        "intervals_over_critical": len(over_critical),
    }
    failed = overall >= t.error_rate or len(over_gate) > 0
    status = Status.FAIL if failed else Status.PASS
    explanation = (
        f"{int(errors)} of {int(total)} requests answered 5xx ({overall:.2%} overall); "
        f"{len(over_gate)} interval(s) at or over {t.error_rate:.0%}, "
        f"{len(over_critical)} over the critical {t.error_rate_critical:.0%}"
    )
    evidence["bad_intervals"] = over_gate["timestamp"].astype(str).tolist()
    return _result(
        ctx,
        "error-rate",
        title,
        Severity.BLOCKER,
        status,
        observed,
        threshold,
        explanation,
        evidence,
    )


def _level_check(
    ctx: _Ctx, *, key: str, role: str, column: str, title: str, severity: Severity,
    fail_at: float, warn_at: float | None, unit: str, expected: pd.Series, note: str = "",
) -> CheckResult:  # fmt: skip
    threshold = {
        "fail_at_or_over": fail_at,
        **({"warn_at_or_over": warn_at} if warn_at else {}),
        "unit": unit,
    }
    evidence = ctx.evidence((role,), [RAW_COLUMNS[role], column] + (["requests"] if role ==
                            "response_time" else []), note=note)  # fmt: skip
    problem = _source_problem(ctx, (role,)) or _coverage(ctx, column, expected, role)
    if problem is not None:
        return _result(
            ctx,
            key,
            title,
            severity,
            problem[0],
            None,
            threshold,
            problem[1] + (f" ({note})" if note else ""),
            evidence,
        )
    values = ctx.frame[column]
    worst, mean = float(values.max()), float(values.mean())
    fails = ctx.frame[values >= fail_at]
    warns = ctx.frame[values >= warn_at] if warn_at is not None else ctx.frame.iloc[0:0]
    observed = {
        "worst_interval": round(worst, 3),
        "mean": round(mean, 3),
        "unit": unit,
        "intervals": int(values.notna().sum()),
        "intervals_failing": len(fails),
        "intervals_warning": len(warns),
    }
    if len(fails):
        status = Status.FAIL
    elif len(warns):
        status = Status.WARN
    else:
        status = Status.PASS
    explanation = (
        f"worst interval {worst:.1f} {unit}, mean {mean:.1f} {unit} over "
        f"{observed['intervals']} interval(s); {len(fails)} at or over {fail_at:g} {unit}"
        + (f", {len(warns)} at or over {warn_at:g} {unit}" if warn_at is not None else "")
        + (f". {note}" if note else "")
    )
    evidence["bad_intervals"] = fails["timestamp"].astype(str).tolist()
    return _result(ctx, key, title, severity, status, observed, threshold, explanation, evidence)


def memory_slope_mb_per_h(frame: pd.DataFrame) -> float | None:
    """Least-squares slope of the working set (MiB per hour) over the intervals with a value."""
    data = frame[["timestamp", "memory_mb"]].dropna()
    stamps = pd.to_datetime(data["timestamp"], utc=True)
    seconds = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy() if len(data) else []
    fitted = slope_per_hour(seconds, data["memory_mb"].to_numpy(dtype=float))
    return None if fitted is None else fitted[0]


def _memory_slope_check(ctx: _Ctx) -> CheckResult:
    t = ctx.params.thresholds
    severity = t.memory_slope_severity
    title = f"Memory usage stable (working set grows < {t.memory_slope_mb_per_h:g} MiB/h)"
    threshold = {
        "slope_mb_per_h_lt": t.memory_slope_mb_per_h,
        "min_intervals": t.memory_slope_min_points,
    }
    evidence = ctx.evidence(("memory",), ["memory_mb"])
    everywhere = pd.Series(True, index=ctx.frame.index)
    problem = _source_problem(ctx, ("memory",)) or _coverage(ctx, "memory_mb", everywhere, "memory")
    points = int(ctx.frame["memory_mb"].notna().sum()) if "memory_mb" in ctx.frame else 0
    if problem is None and points < t.memory_slope_min_points:
        problem = (
            Status.INCONCLUSIVE,
            f"{points} interval(s) with memory data; a slope needs {t.memory_slope_min_points}",
        )
    slope = None if problem else memory_slope_mb_per_h(ctx.frame)
    if problem is None and slope is None:
        problem = (Status.INCONCLUSIVE, "memory data spans no time: no slope")
    if problem is not None:
        return _result(
            ctx, "memory-slope", title, severity, problem[0], None, threshold, problem[1], evidence
        )
    assert slope is not None
    status = Status.FAIL if slope >= t.memory_slope_mb_per_h else Status.PASS
    explanation = (
        f"working set changes by {slope:+.1f} MiB/h over {points} intervals "
        f"(limit {t.memory_slope_mb_per_h:g} MiB/h)"
    )
    return _result(
        ctx,
        "memory-slope",
        title,
        severity,
        status,
        {"slope_mb_per_h": round(slope, 3), "intervals": points},
        threshold,
        explanation,
        evidence,
    )


def judge_metrics(
    frame: pd.DataFrame,
    sources: dict[str, SourceOutcome],
    params: MonitorParams,
    azure: AzureParams,
    window: tuple[datetime, datetime],
) -> list[CheckResult]:
    """The metric checks of a raw frame (re-judge saved data with other params at will)."""
    ctx = _Ctx(params, azure, derive(frame, params), sources, window)
    t, f = params.thresholds, ctx.frame
    everywhere = pd.Series(True, index=f.index)
    return [
        _error_rate_check(ctx),
        _level_check(
            ctx, key="response-time", role="response_time", column="response_time_ms",
            title=f"API response time < {t.response_time_ms:g} ms (HttpResponseTime average, "
                  "secondary signal)",
            severity=Severity.WARNING, fail_at=t.response_time_ms,
            warn_at=None, unit="ms", expected=f["requests"] > 0,
            note="the platform metric is an average per interval, not a percentile: the p95 gate "
                 "is the Logs check monitor.logs.p95",
        ),
        _level_check(
            ctx, key="cpu", role="cpu_time", column="cpu_percent",
            title=f"CPU usage < {t.cpu_percent:g}% (CpuTime per interval / cores)",
            severity=Severity.BLOCKER, fail_at=t.cpu_percent, warn_at=None, unit="%",
            expected=everywhere,
            note=f"CPU % = CpuTime / {params.interval_delta.total_seconds():g} s / "
                 f"{params.instance.cpu_cores:g} core(s) × {params.instance.instances} instance(s)",
        ),
        _level_check(
            ctx, key="memory", role="memory", column="memory_percent",
            title=f"Memory usage < {t.memory_critical_percent:g}% (warning at "
                  f"{t.memory_warning_percent:g}%)",
            severity=Severity.BLOCKER, fail_at=t.memory_critical_percent,
            warn_at=t.memory_warning_percent, unit="%", expected=everywhere,
            note=f"memory % = MemoryWorkingSet / {params.instance.memory_mb:g} MiB per instance",
        ),
        _memory_slope_check(ctx),
        _health_check(ctx),
    ]  # fmt: skip


def _health_check(ctx: _Ctx) -> CheckResult:
    t = ctx.params.thresholds
    f = ctx.frame
    result = _level_check(
        ctx, key="health", role="health", column="health_percent",
        title=f"Health check status ≥ {t.health_min_percent:g}% of instances (HealthCheckStatus)",
        severity=Severity.WARNING, fail_at=float("inf"), warn_at=None, unit="%",
        expected=pd.Series(False, index=f.index),
    )  # fmt: skip
    if result.status is not Status.PASS:
        return result
    low = f[f["health_percent"] < t.health_min_percent]
    result.status = Status.FAIL if len(low) else Status.PASS
    result.threshold = {"at_least": t.health_min_percent, "unit": "%"}
    result.explanation = (
        f"{len(low)} interval(s) below {t.health_min_percent:g}% healthy; lowest "
        f"{float(f['health_percent'].min()):.1f}%"
    )
    result.evidence["bad_intervals"] = low["timestamp"].astype(str).tolist()
    return result


@dataclass
class MetricReport:
    """The metric checks with the raw series behind them (re-judge, plot, save)."""

    params: MonitorParams
    azure: AzureParams | None  # None: nothing was read (no App Service in this environment)
    window: tuple[datetime, datetime]
    raw: pd.DataFrame
    sources: dict[str, SourceOutcome]
    results: list[CheckResult] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        """Raw series plus the judged ones (error_rate, response_time_ms, cpu_percent, …)."""
        return derive(self.raw, self.params)

    def rejudge(self, params: MonitorParams) -> list[CheckResult]:
        """The checks of the same data under other parameters (thresholds, limits)."""
        if self.azure is None:
            return list(self.results)
        return judge_metrics(self.raw, self.sources, params, self.azure, self.window)

    def figures(self) -> dict[str, Figure]:
        """Each series against its threshold lines (none when nothing was read)."""
        from runbook.phases.monitoring.figures import metric_figures

        return metric_figures(self.frame, self.params) if self.azure is not None else {}

    def save(self, directory: Path) -> list[Path]:
        """Write metrics.csv (the series) and metrics.json (window, sources, results)."""
        directory.mkdir(parents=True, exist_ok=True)
        csv, meta = directory / "monitor-metrics.csv", directory / "monitor-metrics.json"
        self.frame.to_csv(csv, index=False)
        meta.write_text(json.dumps({
            "resource_id": site_resource_id(self.azure) if self.azure else None,
            "window": [w.isoformat() for w in self.window],
            "params": self.params.model_dump(mode="json"),
            "sources": {k: v.as_dict() for k, v in self.sources.items()},
            "results": [r.to_payload() for r in self.results],
        }, indent=2, default=str), encoding="utf-8")  # fmt: skip
        return [csv, meta]


def metric_checks(
    params: MonitorParams,
    azure: AzureParams | None,
    *,
    client: MonitorManagementClient | None = None,
    now: datetime | None = None,
) -> MetricReport:
    """Read the App Service metrics over the window and judge them (error rate, time, CPU, …);
    without an App Service, one SKIP result says there is nothing to read."""
    if azure is None:
        from runbook.phases.monitoring.absent import absent_source

        report = MetricReport(params, None, window_bounds(params, now), pd.DataFrame(), {})
        report.results = [
            absent_source("monitor.metrics", "Azure Monitor metrics", params, azure=False)
        ]
        return report
    raw, sources, window = fetch_metrics(params, azure, client=client, now=now)
    report = MetricReport(params, azure, window, raw, sources)
    report.results = judge_metrics(raw, sources, params, azure, window)
    return report
