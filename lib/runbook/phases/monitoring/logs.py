"""Application Insights logs over the look-back window (LogsQueryClient, KQL from parameters):
request percentiles and error rate per bin, exceptions by type, database / Redis dependencies,
the 5xx requests, the Celery worker's error traces (by its cloud role) and the custom metric
names received. Text quoted from the logs is scrubbed of the run's secrets and credential
shapes before it is kept anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from azure.monitor.query import LogsQueryClient, LogsQueryStatus
from matplotlib.figure import Figure

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.logscan import scrub
from runbook.core.secret_refs import resolved_values
from runbook.phases.monitoring.clients import logs_client, window_bounds
from runbook.phases.monitoring.params import SECTION_ALERTS, LogsParams, MonitorParams, kql_timespan
from runbook.providers.azure.errors import describe_azure_error
from runbook.providers.azure.params import AzureParams

QUERIES = (
    "requests_per_bin",
    "requests_overall",
    "exceptions_by_type",
    "dependencies_by_type",
    "server_errors",
    "custom_metrics",
)
WORKER_QUERIES = ("worker_activity", "worker_errors")  # run when insights.worker_role is set
SECTION_WORKER = (
    "Deployment Steps §1.3 / §2.5 / §3.4 — No errors in Celery worker logs (Application Insights)"
)
SECTION_500 = (
    "Deployment Steps §3.3 Post-Deployment Verification, §3.4 Alerts to Watch — "
    "No 500 errors in logs"
)
SEVERITY_NAMES = {0: "Verbose", 1: "Information", 2: "Warning", 3: "Error", 4: "Critical"}
QUOTE_CHARS = 300


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


def query_names(params: MonitorParams) -> tuple[str, ...]:
    """The queries of params.logs this run asks (the worker's only with a worker role)."""
    return QUERIES + (WORKER_QUERIES if params.insights.worker_role else ())


def render_query(params: MonitorParams, name: str) -> str:
    """The KQL of one query with {bin}, {role}, {severity} and {limit} filled in."""
    logs = _logs(params)
    t = logs.thresholds
    return (
        getattr(logs.queries, name)
        .replace("{bin}", kql_timespan(params.interval_delta))
        .replace("{role}", params.insights.worker_role or "")
        .replace("{severity}", str(t.worker_min_severity))
        .replace("{limit}", str(t.quote_errors))
    )


def scrub_table(frame: pd.DataFrame, secrets: Iterable[str] = ()) -> pd.DataFrame:
    """The table with every text cell scrubbed of `secrets` and credential shapes."""
    values = list(secrets)
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(lambda v: scrub(v, values) if isinstance(v, str) else v)
    return out


def fetch_logs(
    params: MonitorParams,
    azure: AzureParams,
    *,
    client: LogsQueryClient | None = None,
    now: datetime | None = None,
    secrets: Iterable[str] = (),
) -> tuple[dict[str, pd.DataFrame], dict[str, QueryOutcome], tuple[datetime, datetime]]:
    """Run the queries of params.logs over the window (query_names): (tables, outcomes,
    window); text cells are scrubbed of `secrets` and credential shapes."""
    logs = _logs(params)
    start, end = window_bounds(params, now)
    tables: dict[str, pd.DataFrame] = {}
    outcomes: dict[str, QueryOutcome] = {}
    names = query_names(params)
    if client is None:
        try:
            client = logs_client(azure, logs)
        except Exception as exc:  # noqa: BLE001 -- fail closed
            failure = describe_azure_error(exc)
            for name in names:
                outcomes[name] = QueryOutcome(name, "error", failure.message, failure.model_dump())
            return tables, outcomes, (start, end)
    masked = [*secrets, *resolved_values(azure)]
    for name in names:
        query = render_query(params, name)
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
        frame = scrub_table(_frame(data[0]), masked) if data else pd.DataFrame()
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
                f"{o.name}: {o.message}" for o in errors
            )
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
               explanation: str, evidence: dict[str, Any], section: str | None = None,
               ) -> CheckResult:  # fmt: skip
        return CheckResult(
            id=f"monitor.logs.{key}", section=section or self.params.section, title=title,
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
    observed = {
        "p50_ms": overall["p50_ms"],
        "p95_ms": p95,
        "p99_ms": overall["p99_ms"],
        "requests": int(overall["requests"]),
        "worst_bin_p95_ms": worst,
    }
    status = Status.PASS if p95 < t.p95_ms else Status.FAIL
    explanation = (
        f"p95 {p95:.1f} ms over {int(overall['requests'])} requests (p50 "
        f"{overall['p50_ms']:.1f}, p99 {overall['p99_ms']:.1f}); worst bin p95 "
        f"{worst if worst is None else round(worst, 1)} ms"
    )
    return ctx.result("p95", title, status, observed, threshold, explanation, evidence)


def _error_rate_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("requests_overall", "requests_per_bin")
    title = f"Error rate < {t.error_rate:.0%} (Application Insights requests, 5xx)"
    threshold = {
        "error_rate_lt": t.error_rate,
        "critical_gt": t.error_rate_critical,
        "min_requests_per_bin": t.min_requests_per_bin,
    }
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
    observed = {
        "error_rate": round(rate, 5),
        "failed": int(overall["failed"]),
        "requests": int(overall["requests"]),
        "bins_over_critical": len(critical),
    }
    status = Status.FAIL if rate >= t.error_rate or len(critical) else Status.PASS
    explanation = (
        f"{int(overall['failed'])} of {int(overall['requests'])} requests failed "
        f"({rate:.2%}); {len(critical)} bin(s) over {t.error_rate_critical:.0%}"
    )
    return ctx.result("error-rate", title, status, observed, threshold, explanation, evidence)


def _exceptions_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("exceptions_by_type", "requests_overall")
    title = "No errors in application logs (Application Insights exceptions)"
    threshold = {"exceptions_at_most": t.max_exceptions}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    if problem is None and ctx.overall() is None:
        problem = (
            Status.INCONCLUSIVE,
            "no requests in the window either: no telemetry arrives, "
            "so no exceptions proves nothing",
        )
    if problem is not None:
        return ctx.result("exceptions", title, problem[0], None, threshold, problem[1], evidence)
    table = ctx.table("exceptions_by_type")
    by_type = ({str(r["ExceptionType"]): int(r["count_"]) for _, r in table.iterrows()}
               if len(table) else {})  # fmt: skip
    total = sum(by_type.values())
    status = Status.PASS if total <= t.max_exceptions else Status.FAIL
    explanation = (
        f"{total} exception(s)"
        + (": " + ", ".join(f"{k} × {v}" for k, v in by_type.items()) if by_type else "")
        + f" (at most {t.max_exceptions})"
    )
    return ctx.result(
        "exceptions",
        title,
        status,
        {"total": total, "by_type": by_type},
        threshold,
        explanation,
        evidence,
    )


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
        observed = {
            "failed": failed,
            "calls": calls,
            "avg_ms": round(float((rows["avg_ms"] * rows["calls"]).sum() / calls), 2),
        }
        explanation = f"{failed} of {calls} {'/'.join(types[:1])} call(s) failed"
    return ctx.result(kind, labels[kind], status, observed, threshold, explanation, evidence)


def _when(value: Any) -> str:
    return str(value) if value is not None and not pd.isna(value) else "?"


def _server_errors_check(ctx: _Ctx) -> CheckResult:
    t = ctx.t
    names = ("server_errors", "requests_overall")
    title = (
        f"No 500 errors in logs (Application Insights requests with a 5xx result, at most "
        f"{t.max_server_errors})"
    )
    threshold = {"server_errors_at_most": t.max_server_errors, "result_codes": ">= 500"}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    if problem is None and ctx.overall() is None:
        problem = (
            Status.INCONCLUSIVE,
            "no requests in the window: no telemetry arrives, so no 5xx proves nothing",
        )
    if problem is not None:
        return ctx.result(
            "server-errors", title, problem[0], None, threshold, problem[1], evidence, SECTION_500
        )
    table = ctx.table("server_errors")
    rows = [] if table.empty else table.to_dict("records")
    total = sum(int(r.get("count_") or 0) for r in rows)
    quoted = [
        f"{_when(r.get('first_seen'))} {r.get('Name')} → {r.get('ResultCode')} "
        f"× {int(r.get('count_') or 0)} (last {_when(r.get('last_seen'))})"
        for r in rows[: t.quote_errors]
    ]
    evidence["quoted"] = quoted
    overall = ctx.overall() or {}
    observed = {
        "server_errors": total,
        "requests": int(overall.get("requests") or 0),
        "by_operation": {
            f"{r.get('Name')} {r.get('ResultCode')}": int(r.get("count_") or 0) for r in rows
        },
    }
    status = Status.PASS if total <= t.max_server_errors else Status.FAIL
    explanation = (
        f"{total} request(s) answered 5xx of {observed['requests']} in the window "
        f"(at most {t.max_server_errors})" + (": " + "; ".join(quoted) if quoted else "")
    )
    return ctx.result(
        "server-errors", title, status, observed, threshold, explanation, evidence, SECTION_500
    )


def _quote_record(row: dict[str, Any]) -> str:
    level = row.get("SeverityLevel")
    level_name = (
        SEVERITY_NAMES.get(int(level), str(level))
        if level is not None and not pd.isna(level)
        else "?"
    )
    kind = row.get("ExceptionType")
    text = " ".join(str(row.get("Message") or "").split())
    head = f"{_when(row.get('TimeGenerated'))} {level_name}"
    if row.get("OperationName"):
        head += f" [{row['OperationName']}]"
    body = f"{kind}: {text}" if isinstance(kind, str) and kind else text
    line = f"{head} {body}"
    return line if len(line) <= QUOTE_CHARS else line[:QUOTE_CHARS] + "…"


def _worker_errors_check(ctx: _Ctx) -> CheckResult:
    t, role = ctx.t, ctx.params.insights.worker_role
    title = (
        f"No errors in Celery worker logs (Application Insights traces and exceptions of "
        f"cloud role {role!r}, at most {t.max_worker_errors})"
    )
    threshold = {
        "worker_errors_at_most": t.max_worker_errors,
        "role": role,
        "severity_at_least": t.worker_min_severity,
    }
    if not role:
        return ctx.result(
            "worker-errors",
            "No errors in Celery worker logs (Application Insights)",
            Status.SKIP,
            None,
            threshold,
            "monitor.insights.worker_role is not set: the worker's telemetry is not looked for",
            {},
            SECTION_WORKER,
        )
    names = WORKER_QUERIES
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    activity = ctx.table("worker_activity")
    seen = 0 if activity.empty else int(activity["telemetry"].fillna(0).iloc[0])
    if problem is None and seen == 0:
        problem = (
            Status.INCONCLUSIVE,
            f"no trace or exception of cloud role {role!r} in the "
            "window: the worker was idle, is not instrumented, or the role name is wrong; "
            "no errors proves nothing",
        )
    if problem is not None:
        return ctx.result(
            "worker-errors",
            title,
            problem[0],
            None,
            threshold,
            problem[1],
            evidence,
            SECTION_WORKER,
        )
    errors = int(activity["errors"].fillna(0).iloc[0])
    listing = ctx.table("worker_errors")
    quoted = [_quote_record(r) for r in listing.to_dict("records")[: t.quote_errors]]
    evidence["quoted"] = quoted
    status = Status.PASS if errors <= t.max_worker_errors else Status.FAIL
    explanation = (
        f"{errors} error record(s) of {seen} trace(s)/exception(s) from {role!r} "
        f"(at most {t.max_worker_errors})" + (": " + " | ".join(quoted) if quoted else "")
    )
    return ctx.result(
        "worker-errors",
        title,
        status,
        {"errors": errors, "telemetry": seen},
        threshold,
        explanation,
        evidence,
        SECTION_WORKER,
    )


def _custom_metrics_check(ctx: _Ctx) -> CheckResult:
    expected = list(ctx.params.insights.custom_metrics)
    names = ("custom_metrics",)
    title = "Custom metrics configured (custom metric names Application Insights received)"
    threshold = {"expected": expected}
    evidence = ctx.evidence(names)
    problem = ctx.problem(names)
    table = ctx.table("custom_metrics")
    received = ({str(r["Name"]): int(r.get("records") or 0) for r in table.to_dict("records")}
                if "Name" in table else {})  # fmt: skip
    if problem is None and not expected:
        problem = (
            Status.INCONCLUSIVE,
            "no expected custom metric names "
            "(monitor.insights.custom_metrics is empty): nothing to compare the "
            f"{len(received)} received name(s) with",
        )
    if problem is None and not received:
        problem = (
            Status.INCONCLUSIVE,
            "no custom metric at all arrived in the window: a quiet window cannot show whether "
            f"{', '.join(expected)} are configured (widen monitor.window or look after traffic)",
        )
    if problem is not None:
        return ctx.result(
            "custom-metrics",
            title,
            problem[0],
            {"received": received} if received else None,
            threshold,
            problem[1],
            evidence,
            SECTION_ALERTS,
        )
    missing = [n for n in expected if n not in received]
    observed = {
        "received": received,
        "missing": missing,
        "unexpected": sorted(set(received) - set(expected)),
    }
    status = Status.FAIL if missing else Status.PASS
    explanation = (
        f"{len(expected) - len(missing)} of {len(expected)} expected custom metric(s) "
        f"received in the window"
        + (f"; missing: {', '.join(missing)}" if missing else "")
        + f" ({len(received)} name(s) received)"
    )
    return ctx.result(
        "custom-metrics", title, status, observed, threshold, explanation, evidence, SECTION_ALERTS
    )


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
        _server_errors_check(ctx),
        _worker_errors_check(ctx),
        _custom_metrics_check(ctx),
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
        from runbook.phases.monitoring.figures import log_figures

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
    secrets: Iterable[str] = (),
) -> LogReport:
    """Query Application Insights over the window and judge p95, error rate, exceptions, deps,
    5xx requests, the worker's errors and the custom metrics (text masked of `secrets`);
    without an App Service (SKIP) or a workspace (INCONCLUSIVE), one result says why not."""
    if azure is None or params.logs is None:
        from runbook.phases.monitoring.absent import absent_source

        report = LogReport(params, window_bounds(params, now), {}, {})
        report.results = [
            absent_source(
                "monitor.logs",
                "No errors in application logs (Application Insights)",
                params,
                azure=azure is not None,
            )
        ]
        return report
    tables, outcomes, window = fetch_logs(params, azure, client=client, now=now, secrets=secrets)
    report = LogReport(params, window, tables, outcomes)
    report.results = judge_logs(tables, outcomes, params, window)
    return report
