"""Parameters of the performance phase (checklist §2.4 Performance Tests, §3.4 Monitor
Production): which routes to load, how hard and how long, and the gates. Defaults follow the
checklist: p95 < 200 ms and error rate < 1 % (gates), p95 > 1 s and error rate > 5 % (rollback
lines), database time < 100 ms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checklist.limits import CatalogueLimit


class RouteSpec(BaseModel):
    """One route the probe calls: method, path, whether it carries the auth headers, and the
    statuses that count as success."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="label in results; default 'METHOD /path'")
    method: str = "GET"
    path: str = Field(pattern=r"^/", description="path (and query) appended to the base URL")
    auth: bool = Field(True, description="send the caller's (secret-bearing) headers")
    expected_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    json_body: dict[str, object] | list[object] | None = Field(
        None, description="JSON body sent with every request (e.g. for POST)"
    )

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @property
    def label(self) -> str:
        """The route's name in results and check ids."""
        return self.name or f"{self.method} {self.path}"


class PerfGates(BaseModel):
    """Gate and rollback lines (checklist defaults)."""

    model_config = ConfigDict(extra="forbid")

    p95_ms: float = Field(
        default_factory=CatalogueLimit("p95_gate_ms"),
        gt=0,
        description="§2.4/§3.4: API response time p95 < this",
    )
    error_rate: float = Field(
        default_factory=CatalogueLimit("error_rate_gate"),
        ge=0,
        le=1,
        description="§3.4: error rate < this",
    )
    rollback_p95_ms: float = Field(
        default_factory=CatalogueLimit("p95_rollback_ms"),
        gt=0,
        description="rollback if p95 > this",
    )
    rollback_error_rate: float = Field(
        default_factory=CatalogueLimit("error_rate_rollback"),
        ge=0,
        le=1,
        description="rollback if errors > this",
    )
    database_ms: float = Field(
        default_factory=CatalogueLimit("database_ms"),
        gt=0,
        description="§2.4: database query time < this",
    )
    memory_slope_mb_per_h: float = Field(
        default_factory=CatalogueLimit("memory_slope_mb_per_h"),
        gt=0,
        description="§2.4 'no memory leaks': fail when memory grows faster than this",
    )

    @model_validator(mode="after")
    def _rollback_lines_beyond_gates(self) -> PerfGates:
        """A rollback line stricter than its gate would roll back a release that passes."""
        for gate, line in (("p95_ms", "rollback_p95_ms"), ("error_rate", "rollback_error_rate")):
            if getattr(self, line) < getattr(self, gate):
                raise ValueError(
                    f"{line} ({getattr(self, line)}) is below {gate} "
                    f"({getattr(self, gate)}): the rollback line must not be "
                    "stricter than the gate"
                )
        return self


class PerformanceParams(BaseModel):
    """Everything the performance notebook needs; every system-specific value lives here."""

    model_config = ConfigDict(extra="forbid")

    routes: list[RouteSpec] = Field(min_length=1)
    concurrency: int = Field(10, ge=1, le=1000, description="open connections (closed loop)")
    duration_s: float = Field(30.0, gt=0, description="measured time, after the warm-up")
    warmup_s: float = Field(5.0, ge=0, description="requests sent but not judged")
    window_s: float = Field(5.0, gt=0, description="width of the time bins of the stats/plots")
    workers: int = Field(2, ge=1, le=64, description="probe processes (each a share of the conns)")
    rate_per_s: float | None = Field(
        None, gt=0, description="open loop: total target request rate (None = closed loop)"
    )
    timeout_s: float = Field(10.0, gt=0, description="per-request timeout")
    error_backoff_s: float = Field(
        0.05, ge=0, description="pause of a connection after a transport error"
    )
    verify_tls: bool = True
    max_worker_cpu: float = Field(
        0.85, gt=0, description="probe refuses a p95 when a worker used more of a core than this"
    )
    gates: PerfGates = Field(default_factory=PerfGates)
    detailed_health_path: str | None = Field(
        "/api/v1/health/detailed", description="None = database-time check is skipped"
    )
    database_field: str = Field(
        "database.response_time_ms", description="dotted path of the DB timing in that JSON"
    )
    database_samples: int = Field(5, ge=1, le=100)
    database_status_field: str | None = Field(
        default="database.status",
        description="dotted path of the database's state in that JSON (None = not read)",
    )
    database_unhealthy_values: list[str] = Field(
        default_factory=lambda: ["unhealthy", "degraded"],
        description="states that fail the database check, quoting the target's reason",
    )
    database_reason_fields: list[str] = Field(
        default_factory=lambda: ["database.error", "database.message", "database.detail"],
        description="dotted paths of the target's reason, the first present is quoted",
    )
    memory_source: str | None = Field(
        None, description="where memory samples come from (e.g. an Azure metric); None = skip"
    )
    memory_min_span_s: float = Field(
        3600.0, gt=0, description="§2.4 'after 1 hour': shortest series the slope is judged on"
    )

    @field_validator("routes")
    @classmethod
    def _unique_labels(cls, routes: list[RouteSpec]) -> list[RouteSpec]:
        labels = [r.label for r in routes]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"route labels must be unique, repeated: {dupes}")
        return routes
