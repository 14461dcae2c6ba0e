"""The stand-in's Azure Monitor seed: alert rules, process sampling and fault knobs (models
only, so parameter files can embed them without importing the server)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AlertRuleSeed(BaseModel):
    """One metric alert rule (single criterion, static threshold) the resource group holds."""

    model_config = ConfigDict(extra="forbid")

    name: str
    metric_name: str
    metric_namespace: str | None = None
    operator: Literal[
        "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Equals"
    ] = "GreaterThan"
    threshold: float
    time_aggregation: Literal["Average", "Minimum", "Maximum", "Total", "Count"] = "Average"
    severity: int = Field(default=2, ge=0, le=4)
    enabled: bool = True
    scopes: list[str] | None = Field(default=None, description="None: every site of the stand-in")
    description: str = ""


def default_alert_rule_seeds() -> list[AlertRuleSeed]:
    """Rules meeting the runbook's default required set (Monitoring §1 and §5)."""
    return [
        AlertRuleSeed(name="error-rate-above-1pct", metric_name="ErrorRatePercent",
                      threshold=1, severity=2, description="Warning: error rate > 1%"),
        AlertRuleSeed(name="error-rate-above-5pct", metric_name="ErrorRatePercent",
                      threshold=5, severity=0, description="Critical: error rate > 5%"),
        AlertRuleSeed(name="response-time-above-500ms", metric_name="HttpResponseTime",
                      threshold=0.5, severity=2, description="Warning: response time > 500 ms"),
        AlertRuleSeed(name="availability-below-99pct",
                      metric_name="availabilityResults/availabilityPercentage",
                      operator="LessThan", threshold=99, severity=1,
                      description="Availability < 99%"),
        AlertRuleSeed(name="memory-above-80pct", metric_name="MemoryPercentage", threshold=80,
                      severity=2, description="Warning: memory > 80%"),
        AlertRuleSeed(name="memory-above-90pct", metric_name="MemoryPercentage", threshold=90,
                      severity=0, description="Critical: memory > 90%"),
        AlertRuleSeed(name="cpu-above-80pct", metric_name="CpuPercentage", threshold=80,
                      severity=2, description="Warning: CPU > 80%"),
    ]  # fmt: skip


class MonitorFaults(BaseModel):
    """Faults of the Monitor routes; all off by default."""

    model_config = ConfigDict(extra="forbid")

    metrics_error_status: int | None = Field(
        default=None, ge=400, le=599, description="answer metrics requests with this HTTP status"
    )
    metrics_error_count: int | None = Field(
        default=None, ge=1, description="only the next N metrics requests (None: all)"
    )
    metrics_empty: bool = Field(default=False, description="metrics answer with no data points")
    metrics_error_codes: dict[str, str] = Field(
        default_factory=dict, description="metric name -> errorCode it reports (no data)"
    )
    logs_error_status: int | None = Field(default=None, ge=400, le=599)


class MonitorSeed(BaseModel):
    """What the Monitor routes start from (StandinConfig.monitor, or admin PUT)."""

    model_config = ConfigDict(extra="forbid")

    alert_rules: list[AlertRuleSeed] = Field(default_factory=default_alert_rule_seeds)
    sandbox_pids: dict[str, int] = Field(
        default_factory=dict,
        description="site -> pid of its production sandbox (else found "
        "from the sandbox URL's listening port)",
    )
    log_workspaces: dict[str, str] = Field(
        default_factory=dict, description="workspace id -> site; empty: any id means the only site"
    )
    sample_seconds: float = Field(
        default=1.0, gt=0, le=60, description="CPU / memory sampling period"
    )
    database_route_prefix: str = "/api/v1/"
    health_route_prefixes: list[str] = Field(default_factory=lambda: ["/health", "/api/v1/health"])
    faults: MonitorFaults = Field(default_factory=lambda: MonitorFaults())
