"""Parameters of the local sandbox: what it answers, how fast, and which faults it injects."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_TOKEN_ENV = "PIXCRAWLER_SANDBOX_TOKEN"  # where the sandbox API token is read from

ComponentStatus = Literal["healthy", "degraded", "unhealthy"]
Component = Literal["database", "redis", "celery"]

# "METHOD /path" where METHOD is an HTTP verb or "*" and /path is a route template
# ("/api/v1/projects/{project_id}") or a concrete path ("/api/v1/projects/3").
_ROUTE_SPEC = re.compile(r"^(\*|[A-Z]+) (/\S*)$")


def _check_route_specs(value: list[str]) -> list[str]:
    """Normalise 'method /path' strings to upper-case methods; reject anything else."""
    out = []
    for raw in value:
        parts = raw.strip().split(None, 1)
        spec = f"{parts[0].upper()} {parts[1].strip()}" if len(parts) == 2 else raw
        if not _ROUTE_SPEC.match(spec):
            raise ValueError(f"route {raw!r} is not 'METHOD /path/template' (e.g. 'GET /health')")
        out.append(spec)
    return out


class SandboxFaults(BaseModel):
    """Fault knobs; settable at start (config) and while running (PUT /_sandbox/faults)."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of requests answered 500"
    )
    error_routes: list[str] = Field(
        default_factory=list,
        description="routes error_rate applies to ('METHOD /template'); empty = all non-admin",
    )
    latency_ms: float = Field(
        default=0.0, ge=0.0, le=600_000, description="delay added before answering"
    )
    latency_routes: list[str] = Field(
        default_factory=list,
        description="routes latency_ms applies to; empty = every non-admin route",
    )
    fail_routes: list[str] = Field(
        default_factory=list, description="routes that always answer 500 with the error envelope"
    )
    reset_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of requests whose TCP connection is reset (RST, no HTTP answer)",
    )
    reset_routes: list[str] = Field(
        default_factory=list,
        description="routes whose TCP connection is always reset (RST, no HTTP answer)",
    )
    down: bool = Field(default=False, description="every non-admin route answers 503")
    worker_stalled: bool = Field(
        default=False,
        description="the background worker stops moving jobs (they stay where they are)",
    )
    notifications_lost: bool = Field(
        default=False,
        description="a completed job no longer notifies its owner (the list stays as it is)",
    )
    db_hold_connections: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="extra database connections the sandbox opens and holds (needs a database)",
    )
    db_slow_query_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=600_000,
        description="project routes first run pg_sleep for this long (needs a database)",
    )
    cpu_burn_percent: float = Field(
        default=0.0,
        ge=0.0,
        le=800.0,
        description="CPU the sandbox process burns beside its work, in % of one core (above "
        "100: one thread per started hundred); 0 = none",
    )
    jobs_fail: bool = Field(
        default=False,
        description="the background worker fails every running crawl job (an error trace and "
        "a CrawlError exception in its telemetry) instead of completing it",
    )
    echo_authorization: bool = Field(
        default=False,
        description="answers reflect the request's Authorization header (a target leaking the "
        "caller's token): a field 'authorization' in JSON object bodies, the headers "
        "X-Echo-Authorization (raw) and Location (URL-encoded), and the message of error envelopes",
    )
    component_health: dict[Component, ComponentStatus] = Field(
        default_factory=dict,
        description="status /api/v1/health/detailed reports per component (default healthy)",
    )

    @field_validator("error_routes", "latency_routes", "fail_routes", "reset_routes")
    @classmethod
    def _route_specs(cls, value: list[str]) -> list[str]:
        return _check_route_specs(value)


class SandboxConfig(BaseModel):
    """How the sandbox is started; embedded under `sandbox:` in the runbook's parameter files."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535, description="0 = pick a free port")
    version: str = Field(
        default="1.0.0", description="reported by /api/v1/health/ and the OpenAPI info"
    )
    environment: Literal["development", "staging", "production", "test"] = "development"
    service_name: str = "PixCrawler API"
    faults: SandboxFaults = Field(default_factory=SandboxFaults)
    rate_limit_per_minute: int = Field(
        default=10_000,
        ge=1,
        description="requests per client (token, else IP) per fixed 60 s window",
    )
    token_rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="another limit for the valid token's requests (e.g. so a load test with the "
        "token is not throttled while anonymous clients are); None = rate_limit_per_minute",
    )
    job_step_seconds: float = Field(
        default=0.2, ge=0.0, le=3600, description="time a job spends in each of pending and running"
    )
    slow_route_ms: float = Field(
        default=20.0, ge=0.0, le=600_000, description="delay of /api/v1/sandbox/slow"
    )
    seed: int | None = Field(
        default=None, description="seed of the fault randomness (None = unseeded)"
    )
    request_log_size: int = Field(
        default=10_000, ge=1, description="request log keeps the latest N entries"
    )
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    user_email: str = "sandbox@pixcrawler.local"
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:3000"],
        description="CORS origins (the backend's SECURITY_ALLOWED_ORIGINS); '*' = any",
    )
    frontend_page_path: str | None = Field(
        default="/frontend/",
        pattern=r"^/\S*$",
        description="where a tiny HTML page stands in for the web frontend (None = no page)",
    )
    database_url_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding a postgresql:// URL: projects are kept there "
        "(table sandbox_projects); None = in memory only",
    )
    worker_role: str = Field(
        default="celery_core",
        min_length=1,
        description="cloud role name of the worker's telemetry (PixCrawler's Celery app)",
    )
    export_seconds: float = Field(
        default=0.2, ge=0.0, le=3600, description="time a dataset export takes to complete"
    )

    def database_problem(self) -> str | None:
        """Why this configuration cannot start (database faults without a database), if so.
        Checked when the sandbox starts, not when parameters are read: a run starts the
        rehearsal's PostgreSQL and only then sets `database_url_env`."""
        if self.database_url_env is None and (
            self.faults.db_hold_connections or self.faults.db_slow_query_ms
        ):
            return (
                "faults db_hold_connections / db_slow_query_ms need a database "
                "(database_url_env; `runbook run` sets it for the phases that read the database: "
                "performance, monitor)"
            )
        return None
