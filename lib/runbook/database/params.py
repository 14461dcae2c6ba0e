"""Parameters of the database checks (checklist "Monitoring and Alerting" §2 Database Monitoring,
§5 alerts; Deployment Steps "connection pool" and "database performance" boxes).

Query-time defaults are the checklist's: database query time < 100 ms (§2.4, §3.4) and the
warning alert at > 200 ms (§5); the catalogue defines them once (limits `database_ms`,
`database_warning_ms`). The connection URL is only ever a secret reference.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.checklist.limits import CatalogueLimit
from runbook.secrets import SecretRef


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
        80.0, gt=0, le=100,
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

    @model_validator(mode="after")
    def _ordered(self) -> DatabaseParams:
        if self.query_time_ms > self.query_warning_ms:
            raise ValueError("query_time_ms must not exceed query_warning_ms")
        return self
