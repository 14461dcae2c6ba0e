"""Parameters of the database checks (checklist "Monitoring and Alerting" §2 Database Monitoring,
§5 alerts; Deployment Steps "connection pool" and "database performance" boxes).

Query-time defaults are the checklist's: database query time < 100 ms (§2.4, §3.4) and the
warning alert at > 200 ms (§5); the catalogue defines them once (limits `database_ms`,
`database_warning_ms`). The connection URL is only ever a secret reference.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.secret_refs import SecretRef

FLEXIBLE_SERVER_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.DBforPostgreSQL"
    r"/flexibleServers/[^/]+$",
    re.IGNORECASE,
)
# named defaults of lines the checklist does not state (say so where they are used)
STORAGE_WARNING_PERCENT = 80.0  # Azure's own advice: act before a flexible server's disk fills
STORAGE_PERCENT = 90.0
FAILED_CONNECTIONS_ALLOWED = 0  # "No database connection errors": none in the window
POOL_RISE_PERCENT = 10.0  # pool stable: connections may not climb by more than this share
POOL_MIN_READINGS = 5


class PostgresMetric(BaseModel):
    """One Azure Monitor platform metric of the flexible server and the aggregation read."""

    model_config = ConfigDict(extra="forbid")

    name: str
    aggregation: Literal["Total", "Average", "Maximum", "Minimum", "Count"]


class PostgresMetricNames(BaseModel):
    """Which Microsoft.DBforPostgreSQL/flexibleServers metrics play which role (Azure's names)."""

    model_config = ConfigDict(extra="forbid")

    active_connections: PostgresMetric = PostgresMetric(
        name="active_connections", aggregation="Maximum"
    )
    connections_failed: PostgresMetric = PostgresMetric(
        name="connections_failed", aggregation="Total"
    )
    cpu_percent: PostgresMetric = PostgresMetric(name="cpu_percent", aggregation="Maximum")
    memory_percent: PostgresMetric = PostgresMetric(name="memory_percent", aggregation="Maximum")
    storage_percent: PostgresMetric = PostgresMetric(name="storage_percent", aggregation="Maximum")
    storage_used: PostgresMetric = PostgresMetric(name="storage_used", aggregation="Maximum")


class PostgresThresholds(BaseModel):
    """Lines the Azure metrics are judged by: the checklist's where it states one (CPU < 70 %,
    memory warning > 80 % / critical > 90 %, no database connection errors), named defaults
    otherwise (storage)."""

    model_config = ConfigDict(extra="forbid")

    cpu_percent: float = Field(
        default_factory=CatalogueLimit("cpu_percent"),
        gt=0,
        le=100,
        description="checklist §3.4 CPU usage < 70%: the worst interval at or above fails",
    )
    memory_warning_percent: float = Field(
        default_factory=CatalogueLimit("memory_warning_percent"),
        gt=0,
        le=100,
        description="checklist §5 warning: memory usage > 80%",
    )
    memory_critical_percent: float = Field(
        default_factory=CatalogueLimit("memory_critical_percent"),
        gt=0,
        le=100,
        description="checklist §5 critical: memory usage > 90% (fails)",
    )
    storage_warning_percent: float = Field(
        STORAGE_WARNING_PERCENT,
        gt=0,
        le=100,
        description="storage_percent at or above: warn (no checklist line)",
    )
    storage_percent: float = Field(
        STORAGE_PERCENT, gt=0, le=100, description="storage_percent at or above: fail"
    )
    connections_failed_max: int = Field(
        FAILED_CONNECTIONS_ALLOWED,
        ge=0,
        description="failed connections allowed in the window (No database connection errors)",
    )
    active_connections_max: int | None = Field(
        None, ge=1, description="None: active connections are recorded, not judged"
    )
    storage_used_max_bytes: int | None = Field(
        None, gt=0, description="None: the database size (storage_used) is recorded, not judged"
    )

    @model_validator(mode="after")
    def _ordered(self) -> PostgresThresholds:
        if self.memory_warning_percent > self.memory_critical_percent:
            raise ValueError("memory_warning_percent must not exceed memory_critical_percent")
        if self.storage_warning_percent > self.storage_percent:
            raise ValueError("storage_warning_percent must not exceed storage_percent")
        return self


class AzurePostgresParams(BaseModel):
    """Azure Database for PostgreSQL (flexible server): Azure Monitor metrics over a look-back
    window, read through the `azure` section's ARM endpoint and credential."""

    model_config = ConfigDict(extra="forbid")

    resource_id: str | SecretRef = Field(
        description="/subscriptions/…/resourceGroups/…/providers/Microsoft.DBforPostgreSQL/"
        "flexibleServers/<name>, or a reference to the variable holding it"
    )
    window: str = Field("PT30M", description="look-back window (ISO 8601 duration)")
    interval: str = Field("PT1M", description="metric interval (ISO 8601, at least PT1M)")
    ingestion_lag: str = Field("PT5M", description="the window ends this long before now")
    metrics: PostgresMetricNames = Field(default_factory=PostgresMetricNames)
    thresholds: PostgresThresholds = Field(default_factory=PostgresThresholds)

    @field_validator("resource_id")
    @classmethod
    def _flexible_server(cls, value: str | SecretRef) -> str | SecretRef:
        if isinstance(value, str) and not FLEXIBLE_SERVER_ID.match(value):
            raise ValueError(
                "resource_id must be /subscriptions/{id}/resourceGroups/{group}/"
                "providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}"
            )
        return value

    @field_validator("window", "interval", "ingestion_lag")
    @classmethod
    def _duration(cls, value: str) -> str:
        from runbook.phases.monitoring.params import parse_duration

        parse_duration(value)
        return value

    def delta(self, name: Literal["window", "interval", "ingestion_lag"]) -> timedelta:
        """One of the durations as a timedelta."""
        from runbook.phases.monitoring.params import parse_duration

        return parse_duration(getattr(self, name))


class PoolStabilityParams(BaseModel):
    """Connection pool readings taken during the performance load ("Connection pool stable")."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(1.0, gt=0, le=60, description="one reading every this long")
    min_readings: int = Field(POOL_MIN_READINGS, ge=2, description="fewer readings: inconclusive")
    max_rise_pct: float = Field(
        POOL_RISE_PERCENT,
        gt=0,
        le=100,
        description="the fitted rise of connections over the measured load, as a share of the "
        "usable slots, above which the pool is rising (a leak), not stable",
    )


class DatabaseParams(BaseModel):
    """The PostgreSQL database to read (pg_stat_*, pg_settings) and the lines to judge it by."""

    model_config = ConfigDict(extra="forbid")

    url: SecretRef = Field(
        description="environment variable holding the libpq URL, e.g. postgresql://u:p@h/db"
    )
    connect_timeout_s: int = Field(5, ge=1, le=120, description="connect timeout")
    statement_timeout_ms: int = Field(
        10000, ge=100, description="each monitoring query is cancelled after this long"
    )
    pool_usage_max_pct: float = Field(
        80.0,
        gt=0,
        le=100,
        description="client connections / (max_connections − reserved slots) above: fail",
    )
    max_active_connections: int | None = Field(
        None, ge=1, description="None: active connections are recorded, not judged"
    )
    max_size_bytes: int | None = Field(
        None, gt=0, description="None: the database size is recorded, not judged"
    )
    query_time_ms: float = Field(
        default_factory=CatalogueLimit("database_ms"),
        gt=0,
        description="checklist: database query time < 100ms (mean, all statements)",
    )
    query_warning_ms: float = Field(
        default_factory=CatalogueLimit("database_warning_ms"),
        gt=0,
        description="checklist §5 warning: database query time > 200ms",
    )
    long_query_ms: float = Field(
        5000.0, gt=0, description="a statement active longer than this is a long-running query"
    )
    slow_query_log_required: bool = Field(
        True, description="log_min_duration_statement = -1 (slow query log off): fail, else warn"
    )
    worst_statements: int = Field(5, ge=1, le=50, description="slowest statements quoted")
    pool_stability: PoolStabilityParams = Field(default_factory=PoolStabilityParams)
    azure: AzurePostgresParams | None = Field(
        None, description="Azure Database for PostgreSQL: its Azure Monitor metrics too"
    )

    @model_validator(mode="after")
    def _ordered(self) -> DatabaseParams:
        if self.query_time_ms > self.query_warning_ms:
            raise ValueError("query_time_ms must not exceed query_warning_ms")
        return self
