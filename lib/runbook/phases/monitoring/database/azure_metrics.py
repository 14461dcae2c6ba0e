"""Azure Database for PostgreSQL (flexible server): the Monitoring §2 quantities from Azure Monitor
platform metrics (active_connections, connections_failed, cpu_percent, memory_percent,
storage_percent, storage_used) over a look-back window, read with the same azure-mgmt-monitor
client as the App Service metrics (its ARM endpoint, credential and CA bundle).

A metric that cannot be read (an SDK failure, an errorCode, no series, no value in the window) is
INCONCLUSIVE with the reason, never a pass; values are judged per interval."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.mgmt.monitor import MonitorManagementClient

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretUnavailable, resolve
from runbook.phases.monitoring.database.params import (
    AzurePostgresParams,
    DatabaseParams,
    PostgresMetric,
)
from runbook.phases.monitoring.workers.check_specs import CheckSpec
from runbook.providers.azure.errors import describe_azure_error
from runbook.providers.azure.metrics import read_metric
from runbook.providers.azure.params import AzureParams

_S2 = "Monitoring and Alerting §2 Database Monitoring (Azure Database for PostgreSQL)"
ACTIVE = CheckSpec(
    "database.azure.active_connections",
    f"{_S2} — Active connections",
    "Active connections (Azure Monitor)",
    Severity.WARNING,
)
FAILED = CheckSpec(
    "database.azure.connections_failed",
    f"{_S2} — Connection pool usage (No database connection errors; No connection pool exhaustion)",
    "No failed connections (Azure Monitor)",
)
CPU = CheckSpec(
    "database.azure.cpu",
    f"{_S2} — Query performance (server CPU; CPU usage < 70%)",
    "Database server CPU (Azure Monitor)",
)
MEMORY = CheckSpec(
    "database.azure.memory",
    f"{_S2} — server memory (§5 memory > 80% / > 90%)",
    "Database server memory (Azure Monitor)",
)
STORAGE = CheckSpec(
    "database.azure.storage",
    f"{_S2} — Database size (storage used of the provisioned storage)",
    "Database storage (Azure Monitor)",
)
SIZE = CheckSpec(
    "database.azure.size",
    f"{_S2} — Database size",
    "Database size (Azure Monitor)",
    Severity.WARNING,
)
AZURE_SPECS = (ACTIVE, FAILED, CPU, MEMORY, STORAGE, SIZE)
ROLES = (
    "active_connections",
    "connections_failed",
    "cpu_percent",
    "memory_percent",
    "storage_percent",
    "storage_used",
)


@dataclass
class MetricSeries:
    """One metric as read: (interval start, value or None) pairs, or why it could not be read."""

    role: str
    metric: PostgresMetric
    points: list[tuple[str, float | None]] = field(default_factory=list)
    problem: str | None = None  # INCONCLUSIVE reason (SDK failure, errorCode, no series)
    failure: dict[str, Any] | None = None

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points if v is not None]

    def evidence(self) -> dict[str, Any]:
        return {
            "metric": self.metric.name,
            "aggregation": self.metric.aggregation,
            "points": [{"timestamp": t, "value": v} for t, v in self.points],
            **({"problem": self.problem} if self.problem else {}),
            **({"failure": self.failure} if self.failure else {}),
        }


def resource_id_of(p: AzurePostgresParams) -> str:
    """The flexible server's ARM id (resolved when it is a reference; ValueError when the
    variable holds something else; SecretUnavailable when unset)."""
    if isinstance(p.resource_id, str):
        return p.resource_id
    from runbook.phases.monitoring.database.params import FLEXIBLE_SERVER_ID

    value = resolve(p.resource_id).strip()
    if not FLEXIBLE_SERVER_ID.match(value):
        raise ValueError(
            f"{p.resource_id.describe()} does not hold a Microsoft.DBforPostgreSQL/"
            "flexibleServers resource id"
        )
    return value


def window_of(p: AzurePostgresParams, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) of the look-back window, ending `ingestion_lag` before now, whole seconds."""
    end = (now or datetime.now(UTC)).astimezone(UTC) - p.delta("ingestion_lag")
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return end - p.delta("window"), end


def _read(
    client: MonitorManagementClient,
    resource: str,
    role: str,
    spec: PostgresMetric,
    timespan: str,
    interval: str,
) -> MetricSeries:
    out = MetricSeries(role, spec)
    read = read_metric(client, resource, spec.name, spec.aggregation, timespan=timespan,
                       interval=interval)  # fmt: skip
    if read.kind != "ok":
        out.problem, out.failure = read.problem, read.failure
        return out
    out.points.extend((time.isoformat(), value) for time, value in read.points)
    if not out.values:
        out.problem = "no value in the window: nothing to judge"
    return out


def fetch_postgres_metrics(
    p: AzurePostgresParams,
    azure: AzureParams,
    resource: str,
    *,
    client: MonitorManagementClient | None = None,
    now: datetime | None = None,
) -> dict[str, MetricSeries]:
    """Every role's metric over the window, read side by side (role -> series)."""
    from runbook.phases.monitoring.clients import monitor_client
    from runbook.phases.monitoring.params import iso_duration

    start, end = window_of(p, now)
    timespan = f"{start.isoformat()}/{end.isoformat()}".replace("+00:00", "Z")
    interval = iso_duration(p.delta("interval"))
    specs = {role: getattr(p.metrics, role) for role in ROLES}
    if client is None:
        try:
            client = monitor_client(azure)
        except Exception as exc:  # noqa: BLE001 -- fail closed
            failure = describe_azure_error(exc)
            return {
                r: MetricSeries(
                    r,
                    s,
                    problem=f"cannot build the Monitor client: {failure.message}",
                    failure=failure.model_dump(),
                )
                for r, s in specs.items()
            }
    built = client
    with ThreadPoolExecutor(3, thread_name_prefix="runbook-pg-metrics") as pool:
        read = list(
            pool.map(
                lambda r: _read(built, resource.lstrip("/"), r, specs[r], timespan, interval), ROLES
            )
        )
    return dict(zip(ROLES, read, strict=True))


def azure_database_checks(
    params: DatabaseParams | None,
    azure: AzureParams | None,
    *,
    client: MonitorManagementClient | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """The flexible server's metrics judged (active connections, failed connections, CPU,
    memory, storage, size); one SKIP when no server is configured here."""
    if params is None or params.azure is None:
        return [
            ACTIVE.skip(
                "not configured: no 'database.azure' section (the database is not "
                "an Azure Database for PostgreSQL here), so no Azure metric was read"
            )
        ]
    p = params.azure
    if azure is None:
        return [
            s.result(
                Status.INCONCLUSIVE,
                "cannot look: 'database.azure' needs the 'azure' "
                "section (ARM endpoint and credential)",
            )
            for s in AZURE_SPECS
        ]
    try:
        resource = resource_id_of(p)
    except SecretUnavailable as exc:
        return [s.result(Status.INCONCLUSIVE, f"cannot look: {exc}") for s in AZURE_SPECS]
    except ValueError as exc:
        return [s.error(str(exc)) for s in AZURE_SPECS]
    series = fetch_postgres_metrics(p, azure, resource, client=client, now=now)
    start, end = window_of(p, now)
    base = {
        "resource_id": resource,
        "arm_endpoint": azure.arm_endpoint,
        "window": {"start": start.isoformat(), "end": end.isoformat(), "interval": p.interval},
    }
    return [
        judge(spec, series[role], p, base) for spec, role in zip(AZURE_SPECS, ROLES, strict=True)
    ]


Judge = Callable[[MetricSeries, AzurePostgresParams], tuple[Status, str, Any, Any]]


def judge(
    spec: CheckSpec, s: MetricSeries, p: AzurePostgresParams, base: dict[str, Any]
) -> CheckResult:
    """One metric's result: INCONCLUSIVE when it could not be read, else its own rule."""
    evidence = {**base, **s.evidence()}
    if s.problem is not None:
        return spec.result(Status.INCONCLUSIVE, f"{s.metric.name}: {s.problem}", evidence=evidence)
    status, text, observed, threshold = _RULES[s.role](s, p)
    return spec.result(status, text, observed=observed, threshold=threshold, evidence=evidence)


def _active(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    peak, limit = max(s.values), p.thresholds.active_connections_max
    observed = {"max": peak, "intervals": len(s.values)}
    if limit is None:
        return (
            Status.PASS,
            f"at most {peak:g} active connections over {len(s.values)} "
            "interval(s) (recorded; no limit configured)",
            observed,
            None,
        )
    ok = peak <= limit
    return (
        Status.PASS if ok else Status.FAIL,
        f"at most {peak:g} active connections, {'within' if ok else 'above'} {limit}",
        observed,
        f"<= {limit}",
    )


def _failed(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    total, allowed = sum(s.values), p.thresholds.connections_failed_max
    bad = [t for t, v in s.points if v]
    observed = {"failed": total, "intervals_with_failures": len(bad)}
    text = f"{total:g} failed connection(s) in the window (allowed {allowed})"
    if bad:
        text += f"; first in the interval from {bad[0]}"
    return (
        Status.PASS if total <= allowed else Status.FAIL,
        text,
        observed,
        f"<= {allowed} in the window",
    )


def _levels(
    s: MetricSeries, fail_at: float, warn_at: float | None, what: str
) -> tuple[Status, str, Any, Any]:
    worst, n = max(s.values), len(s.values)
    mean = sum(s.values) / n
    fails = [v for v in s.values if v >= fail_at]
    warns = [v for v in s.values if warn_at is not None and v >= warn_at]
    status = Status.FAIL if fails else Status.WARN if warns else Status.PASS
    text = (
        f"{what}: worst interval {worst:.1f} %, mean {mean:.1f} % over {n} interval(s); "
        f"{len(fails)} at or over {fail_at:g} %"
        + (f", {len(warns)} at or over {warn_at:g} %" if warn_at is not None else "")
    )
    threshold = {
        "fail_at_or_over": fail_at,
        "unit": "%",
        **({"warn_at_or_over": warn_at} if warn_at is not None else {}),
    }
    return (
        status,
        text,
        {
            "worst": round(worst, 2),
            "mean": round(mean, 2),
            "intervals": n,
            "intervals_failing": len(fails),
        },
        threshold,
    )


def _cpu(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    return _levels(s, p.thresholds.cpu_percent, None, "CPU")


def _memory(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    t = p.thresholds
    return _levels(s, t.memory_critical_percent, t.memory_warning_percent, "memory")


def _storage(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    t = p.thresholds
    return _levels(s, t.storage_percent, t.storage_warning_percent, "storage used")


def _size(s: MetricSeries, p: AzurePostgresParams) -> tuple[Status, str, Any, Any]:
    latest = next(v for _, v in reversed(s.points) if v is not None)
    peak, limit = max(s.values), p.thresholds.storage_used_max_bytes
    observed = {
        "latest_bytes": int(latest),
        "max_bytes": int(peak),
        "latest_mib": round(latest / 2**20, 1),
    }
    if limit is None:
        return (
            Status.PASS,
            f"storage used {latest / 2**20:.1f} MiB ({int(latest)} bytes; "
            "recorded, no limit configured)",
            observed,
            None,
        )
    ok = peak <= limit
    return (
        Status.PASS if ok else Status.FAIL,
        f"storage used up to {int(peak)} bytes, {'within' if ok else 'above'} {limit}",
        observed,
        f"<= {limit} bytes",
    )


_RULES: dict[str, Judge] = {
    "active_connections": _active,
    "connections_failed": _failed,
    "cpu_percent": _cpu,
    "memory_percent": _memory,
    "storage_percent": _storage,
    "storage_used": _size,
}
