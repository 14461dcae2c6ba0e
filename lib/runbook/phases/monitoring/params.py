"""Parameters of the monitor phase (checklist "Deployment Steps" §1.3, §2.5, §3.3, §3.4, §3.5 and
"Monitoring and Alerting" §1, §5). Defaults follow the checklist's lines; every metric name,
query, threshold and alert rule is a parameter."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.checks import Severity
from runbook.core.logscan import LogScanParams

LOGS_ENDPOINT = "https://api.loganalytics.io"
LOGS_AUDIENCE = "https://api.loganalytics.io"
SECTION_34 = "Deployment Steps §3.4 Monitor Production (First 24 Hours)"
SECTION_ALERTS = "Monitoring and Alerting §1 Application Monitoring, §5 Alert Configuration"

_ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """An ISO 8601 duration ('PT30M', 'PT1H', 'P1D', 'P2D') or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(minutes=float(value))
    text = str(value).strip().upper()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(minutes=float(text))
    match = _ISO_DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{value!r} is not an ISO 8601 duration (PT30M, PT1H, P1D) or minutes")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)


def iso_duration(delta: timedelta) -> str:
    """A timedelta as the ISO 8601 duration Azure expects (PT1M, PT1H, P1D)."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return out + (f"{secs}S" if secs else "")


def kql_timespan(delta: timedelta) -> str:
    """A timedelta as a KQL timespan literal (1m, 5m, 1h, 1d, 30s)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = str | int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSpec(_Strict):
    """One Azure Monitor platform metric of the App Service and the aggregation read from it."""

    name: str
    aggregation: Literal["Total", "Average", "Maximum", "Minimum", "Count"]


class MetricNames(_Strict):
    """Which App Service (Microsoft.Web/sites) metrics play which role."""

    requests: MetricSpec = MetricSpec(name="Requests", aggregation="Total")
    http5xx: MetricSpec = MetricSpec(name="Http5xx", aggregation="Total")
    http4xx: MetricSpec = MetricSpec(name="Http4xx", aggregation="Total")
    response_time: MetricSpec = Field(
        default=MetricSpec(name="HttpResponseTime", aggregation="Average"),
        description="seconds, AVERAGE per interval: the platform metric has no percentile; "
        "the p95 gate is the Logs one, this is a secondary signal",
    )
    cpu_time: MetricSpec = Field(
        default=MetricSpec(name="CpuTime", aggregation="Total"),
        description="CPU seconds used per interval by the site; CPU % = CpuTime / interval / "
        "instance.cpu_cores × 100 (the site exposes no CPU percentage; the plan's CpuPercentage "
        "mixes every app of the plan)",
    )
    memory: MetricSpec = MetricSpec(name="MemoryWorkingSet", aggregation="Average")
    health: MetricSpec = Field(
        default=MetricSpec(name="HealthCheckStatus", aggregation="Average"),
        description="% of instances answering the health check path",
    )


class InstanceSize(_Strict):
    """The App Service instance, to turn CPU seconds and bytes into percentages."""

    cpu_cores: float = Field(default=1.0, gt=0, description="cores per instance (B1/S1/P1v3: 1–2)")
    memory_mb: float = Field(
        default=1792.0, gt=0, description="memory per instance, MiB (B1: 1.75 GB)"
    )
    instances: int = Field(
        default=1, ge=1, description="instance count (metrics are summed over them)"
    )


class MetricThresholds(_Strict):
    """The checklist's lines: gates (§3.4) and alert levels (Monitoring §5)."""

    error_rate: float = Field(
        default_factory=CatalogueLimit("error_rate_gate"),
        ge=0,
        le=1,
        description="§3.4 gate: error rate < this",
    )
    error_rate_critical: float = Field(
        default_factory=CatalogueLimit("error_rate_rollback"),
        ge=0,
        le=1,
        description="§5 critical: > this",
    )
    min_requests_per_interval: int = Field(
        default=20, ge=1, description="intervals with fewer requests are judged only in the total"
    )
    response_time_ms: float = Field(
        default_factory=CatalogueLimit("p95_gate_ms"),
        gt=0,
        description="§3.4: response time < this",
    )
    response_time_warning_ms: float = Field(
        default_factory=CatalogueLimit("p95_warning_ms"),
        gt=0,
        description="§5 warning: p95 > this",
    )
    cpu_percent: float = Field(
        default_factory=CatalogueLimit("cpu_percent"),
        gt=0,
        description="§3.4 gate: CPU usage < this",
    )
    cpu_warning_percent: float = Field(
        default_factory=CatalogueLimit("cpu_warning_percent"),
        gt=0,
        description="§5 warning: CPU > this",
    )
    memory_warning_percent: float = Field(
        default_factory=CatalogueLimit("memory_warning_percent"),
        gt=0,
        description="§5 warning: memory > this",
    )
    memory_critical_percent: float = Field(
        default_factory=CatalogueLimit("memory_critical_percent"),
        gt=0,
        description="§5 critical: memory > this",
    )
    memory_slope_mb_per_h: float = Field(
        default_factory=CatalogueLimit("memory_slope_mb_per_h"),
        gt=0,
        description="§3.4 'memory usage stable': working-set growth below this",
    )
    memory_slope_min_points: int = Field(
        default=3, ge=2, description="intervals needed for a slope"
    )
    memory_slope_severity: Severity = Field(
        default=Severity.BLOCKER,
        description="a window of minutes (a rehearsal) cannot prove 'memory stable': warning there",
    )
    health_min_percent: float = Field(
        default=100.0, ge=0, le=100, description="HealthCheckStatus ≥ this"
    )


class LogQueries(_Strict):
    """KQL run against the Log Analytics workspace of Application Insights (workspace-based:
    AppRequests / AppExceptions / AppDependencies). `{bin}` is replaced by the interval as a KQL
    timespan (e.g. 1m); the time range is the query's timespan, not a where clause. The
    `// runbook:<shape>` first line names the shape (the local stand-in answers by it)."""

    requests_per_bin: str = (
        "// runbook:requests-per-bin\n"
        "AppRequests\n"
        "| summarize requests = count(), failed = countif(toint(ResultCode) >= 500),\n"
        "    p50_ms = percentile(DurationMs, 50), p95_ms = percentile(DurationMs, 95),\n"
        "    p99_ms = percentile(DurationMs, 99) by TimeGenerated = bin(TimeGenerated, {bin})\n"
        "| extend error_rate = todouble(failed) / requests\n"
        "| project TimeGenerated, requests, failed, error_rate, p50_ms, p95_ms, p99_ms\n"
        "| order by TimeGenerated asc"
    )
    requests_overall: str = (
        "// runbook:requests-overall\n"
        "AppRequests\n"
        "| summarize requests = count(), failed = countif(toint(ResultCode) >= 500),\n"
        "    p50_ms = percentile(DurationMs, 50), p95_ms = percentile(DurationMs, 95),\n"
        "    p99_ms = percentile(DurationMs, 99)\n"
        "| extend error_rate = todouble(failed) / requests"
    )
    exceptions_by_type: str = (
        "// runbook:exceptions-by-type\n"
        "AppExceptions\n"
        "| summarize count_ = count() by ExceptionType\n"
        "| order by count_ desc"
    )
    dependencies_by_type: str = (
        "// runbook:dependencies-by-type\n"
        "AppDependencies\n"
        "| summarize calls = count(), failed = countif(Success == false),\n"
        "    avg_ms = avg(DurationMs), p95_ms = percentile(DurationMs, 95) by DependencyType\n"
        "| order by DependencyType asc"
    )
    server_errors: str = Field(
        default=(
            "// runbook:server-errors\n"
            "AppRequests\n"
            "| where toint(ResultCode) >= 500\n"
            "| summarize count_ = count(), first_seen = min(TimeGenerated),\n"
            "    last_seen = max(TimeGenerated) by Name, ResultCode\n"
            "| order by first_seen asc"
        ),
        description="'No 500 errors in logs': the 5xx requests, per operation and result code",
    )
    worker_activity: str = Field(
        default=(
            "// runbook:worker-activity\n"
            "union AppTraces, AppExceptions\n"
            '| where AppRoleName == "{role}"\n'
            "| summarize telemetry = count(), errors = countif(SeverityLevel >= {severity}),\n"
            "    first_seen = min(TimeGenerated), last_seen = max(TimeGenerated)"
        ),
        description="the worker's traces and exceptions counted ({role}: insights.worker_role, "
        "{severity}: thresholds.worker_min_severity)",
    )
    worker_errors: str = Field(
        default=(
            "// runbook:worker-errors\n"
            "union AppTraces, AppExceptions\n"
            '| where AppRoleName == "{role}" and SeverityLevel >= {severity}\n'
            "| project TimeGenerated, ItemType = Type, SeverityLevel, OperationName,\n"
            "    ExceptionType, Message = iff(isempty(Message), OuterMessage, Message)\n"
            "| order by TimeGenerated asc\n"
            "| take {limit}"
        ),
        description="the worker's first error records ({limit}: thresholds.quote_errors)",
    )
    custom_metrics: str = Field(
        default=(
            "// runbook:custom-metrics\n"
            "AppMetrics\n"
            "| summarize records = count(), value_sum = sum(Sum), last_seen = max(TimeGenerated)\n"
            "    by Name\n"
            "| order by Name asc"
        ),
        description="the custom metric names received (customMetrics: AppMetrics)",
    )


class LogThresholds(_Strict):
    """Lines judged on the Logs data (checklist §3.4 and Monitoring §5)."""

    p95_ms: float = Field(
        default_factory=CatalogueLimit("p95_gate_ms"),
        gt=0,
        description="§3.4: API response time p95 < this",
    )
    p95_warning_ms: float = Field(
        default_factory=CatalogueLimit("p95_warning_ms"),
        gt=0,
        description="§5 warning: p95 > this",
    )
    error_rate: float = Field(
        default_factory=CatalogueLimit("error_rate_gate"),
        ge=0,
        le=1,
        description="§3.4: error rate < this",
    )
    error_rate_critical: float = Field(
        default_factory=CatalogueLimit("error_rate_rollback"),
        ge=0,
        le=1,
        description="§5 critical: > this",
    )
    min_requests_per_bin: int = Field(default=20, ge=1, description="bins judged against critical")
    max_exceptions: int = Field(default=0, ge=0, description="'No errors in application logs'")
    database_ms: float = Field(
        default_factory=CatalogueLimit("database_ms"),
        gt=0,
        description="§3.4: database query time < this",
    )
    database_stat: Literal["p95_ms", "avg_ms"] = "p95_ms"
    database_types: list[str] = Field(
        default_factory=lambda: ["SQL", "postgresql", "PostgreSQL", "Postgres"],
        description="DependencyType values that are the database",
    )
    redis_types: list[str] = Field(default_factory=lambda: ["Redis", "redis"])
    max_server_errors: int = Field(
        default=0, ge=0, description="'No 500 errors in logs': 5xx requests allowed in the window"
    )
    max_worker_errors: int = Field(
        default=0,
        ge=0,
        description="'No errors in Celery worker logs': the worker's error "
        "traces and exceptions allowed in the window",
    )
    worker_min_severity: int = Field(
        default=3,
        ge=0,
        le=4,
        description="Application Insights SeverityLevel counted as an "
        "error (0 verbose, 1 information, 2 warning, 3 error, 4 critical)",
    )
    quote_errors: int = Field(
        default=5, ge=1, le=50, description="error records quoted in the evidence (secrets masked)"
    )


class InsightsExpectations(_Strict):
    """What the team's Application Insights telemetry should hold, whichever workspace it is in
    (kept apart from monitor.logs so a shared file can name it without a workspace)."""

    worker_role: str | None = Field(
        default=None,
        description="cloud role name (AppRoleName) of the Celery worker's "
        "telemetry; None: the worker's errors are not read from Application Insights",
    )
    custom_metrics: list[str] = Field(
        default_factory=list,
        description="custom metric names that must arrive in the window "
        "('Custom metrics configured'); empty: nothing to compare with, INCONCLUSIVE",
    )

    @field_validator("worker_role")
    @classmethod
    def _plain_role(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.:@/ -]{1,200}", value):
            raise ValueError("a role name of letters, digits and _.:@/- (it goes into KQL)")
        return value


class LogsParams(_Strict):
    """Where the Application Insights logs are and what is asked of them."""

    endpoint: str = Field(default=LOGS_ENDPOINT, description="Log Analytics query endpoint")
    audience: str = Field(
        default=LOGS_AUDIENCE, description="token audience: stays the real one for a local endpoint"
    )
    workspace_id: str = Field(description="Log Analytics workspace (customer) id")
    queries: LogQueries = Field(default_factory=lambda: LogQueries())
    thresholds: LogThresholds = Field(default_factory=lambda: LogThresholds())
    server_timeout: int = Field(
        default=60, ge=1, le=600, description="seconds the service may take"
    )

    @field_validator("endpoint")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.rstrip("/")


class RequiredAlertRule(_Strict):
    """A metric alert rule the checklist requires: on one of `metric_names`, `operator`,
    firing at `threshold` or earlier (a '>' rule with a higher threshold is weaker)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    metric_names: list[str] = Field(min_length=1, description="any of these metrics satisfies")
    operator: Literal[">", ">=", "<", "<="]
    threshold: float
    unit: str = ""
    time_aggregation: str | None = Field(default=None, description="required aggregation, if any")
    azure_severity_at_most: int | None = Field(
        default=None,
        ge=0,
        le=4,
        description="the rule's Azure severity must be this or more urgent "
        "(0 critical, 1 error, 2 warning); None: any",
    )
    severity: Severity = Severity.BLOCKER


def default_alert_rules() -> list[RequiredAlertRule]:
    """Monitoring §1 and §5: error rate > 1 % and > 5 %, p95 > 500 ms, availability < 99 %,
    memory > 80 % / > 90 %, CPU > 80 %."""
    return [
        RequiredAlertRule(
            id="error-rate-warning", title="Error rate alert configured (> 1%)",
            metric_names=["ErrorRatePercent"], operator=">",
            threshold=CatalogueLimit("error_rate_gate", 100)(), unit="%",
            azure_severity_at_most=2,
        ),
        RequiredAlertRule(
            id="error-rate-critical", title="Critical alert: error rate > 5%",
            metric_names=["ErrorRatePercent"], operator=">",
            threshold=CatalogueLimit("error_rate_rollback", 100)(), unit="%",
            azure_severity_at_most=1,
        ),
        RequiredAlertRule(
            id="response-time", title="Response time alert configured (p95 > 500ms)",
            metric_names=["HttpResponseTime"], operator=">",
            threshold=CatalogueLimit("p95_warning_ms", 0.001)(), unit="s",
            azure_severity_at_most=2,
        ),
        RequiredAlertRule(
            id="availability", title="Availability alert configured (< 99%)",
            metric_names=["availabilityResults/availabilityPercentage"], operator="<",
            threshold=CatalogueLimit("availability_percent")(), unit="%",
        ),
        RequiredAlertRule(
            id="memory-warning", title="Warning alert: memory usage > 80%",
            metric_names=["MemoryPercentage"], operator=">",
            threshold=CatalogueLimit("memory_warning_percent")(), unit="%",
            azure_severity_at_most=2,
        ),
        RequiredAlertRule(
            id="memory-critical", title="Critical alert: memory usage > 90%",
            metric_names=["MemoryPercentage"], operator=">",
            threshold=CatalogueLimit("memory_critical_percent")(), unit="%",
            azure_severity_at_most=1,
        ),
        RequiredAlertRule(
            id="cpu-warning", title="Warning alert: CPU usage > 80%",
            metric_names=["CpuPercentage"], operator=">",
            threshold=CatalogueLimit("cpu_warning_percent")(), unit="%",
            azure_severity_at_most=2,
        ),
    ]  # fmt: skip


class ScheduleCheckParams(_Strict):
    """How the §3.5 cadence is judged: the slack a late scheduled run is allowed."""

    tolerance: Duration = Field(
        default="PT15M",
        description="a gap between monitor runs may exceed its stage's "
        "cadence by this much (CI queues, run time)",
    )
    severity: Severity = Severity.BLOCKER

    @property
    def tolerance_delta(self) -> timedelta:
        return parse_duration(self.tolerance)


class ScheduleStage(_Strict):
    """One stage of §3.5 extended monitoring: from `start_h` to `end_h` hours after the
    deployment, a check every `every_h` hours, each looking back `every_h` hours."""

    label: str
    start_h: int = Field(ge=0)
    end_h: int = Field(gt=0)
    every_h: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleStage:
        if self.end_h <= self.start_h:
            raise ValueError("end_h must be after start_h")
        return self


def default_schedule() -> list[ScheduleStage]:
    """§3.5: day 1 hourly, days 2–3 every 4 hours, days 4–7 daily."""
    return [
        ScheduleStage(label="Day 1: Hourly checks", start_h=0, end_h=24, every_h=1),
        ScheduleStage(label="Day 2-3: Every 4 hours", start_h=24, end_h=72, every_h=4),
        ScheduleStage(label="Day 4-7: Daily checks", start_h=72, end_h=168, every_h=24),
    ]


class AppLogParams(LogScanParams):
    """The app's own log (§1.3): by default the one a development deploy of this run wrote."""

    path: str | None = Field(
        default=None,
        description="the app's log file (relative to the runbook's checkout); "
        "None: evidence/deploy/app.log of this run, written when the runbook started the app",
    )


class MonitorParams(_Strict):
    """Everything the monitor phase needs: the window, the metrics and their lines, the logs,
    the alert rules required, and how errors of a data source are counted."""

    window: Duration = Field(
        default="PT30M", description="look back this far, ending now (ISO 8601 or minutes)"
    )
    interval: Duration = Field(default="PT1M", description="metric interval / log bin")
    ingestion_lag: Duration = Field(
        default=0,
        description="the window ends this long before now (Azure Monitor ingestion delay)",
    )
    section: str = SECTION_34
    metrics: MetricNames = Field(default_factory=lambda: MetricNames())
    instance: InstanceSize = Field(default_factory=lambda: InstanceSize())
    thresholds: MetricThresholds = Field(default_factory=lambda: MetricThresholds())
    consecutive_error_limit: int = Field(
        default=3,
        ge=1,
        description="this many consecutive intervals without a value (after the "
        "first value) make a metric check INCONCLUSIVE",
    )
    logs: LogsParams | None = Field(default=None, description="None: the Logs checks are not run")
    insights: InsightsExpectations = Field(
        default_factory=lambda: InsightsExpectations(),
        description="the worker's cloud role and the custom metrics expected in the telemetry",
    )
    app_log: AppLogParams = Field(
        default_factory=lambda: AppLogParams(),
        description="§1.3 'No errors in application logs' from the app's own log file",
    )
    alert_rules: list[RequiredAlertRule] = Field(default_factory=default_alert_rules)
    alert_section: str = SECTION_ALERTS
    schedule: list[ScheduleStage] = Field(default_factory=default_schedule)
    schedule_check: ScheduleCheckParams = Field(default_factory=lambda: ScheduleCheckParams())
    schedule_command: str = Field(
        default="runbook run --env {env} --phase monitor --param monitor.window={window}",
        description="what a scheduled job runs; {env} and {window} are filled in",
    )

    @field_validator("window", "interval", "ingestion_lag")
    @classmethod
    def _duration(cls, value: Duration) -> Duration:
        if parse_duration(value).total_seconds() < 0:
            raise ValueError("durations must not be negative")
        return value

    @model_validator(mode="after")
    def _interval_fits(self) -> MonitorParams:
        window, interval = parse_duration(self.window), parse_duration(self.interval)
        if interval.total_seconds() < 60 or interval.total_seconds() % 60:
            raise ValueError("interval must be whole minutes (Azure Monitor grains: PT1M …)")
        if interval > window:
            raise ValueError("interval must not be longer than the window")
        return self

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def interval_delta(self) -> timedelta:
        return parse_duration(self.interval)

    @property
    def lag_delta(self) -> timedelta:
        return parse_duration(self.ingestion_lag)
