"""Parameters of the deploy phase: what to deploy, where, how, and how to tell it worked."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from runbook.core.logscan import DEFAULT_ERROR_PATTERN
from runbook.core.secret_refs import SecretRef

PRODUCTION = "production"
KUDU_SCOPE = "https://appservice.azure.com/.default"
DEFAULT_EXCLUDE = [".git", ".git/*", "*/__pycache__/*", "__pycache__/*", "*.pyc", ".venv/*"]


class PackageParams(BaseModel):
    """The package: a zip file, or a folder zipped deterministically; and its build id."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="a ready zip (e.g. backend.zip)")
    source_dir: str | None = Field(default=None, description="a folder to zip instead")
    build_id: str | None = Field(
        default=None,
        min_length=1,
        description="CI build id / commit the package came from; None: the run's build_id",
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="glob patterns (relative paths) left out when zipping a folder",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PackageParams:
        if (self.path is None) == (self.source_dir is None):
            raise ValueError("give exactly one of 'path' (a zip) or 'source_dir' (a folder)")
        return self


class CommandParams(BaseModel):
    """Development deploy: one command (argv list, no shell) and how long it may take."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(min_length=1)
    cwd: str | None = None
    timeout: float = Field(default=600, gt=0, description="seconds before the command is killed")


class StartParams(BaseModel):
    """Development deploy: start the app from the target's checkout (Deployment Steps §1.1
    "Terminal 1: Backend"). `{host}` and `{port}` in argv come from the target's base URL."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(
        default_factory=lambda: [
            "uv",
            "run",
            "uvicorn",
            "backend.main:app",
            "--host",
            "{host}",
            "--port",
            "{port}",
        ],
        min_length=1,
        description="argv (no shell), run in `cwd` with the target's environment",
    )
    repo: str | None = Field(default=None, description="checkout; None: pre_deployment.repo")
    cwd: str = Field(default="backend", description="relative to `repo`")
    env: dict[str, str | SecretRef] = Field(
        default_factory=dict, description="extra variables (secrets as {env: NAME})"
    )
    env_passthrough: list[str] = Field(
        default_factory=list,
        description="variables of the runbook's environment handed to "
        "the app by name (NAME or PREFIX_*); the rest of it is left out",
    )
    doc_pages: list[str] = Field(
        default_factory=lambda: ["/openapi.json", "/docs", "/redoc"],
        description="pages the started app must serve (JSON for .json, else HTML): §1.1 "
        "'API documentation accessible: /docs' and Pre-Deployment §3's pages",
    )
    error_pattern: str = Field(
        default=DEFAULT_ERROR_PATTERN,
        description='a log line matching this regex is an error ("No errors in logs")',
    )


class KuduParams(BaseModel):
    """How to reach Kudu (the SCM site) and how to wait for a zip deploy."""

    model_config = ConfigDict(extra="forbid")

    scm_url: str = Field(
        default="https://{scm_host}",
        description="Kudu base URL; {scm_host} is the site's Repository host name",
    )
    scope: str = Field(default=KUDU_SCOPE, description="token scope for Kudu's bearer token")
    poll_interval: float = Field(default=2, gt=0, description="seconds between status polls")
    timeout: float = Field(default=600, gt=0, description="seconds a deploy may take")
    request_timeout: float = Field(default=60, gt=0, description="per HTTP request (the upload)")

    @model_validator(mode="after")
    def _has_host(self) -> KuduParams:
        if "{scm_host}" not in self.scm_url:
            raise ValueError("'scm_url' must contain {scm_host}")
        return self


class HealthParams(BaseModel):
    """The health route and what a healthy answer is."""

    model_config = ConfigDict(extra="forbid")

    route: str = "/api/v1/health/"
    expected_status: int = 200
    expected_json: dict[str, Any] = Field(
        default_factory=lambda: {"status": "healthy"},
        description="keys and values the JSON answer must contain",
    )
    version_field: str | None = Field(
        default="version", description="JSON field naming the running version, if any"
    )
    timeout: float = Field(default=120, gt=0, description="seconds wait_healthy waits")
    interval: float = Field(default=2, gt=0, description="seconds between health polls")
    request_timeout: float = Field(default=5, gt=0)


class ProbeParams(BaseModel):
    """The zero-downtime probe: how often it asks the health route, how many asks count."""

    model_config = ConfigDict(extra="forbid")

    interval: float = Field(default=0.5, gt=0, description="seconds between probe requests")
    min_requests: int = Field(default=10, ge=1, description="fewer requests: inconclusive")
    request_timeout: float = Field(default=5, gt=0)
    settle_s: float = Field(
        default=5,
        ge=0,
        description="keep probing this long after the last step: a swap's "
        "effects (cold instances, drained connections) show up just after it ends",
    )


class ChecklistLabels(BaseModel):
    """The checklist section and boxes this environment's deploy proves."""

    model_config = ConfigDict(extra="forbid")

    section: str = "Deployment Steps §2.1 Deploy to Staging"
    deployed: str = "Code deployed to staging"
    restarted: str = "Services restarted"
    started: str = "All services started successfully"
    healthy: str = "Health check passes"
    zero_downtime_section: str = "Success Criteria — Deployment Successful If"
    zero_downtime: str = "Zero downtime deployment"
    rollback_section: str = "Deployment Steps §3.1 Pre-Production Checklist"
    rollback: str = "Rollback plan prepared"


class DeployWindow(BaseModel):
    """The scheduled deployment window (ISO 8601 with a time zone), e.g. from the change
    calendar: `{start: 2026-03-03T02:00:00+01:00, end: 2026-03-03T04:00:00+01:00}`."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    note: str = Field(default="", description="where it was scheduled (change ticket, …)")

    @model_validator(mode="after")
    def _ordered(self) -> DeployWindow:
        if self.end <= self.start:
            raise ValueError("the window's end must be after its start")
        return self


class DeployParams(BaseModel):
    """One environment's deploy: method, package, target slot, restart, health, swap, probe."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["command", "zip", "start"]
    command: CommandParams | None = None
    start: StartParams | None = Field(
        default=None, description="method 'start': the app started from the checkout"
    )
    package: PackageParams | None = None
    target_slot: str | None = Field(
        default=None, description="slot the package goes to; None: the site (production slot)"
    )
    swap_to_production: bool = Field(
        default=False, description="after deploying to target_slot, swap it into production"
    )
    restart_after_deploy: bool = False
    app_urls: dict[str, str] = Field(
        default_factory=dict,
        description="base URL per slot ('production' is the site itself) for health checks",
    )
    kudu: KuduParams = Field(default_factory=KuduParams)
    health: HealthParams = Field(default_factory=HealthParams)
    probe: ProbeParams = Field(default_factory=ProbeParams)
    swap_polling_interval: float = Field(
        default=5, gt=0, description="seconds between swap polls (the SDK's default is 30)"
    )
    swap_timeout: float = Field(default=900, gt=0, description="seconds a swap may take")
    labels: ChecklistLabels = Field(default_factory=ChecklistLabels)
    id_prefix: str = "deploy"
    window: DeployWindow | None = Field(
        default=None,
        description="the scheduled window the deploy must start in (§3.2 "
        "'Deployment started at scheduled time'); part of the approved plan",
    )
    window_required: bool = Field(
        default=False, description="no window given: INCONCLUSIVE (production) instead of no result"
    )
    window_enforce: bool = Field(
        default=True, description="outside the window the deploy is refused, nothing changed"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DeployParams:
        if self.method == "command" and self.command is None:
            raise ValueError("method 'command' needs 'command: {argv: [...]}'")
        if self.method == "start" and self.start is None:
            self.start = StartParams()
        if self.method == "zip" and self.package is None:
            raise ValueError("method 'zip' needs 'package'")
        if self.swap_to_production and self.target_slot in (None, PRODUCTION):
            raise ValueError("'swap_to_production' needs a non-production 'target_slot'")
        return self

    @property
    def slot_name(self) -> str:
        """The target slot's name ('production' for the site itself)."""
        return self.target_slot or PRODUCTION

    def app_url(self, slot: str) -> str | None:
        """Base URL of the app in `slot` (None when not configured)."""
        url = self.app_urls.get(slot)
        return url.rstrip("/") if url else None
