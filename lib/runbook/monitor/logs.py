"""Application Insights logs over the look-back window (LogsQueryClient, KQL from parameters):
request percentiles and error rate per bin, exceptions by type, database / Redis dependencies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from azure.monitor.query import LogsQueryClient, LogsQueryStatus
from matplotlib.figure import Figure

from runbook.azure.errors import describe_azure_error
from runbook.azure.params import AzureParams
from runbook.checks import CheckResult, Severity, Status
from runbook.monitor.clients import logs_client, window_bounds
from runbook.monitor.params import LogsParams, MonitorParams, kql_timespan

QUERIES = ("requests_per_bin", "requests_overall", "exceptions_by_type", "dependencies_by_type")


@dataclass
class QueryOutcome:
    """What one query answered: ok, partial (with the service's error), or error (JSON-able)."""

    name: str
    status: str  # "ok" | "partial" | "error"
    message: str = ""
    failure: dict[str, Any] | None = None
    rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _frame(table: Any) -> pd.DataFrame:
    return pd.DataFrame([list(row) for row in table.rows], columns=list(table.columns))


def fetch_logs(
    params: MonitorParams,
    azure: AzureParams,
    *,
    client: LogsQueryClient | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, QueryOutcome], tuple[datetime, datetime]]:
    """Run the four queries of params.logs over the window: (tables, outcomes, window)."""
    logs = _logs(params)
    start, end = window_bounds(params, now)
    tables: dict[str, pd.DataFrame] = {}
    outcomes: dict[str, QueryOutcome] = {}
    if client is None:
        try:
            client = logs_client(azure, logs)
        except Exception as exc:  # noqa: BLE001 -- fail closed
            failure = describe_azure_error(exc)
            for name in QUERIES:
                outcomes[name] = QueryOutcome(name, "error", failure.message, failure.model_dump())
            return tables, outcomes, (start, end)
    bin_literal = kql_timespan(params.interval_delta)
    for name in QUERIES:
        query = getattr(logs.queries, name).replace("{bin}", bin_literal)
        try:
            answer = client.query_workspace(
                logs.workspace_id, query, timespan=(start, end),
                server_timeout=logs.server_timeout,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 -- fail closed: any SDK failure is recorded
            failure = describe_azure_error(exc)
            outcomes[name] = QueryOutcome(
                name, "error", f"{failure.reason}: {failure.message}", failure.model_dump()
            )
            continue
        if answer.status == LogsQueryStatus.PARTIAL:
            error = getattr(answer, "partial_error", None)
            outcomes[name] = QueryOutcome(name, "partial", f"partial result: {error}")
            data = getattr(answer, "partial_data", None) or []
        else:
            data = answer.tables
        frame = _frame(data[0]) if data else pd.DataFrame()
        tables[name] = frame
        outcomes.setdefault(name, QueryOutcome(name, "ok", rows=len(frame)))
    return tables, outcomes, (start, end)


def _logs(params: MonitorParams) -> LogsParams:
    if params.logs is None:
        raise ValueError("monitor.logs is not configured: no workspace to query")
    return params.logs


@dataclass
class _Ctx:
    params: MonitorParams
    tables: dict[str, pd.DataFrame]
    outcomes: dict[str, QueryOutcome]
    window: tuple[datetime, datetime]

    @property
    def t(self):
        return _logs(self.params).thresholds

    def table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())

    def evidence(self, names: tuple[str, ...]) -> dict[str, Any]:
        logs = _logs(self.params)
        return {
            "endpoint": logs.endpoint,
            "workspace_id": logs.workspace_id,
            "window": [w.isoformat() for w in self.window],
            "queries": {n: getattr(logs.queries, n) for n in names},
            "outcomes": {n: self.outcomes[n].as_dict() for n in names if n in self.outcomes},
            "tables": {n: json.loads(self.table(n).to_json(orient="records", date_format="iso"))
                       for n in names},
        }  # fmt: skip

    def problem(self, names: tuple[str, ...]) -> tuple[Status, str] | None:
        bad = [self.outcomes.get(n) for n in names]
        if any(o is None for o in bad):
            return Status.INCONCLUSIVE, "query not run"
        errors = [o for o in bad if o is not None and o.status == "error"]
        if errors:  # the source failed: counted apart from a bad value, never a pass
            return Status.INCONCLUSIVE, "source error: " + "; ".join(
                f"{o.name}: {o.message}" for o in errors)
        partial = [o for o in bad if o is not None and o.status == "partial"]
        if partial:
            return Status.INCONCLUSIVE, "; ".join(f"{o.name}: {o.message}" for o in partial)
        return None

    def overall(self) -> dict[str, Any] | None:
        table = self.table("requests_overall")
        if table.empty or not table["requests"].fillna(0).iloc[0]:
            return None
        return {k: (None if pd.isna(v) else v) for k, v in table.iloc[0].to_dict().items()}

    def result(self, key: str, title: str, status: Status, observed: Any, threshold: Any,
               explanation: str, evidence: dict[str, Any]) -> CheckResult:
        return CheckResult(
            id=f"monitor.logs.{key}", section=self.params.section, title=title,
            severity=Severity.BLOCKER, status=status, observed=observed, threshold=threshold,
            explanation=explanation, evidence=evidence,
        )  # fmt: skip


def _p95_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("requests_overall", "requests_per_bin")
    title = f"API response time p95 < {t.p95_ms:g} ms (Application Insights requests)"
    threshold = {"p95_ms_lt": t.p95_ms, "warning_gt": t.p95_warning_ms}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    overall = None if problem else ctx.overall()
    if problem is None and overall is None:
        problem = (Status.INCONCLUSIVE, "no requests in the window: no percentile to judge")
    if problem is not None:
        return ctx.result("p95", title, problem[0], None, threshold, problem[1], evidence)
    assert overall is not None
    per_bin = ctx.table("requests_per_bin")
    worst = float(per_bin["p95_ms"].max()) if "p95_ms" in per_bin and len(per_bin) else None
    p95 = float(overall["p95_ms"])
    observed = {"p50_ms": overall["p50_ms"], "p95_ms": p95, "p99_ms": overall["p99_ms"],
                "requests": int(overall["requests"]), "worst_bin_p95_ms": worst}
    status = Status.PASS if p95 < t.p95_ms else Status.FAIL
    explanation = (f"p95 {p95:.1f} ms over {int(overall['requests'])} requests (p50 "
                   f"{overall['p50_ms']:.1f}, p99 {overall['p99_ms']:.1f}); worst bin p95 "
                   f"{worst if worst is None else round(worst, 1)} ms")
    return ctx.result("p95", title, status, observed, threshold, explanation, evidence)


def _error_rate_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("requests_overall", "requests_per_bin")
    title = f"Error rate < {t.error_rate:.0%} (Application Insights requests, 5xx)"
    threshold = {"error_rate_lt": t.error_rate, "critical_gt": t.error_rate_critical,
                 "min_requests_per_bin": t.min_requests_per_bin}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    overall = None if problem else ctx.overall()
    if problem is None and overall is None:
        problem = (Status.INCONCLUSIVE, "no requests in the window: no error rate to judge")
    if problem is not None:
        return ctx.result("error-rate", title, problem[0], None, threshold, problem[1], evidence)
    assert overall is not None
    per_bin = ctx.table("requests_per_bin")
    judged = per_bin[per_bin["requests"] >= t.min_requests_per_bin] if len(per_bin) else per_bin
    critical = judged[judged["error_rate"] > t.error_rate_critical] if len(judged) else judged
    rate = float(overall["failed"]) / float(overall["requests"])
    observed = {"error_rate": round(rate, 5), "failed": int(overall["failed"]),
                "requests": int(overall["requests"]), "bins_over_critical": len(critical)}
    status = Status.FAIL if rate >= t.error_rate or len(critical) else Status.PASS
    explanation = (f"{int(overall['failed'])} of {int(overall['requests'])} requests failed "
                   f"({rate:.2%}); {len(critical)} bin(s) over {t.error_rate_critical:.0%}")
    return ctx.result("error-rate", title, status, observed, threshold, explanation, evidence)


def _exceptions_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("exceptions_by_type", "requests_overall")
    title = "No errors in application logs (Application Insights exceptions)"
    threshold = {"exceptions_at_most": t.max_exceptions}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    if problem is None and ctx.overall() is None:
        problem = (Status.INCONCLUSIVE, "no requests in the window either: no telemetry arrives, "
                   "so no exceptions proves nothing")
    if problem is not None:
        return ctx.result("exceptions", title, problem[0], None, threshold, problem[1], evidence)
    table = ctx.table("exceptions_by_type")
    by_type = ({str(r["ExceptionType"]): int(r["count_"]) for _, r in table.iterrows()}
               if len(table) else {})  # fmt: skip
    total = sum(by_type.values())
    status = Status.PASS if total <= t.max_exceptions else Status.FAIL
    explanation = (f"{total} exception(s)" + (": " + ", ".join(f"{k} × {v}" for k, v in
                   by_type.items()) if by_type else "") + f" (at most {t.max_exceptions})")
    return ctx.result("exceptions", title, status, {"total": total, "by_type": by_type},
                      threshold, explanation, evidence)


def _dependency_rows(ctx: _Ctx, types: list[str]) -> pd.DataFrame:
    table = ctx.table("dependencies_by_type")
    if table.empty or "DependencyType" not in table:
        return table
    wanted = {x.lower() for x in types}
    return table[table["DependencyType"].astype(str).str.lower().isin(wanted)]


def _dependency_check(ctx: _Ctx, kind: str) -> CheckResult:
    t = ctx.t
    names = ("dependencies_by_type",)
    evidence = ctx.evidence(names)
    types = t.database_types if kind != "redis-errors" else t.redis_types
    labels = {
        "database-time": f"Database query time < {t.database_ms:g} ms ({t.database_stat})",
        "database-errors": "No database connection errors (failed database dependencies)",
        "redis-errors": "No Redis connection errors (failed Redis dependencies)",
    }
    threshold: dict[str, Any] = {"dependency_types": types}
    if kind == "database-time":
        threshold |= {f"{t.database_stat}_lt": t.database_ms}
    else:
        threshold |= {"failed_calls": 0}
    problem = ctx.problem(names)
    rows = _dependency_rows(ctx, types)
    calls = int(rows["calls"].sum()) if len(rows) else 0
    if problem is None and calls == 0:
        problem = (Status.INCONCLUSIVE, f"no {'/'.join(types)} dependency calls in the window")
    if problem is not None:
        return ctx.result(kind, labels[kind], problem[0], None, threshold, problem[1], evidence)
    failed = int(rows["failed"].sum())
    if kind == "database-time":
        value = float(rows[t.database_stat].max())
        status = Status.PASS if value < t.database_ms else Status.FAIL
        observed: dict[str, Any] = {t.database_stat: round(value, 2), "calls": calls}
        explanation = f"{t.database_stat} {value:.1f} ms over {calls} database call(s)"
    else:
        status = Status.PASS if failed == 0 else Status.FAIL
        observed = {"failed": failed, "calls": calls,
                    "avg_ms": round(float((rows["avg_ms"] * rows["calls"]).sum() / calls), 2)}
        explanation = f"{failed} of {calls} {'/'.join(types[:1])} call(s) failed"
    return ctx.result(kind, labels[kind], status, observed, threshold, explanation, evidence)


def judge_logs(
    tables: dict[str, pd.DataFrame],
    outcomes: dict[str, QueryOutcome],
    params: MonitorParams,
    window: tuple[datetime, datetime],
) -> list[CheckResult]:
    """The Logs checks of fetched tables (re-judge saved data with other params at will)."""
    ctx = _Ctx(params, tables, outcomes, window)
    return [
        _p95_check(ctx),
        _error_rate_check(ctx),
        _exceptions_check(ctx),
        _dependency_check(ctx, "database-time"),
        _dependency_check(ctx, "database-errors"),
        _dependency_check(ctx, "redis-errors"),
    ]


@dataclass
class LogReport:
    """The Logs checks with the tables behind them (re-judge, plot, save)."""

    params: MonitorParams
    window: tuple[datetime, datetime]
    tables: dict[str, pd.DataFrame]
    outcomes: dict[str, QueryOutcome]
    results: list[CheckResult] = field(default_factory=list)

    @property
    def per_bin(self) -> pd.DataFrame:
        """p50/p95/p99 and error rate per bin."""
        return self.tables.get("requests_per_bin", pd.DataFrame())

    def rejudge(self, params: MonitorParams) -> list[CheckResult]:
        """The checks of the same tables under other parameters."""
        return judge_logs(self.tables, self.outcomes, params, self.window)

    def figures(self) -> dict[str, Figure]:
        """Latency percentiles and error rate per bin against their lines."""
        from runbook.monitor.figures import log_figures

        if self.params.logs is None:
            return {}
        return log_figures(self.per_bin, self.params.logs.thresholds)

    def save(self, directory: Path) -> list[Path]:
        """Write one CSV per query table and monitor-logs.json (window, outcomes, results)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in self.tables.items():
            path = directory / f"monitor-logs-{name}.csv"
            table.to_csv(path, index=False)
            written.append(path)
        meta = directory / "monitor-logs.json"
        meta.write_text(json.dumps({
            "window": [w.isoformat() for w in self.window],
            "params": self.params.model_dump(mode="json"),
            "outcomes": {k: v.as_dict() for k, v in self.outcomes.items()},
            "results": [r.to_payload() for r in self.results],
        }, indent=2, default=str), encoding="utf-8")  # fmt: skip
        return [*written, meta]


def log_checks(
    params: MonitorParams,
    azure: AzureParams | None,
    *,
    client: LogsQueryClient | None = None,
    now: datetime | None = None,
) -> LogReport:
    """Query Application Insights over the window and judge p95, error rate, exceptions, deps;
    without an App Service (SKIP) or a workspace (INCONCLUSIVE), one result says why not."""
    if azure is None or params.logs is None:
        from runbook.monitor.absent import absent_source

        report = LogReport(params, window_bounds(params, now), {}, {})
        report.results = [absent_source("monitor.logs", "No errors in application logs "
                                        "(Application Insights)", params, azure=azure is not None)]
        return report
    tables, outcomes, window = fetch_logs(params, azure, client=client, now=now)
    report = LogReport(params, window, tables, outcomes)
    report.results = judge_logs(tables, outcomes, params, window)
    return report
