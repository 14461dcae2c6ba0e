"""Parameters of the rollback phase: the checklist's "When to Rollback" lines (with its numbers
as defaults), where each line reads its evidence, the security flag a person sets, and how a
rollback is executed and verified ("Rollback Steps" §1, §2, §3)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.evidence_queries import SourceRef
from runbook.phases.deploy.params import PackageParams
from runbook.phases.performance.params import RouteSpec

SECTION_WHEN = "Rollback Procedures — When to Rollback"
SECTION_IMMEDIATE = "Rollback Procedures §1 Immediate Rollback (Azure App Service)"
SECTION_VERIFY = "Rollback Procedures §2 Verify Rollback"
SECTION_POST = "Rollback Procedures §3 Post-Rollback Actions"


def _refs(*items: str | dict[str, str]) -> list[SourceRef]:
    return [SourceRef.model_validate(i) for i in items]


class MetricCriterion(BaseModel):
    """A numeric rollback line: roll back when the worst value of any source is above `limit`.
    Results listed in `fail_ids` cross the line by failing (e.g. a detailed-health check)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    limit: float = Field(ge=0)
    sources: list[SourceRef] = Field(default_factory=list)
    fail_ids: list[str] = Field(
        default_factory=list, description="result ids/globs whose status fail crosses the line"
    )
    required: bool = Field(
        default=True, description="no evidence for this line makes the decision inconclusive"
    )


class FunctionalityCriterion(BaseModel):
    """ "Critical functionality broken": any blocker result among `ids` failed or errored."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ids: list[str] = Field(default_factory=lambda: ["smoke.*"])
    exclude: list[str] = Field(default_factory=lambda: ["smoke.cleanup"])
    required: bool = True


class SecurityFlag(BaseModel):
    """ "Security vulnerabilities discovered": set by a person, who says who and why."""

    model_config = ConfigDict(extra="forbid")

    vulnerability_discovered: bool = False
    reported_by: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _who_and_why(self) -> SecurityFlag:
        if self.vulnerability_discovered and not (self.reported_by and self.reason):
            raise ValueError("a discovered vulnerability needs 'reported_by' and 'reason'")
        return self


class ErrorRateCriterion(MetricCriterion):
    """ "Error rate > 5 %" (a share: 0.05)."""

    limit: float = Field(
        default_factory=CatalogueLimit("error_rate_rollback"),
        ge=0,
        le=1,
    )
    sources: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.rollback_lines", "path": "observed.error_rate"},
            {"id": "perf.error_rate", "path": "observed.overall"},
            {"id": "monitor.metrics.error-rate", "path": "observed.overall"},
            {"id": "monitor.logs.error-rate", "path": "observed.error_rate"},
        )
    )


class P95Criterion(MetricCriterion):
    """ "API response time p95 > 1 second" (milliseconds)."""

    limit: float = Field(
        default_factory=CatalogueLimit("p95_rollback_ms"),
        gt=0,
    )
    sources: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.rollback_lines", "path": "observed.worst_route_p95_ms"},
            "perf.p95.*",
            {"id": "monitor.logs.p95", "path": "observed.p95_ms"},
        )
    )


class DatabaseCriterion(MetricCriterion):
    """ "Database connection failures": more failures than `limit` (a count)."""

    limit: float = Field(0, ge=0)
    sources: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "monitor.logs.database-errors", "path": "observed.failed"}
        )
    )
    fail_ids: list[str] = Field(default_factory=lambda: ["monitor.logs.database-errors"])
    required: bool = False


class MemoryCriterion(MetricCriterion):
    """ "Memory leaks detected": a memory slope above `limit` MiB/h."""

    limit: float = Field(
        default_factory=CatalogueLimit("memory_slope_mb_per_h"),
        gt=0,
    )
    sources: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            "perf.memory_slope",
            {"id": "monitor.metrics.memory-slope", "path": "observed.slope_mb_per_h"},
        )
    )
    required: bool = False


class RollbackCriteria(BaseModel):
    """The "When to Rollback" lines; defaults are the checklist's numbers."""

    model_config = ConfigDict(extra="forbid")

    error_rate: ErrorRateCriterion = Field(default_factory=ErrorRateCriterion)
    p95_ms: P95Criterion = Field(default_factory=P95Criterion)
    critical_functionality: FunctionalityCriterion = Field(default_factory=FunctionalityCriterion)
    database_connection_failures: DatabaseCriterion = Field(default_factory=DatabaseCriterion)
    memory_slope_mb_per_h: MemoryCriterion = Field(default_factory=MemoryCriterion)
    security: SecurityFlag = Field(default_factory=SecurityFlag)


class MonitorEvidence(BaseModel):
    """Monitor results of an earlier run (the monitor phase may run hours after the deploy)."""

    model_config = ConfigDict(extra="forbid")

    use_previous_runs: bool = True
    phase: str = "monitor"
    ids: list[str] = Field(default_factory=lambda: ["monitor.*"])
    max_age_hours: float = Field(48.0, gt=0, description="older monitor evidence is ignored")


class RollbackMetrics(BaseModel):
    """ "Error rate normal, response times normal" after a rollback: a short load probe."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    routes: list[RouteSpec] | None = Field(
        None, description="None: the deploy's health route, without auth"
    )
    concurrency: int = Field(2, ge=1, le=50)
    workers: int = Field(1, ge=1, le=8)
    duration_s: float = Field(3.0, gt=0)
    warmup_s: float = Field(0.5, ge=0)
    timeout_s: float = Field(5.0, gt=0)
    max_error_rate: float = Field(
        default_factory=CatalogueLimit("error_rate_gate"),
        ge=0,
        le=1,
        description="§3.4: error rate < 1 %",
    )
    max_p95_ms: float = Field(
        default_factory=CatalogueLimit("p95_warning_ms"),
        gt=0,
        description="Alert Configuration: p95 > 500 ms warns",
    )


class RollbackParams(BaseModel):
    """The rollback phase: decide from evidence, then (only if allowed) roll back and verify."""

    model_config = ConfigDict(extra="forbid")

    criteria: RollbackCriteria = Field(default_factory=RollbackCriteria)
    monitor: MonitorEvidence = Field(default_factory=MonitorEvidence)
    execute: bool = Field(
        default=False, description="actually roll back when required (false: say what it would do)"
    )
    method: Literal["auto", "swap", "redeploy"] = Field(
        default="auto", description="auto: swap back if the deploy swapped, else redeploy"
    )
    previous_package: PackageParams | None = Field(
        None, description="redeploy: the previous release's zip (backend-previous.zip)"
    )
    restart: bool = Field(default=False, description="restart the app after rolling back")
    swap_polling_interval: float | None = Field(
        None, gt=0, description="seconds between swap polls; None: the deploy's"
    )
    swap_timeout: float | None = Field(None, gt=0, description="None: the deploy's")
    expect_version: str | None = Field(
        None, description="version health must report after the rollback; None: inferred"
    )
    infer_version: bool = Field(
        default=True,
        description="swap back: expect the version production served before the deploy "
        "(the zero-downtime probe's first version)",
    )
    verify_steps: list[str] = Field(
        default_factory=lambda: ["smoke.health", "smoke.auth-me", "smoke.list-notifications"],
        description="smoke step ids run after the rollback (Verify Rollback)",
    )
    metrics: RollbackMetrics = Field(default_factory=RollbackMetrics)
    post_actions: dict[str, str] = Field(
        default_factory=lambda: {
            "notify_team": "Notify team of rollback",
            "document_reason": "Document rollback reason",
            "investigate_root_cause": "Investigate root cause",
            "fix_in_staging": "Fix issues in staging",
            "plan_redeployment": "Plan re-deployment",
        },
        description="§3 Post-Rollback Actions: id suffix -> box (pending sign-off)",
    )
