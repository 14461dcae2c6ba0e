"""Parameters of the Redis and Celery health checks (checklist "Monitoring and Alerting" §3
Redis Monitoring, §4 Celery Monitoring, §5 Alert Configuration; Deployment Steps §3.3/§3.4).

Defaults follow the checklist where it has a number (memory > 80 % warning, > 90 % critical);
every other threshold is a parameter with a conservative default. A URL that carries a
password is given only as a secret reference (the environment variable holding the URL).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.logscan import LogScanParams
from runbook.core.secret_refs import ENV_NAME_PATTERN, SecretRef

CELERY_TIMESTAMP = r"^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?)[:\]]"


class ServiceUrl(BaseModel):
    """Where a service is: an inline URL without a password, or a secret reference to the URL."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="e.g. redis://localhost:6379/0 (no password)")
    secret: SecretRef | None = Field(None, description="env variable holding the full URL")

    @model_validator(mode="after")
    def _one_source(self) -> ServiceUrl:
        if (self.url is None) == (self.secret is None):
            raise ValueError("give exactly one of 'url' or 'secret'")
        if self.url is not None:
            try:
                parts = urlsplit(self.url)
            except ValueError as exc:
                raise ValueError(f"not a URL: {exc}") from None
            if not parts.scheme or not parts.hostname:
                raise ValueError("'url' needs a scheme and a host, e.g. redis://localhost:6379/0")
            if parts.password:
                raise ValueError("a URL with a password must be given as 'secret: {env: NAME}'")
        return self


class RedisParams(BaseModel):
    """The Redis instance to read (INFO) and its thresholds (§3 Redis Monitoring, §5 alerts)."""

    model_config = ConfigDict(extra="forbid")

    url: ServiceUrl
    timeout_s: float = Field(5.0, gt=0, description="connect and command timeout")
    sample_s: float = Field(
        0.0,
        ge=0,
        le=600,
        description="0: judge counters since server start; > 0: judge their change over a "
        "window of this many seconds (two INFO snapshots)",
    )
    memory_warn_pct: float = Field(80.0, gt=0, le=100, description="§5 warning: memory > this")
    memory_critical_pct: float = Field(90.0, gt=0, le=100, description="§5 critical: memory > this")
    memory_limit_bytes: int | None = Field(
        None,
        gt=0,
        description="limit to judge against when Redis has no maxmemory set "
        "(else the host's total_system_memory is used)",
    )
    max_connected_clients: int | None = Field(
        None, gt=0, description="None: judge against clients_max_fraction × maxclients"
    )
    clients_max_fraction: float = Field(0.8, gt=0, le=1)
    max_ops_per_sec: float | None = Field(
        None, gt=0, description="None: commands per second are recorded, not judged"
    )
    min_hit_rate: float = Field(0.8, ge=0, le=1, description="keyspace hits / (hits + misses)")
    latency_samples: int = Field(
        20, ge=1, le=1000, description="PING round trips timed for 'Redis performance stable'"
    )
    latency_interval_s: float = Field(0.05, ge=0, le=10, description="pause between them")
    max_latency_p95_ms: float = Field(
        25.0, gt=0, description="the round trips' p95 (nearest rank) above this is a finding"
    )
    max_evicted_keys: int = Field(0, ge=0, description="evicted keys above this are a finding")

    @model_validator(mode="after")
    def _ordered(self) -> RedisParams:
        if self.memory_warn_pct > self.memory_critical_pct:
            raise ValueError("memory_warn_pct must not exceed memory_critical_pct")
        return self


class WorkerLogParams(LogScanParams):
    """The Celery worker's log file ("No errors in Celery worker logs", §1.3): where it is and
    how it is read. Error lines dated within `celery.window_s` are counted (Celery's own
    `[YYYY-MM-DD HH:MM:SS,mmm: LEVEL/Process]` prefix dates them)."""

    path: str | None = Field(None, description="the worker's log file (--logfile)")
    path_env: str | None = Field(
        None,
        pattern=ENV_NAME_PATTERN,
        description="an environment variable holding the path (a rehearsal exports it)",
    )
    timestamp_pattern: str | None = CELERY_TIMESTAMP

    @model_validator(mode="after")
    def _one_source(self) -> WorkerLogParams:
        if (self.path is None) == (self.path_env is None):
            raise ValueError("give exactly one of 'path' or 'path_env'")
        return self


class CeleryParams(BaseModel):
    """The broker to inspect Celery through, the queues and the thresholds (§4, §3.4).

    The runbook never imports the application (`app` is recorded only): it builds its own
    Celery client on `broker` just to broadcast control commands and read queues and results.
    """

    model_config = ConfigDict(extra="forbid")

    app: str = Field("celery_core.app", description="the application's Celery app (recorded)")
    broker: ServiceUrl
    result_backend: ServiceUrl | None = Field(
        None, description="Redis result backend to read celery-task-meta-* keys from"
    )
    broker_transport_options: dict[str, Any] = Field(
        default_factory=dict, description="as the app sets them (e.g. global_keyprefix)"
    )
    control_exchange: str = Field("celery", description="the app's control_exchange setting")
    queues: list[str] = Field(default_factory=lambda: ["celery"], min_length=1)
    timeout_s: float = Field(2.0, gt=0, description="how long to wait for worker replies")
    connect_timeout_s: float = Field(5.0, gt=0, description="broker / backend connect timeout")
    min_workers: int = Field(1, ge=1, description="fewer answering workers is a failure")
    expected_workers: list[str] = Field(
        default_factory=list, description="worker names (or name prefixes) that must answer"
    )
    queue_length_warn: int | None = Field(None, ge=0, description="waiting tasks above: warn")
    max_queue_length: int = Field(100, ge=0, description="waiting tasks above this: fail")
    window_s: float = Field(
        3600.0, gt=0, description="task results finished within this window are judged"
    )
    events_window_s: float = Field(
        0.0,
        ge=0,
        le=600,
        description="> 0: listen this long to task events (needs workers sending events, "
        "`-E`) for durations; 0: do not listen",
    )
    min_success_rate: float = Field(0.95, ge=0, le=1)
    failure_rate_warn: float = Field(0.01, ge=0, le=1, description="warn above (like §5: 1 %)")
    failure_rate_max: float = Field(0.05, ge=0, le=1, description="fail above (like §5: 5 %)")
    max_average_duration_s: float = Field(300.0, gt=0)
    worker_failure_exceptions: list[str] = Field(
        default_factory=lambda: ["WorkerLostError", "TimeLimitExceeded"],
        description="task failures of these types count as worker failures",
    )
    log: WorkerLogParams | None = Field(
        None,
        description="the worker's log file; None: not read (a deployed worker's errors "
        "are in Application Insights)",
    )
    result_key_prefix: str = "celery-task-meta-"
    max_result_keys: int = Field(5000, gt=0, description="result keys read at most (sample)")

    @model_validator(mode="after")
    def _ordered(self) -> CeleryParams:
        if self.failure_rate_warn > self.failure_rate_max:
            raise ValueError("failure_rate_warn must not exceed failure_rate_max")
        if self.queue_length_warn is not None and self.queue_length_warn > self.max_queue_length:
            raise ValueError("queue_length_warn must not exceed max_queue_length")
        return self


class WorkersParams(BaseModel):
    """Redis and Celery health; an absent part's checks are SKIP (saying why)."""

    model_config = ConfigDict(extra="forbid")

    redis: RedisParams | None = None
    celery: CeleryParams | None = None
