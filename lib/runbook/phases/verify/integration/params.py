"""Parameters of the integration checks (checklist "Deployment Steps §2.3 Integration Tests",
and §2.2's "Background jobs execute successfully", "Storage operations work", "Export
functionality works"). Every route, origin, timeout and expectation lives here.

Paths and JSON bodies may use `{name}` placeholders: `{run_id}` (a fresh random id per session,
so test data is recognisable), `{file_name}` (file check) and whatever earlier steps capture
(`capture: {dataset_id: id}` takes `id` from the response JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checks import Severity
from runbook.core.secret_refs import SecretRef
from runbook.core.target import validate_http_url
from runbook.phases.verify.smoke import ExchangeStep, RequestSpec

INTEGRATION_SECTION = "Deployment Steps §2.3 Integration Tests (Staging)"
SMOKE_22_SECTION = "Deployment Steps §2.2 Smoke Tests (Staging)"
BOTH_SECTIONS = f"{INTEGRATION_SECTION}; {SMOKE_22_SECTION}"
NOTIFICATIONS_SECTION = (
    "Deployment Steps §2.2 Smoke Tests (Staging) — Notifications delivered; "
    "§3.3 Within 15 minutes — Check notifications delivered"
)

_M = TypeVar("_M", bound=BaseModel)

RUN_ID = "run_id"
FILE_NAME = "file_name"


Step = ExchangeStep  # an integration step is exactly the shared request step


def _step(**fields: Any) -> Step:
    return Step.model_validate(fields)


def _request(**fields: Any) -> RequestSpec:
    return RequestSpec.model_validate(fields)


class CheckToggle(BaseModel):
    """What every integration check has: on/off, severity, and the section it proves."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    severity: Severity = Severity.BLOCKER
    section: str = INTEGRATION_SECTION
    timeout_s: float | None = Field(
        None, gt=0, le=600, description="per-request timeout (None = the target's)"
    )


class FrontendParams(CheckToggle):
    """ "Frontend integration works", part 1: the frontend answers."""

    url: str | None = Field(
        None, description="the frontend's absolute URL; None = the target's base_url + path"
    )
    path: str = Field("/", pattern=r"^/\S*$", description="used when url is None")
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    expect_content_type: str | None = Field("text/html", description="substring; None = any")
    expect_text: str | None = Field(None, description="substring the page must contain")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else validate_http_url(value)


class CorsParams(CheckToggle):
    """ "Frontend integration works", part 2: CORS preflights from allowed / foreign origins."""

    path: str = Field(
        "/api/v1/projects/", pattern=r"^/\S*$", description="the API route a browser calls"
    )
    request_method: str = Field("POST", pattern=r"^[A-Z]+$")
    request_headers: list[str] = Field(default_factory=lambda: ["authorization", "content-type"])
    allowed_origins: list[str] = Field(min_length=1, description="each must be echoed back")
    foreign_origins: list[str] = Field(
        default_factory=lambda: ["https://runbook-foreign-origin.invalid"],
        min_length=1,
        description="each must be refused (no Access-Control-Allow-Origin matching it)",
    )
    allow_wildcard: bool = Field(
        False, description="accept 'Access-Control-Allow-Origin: *' for allowed origins"
    )

    @field_validator("allowed_origins", "foreign_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            validate_http_url(origin)
            if origin.rstrip("/") != origin or origin.count("/") > 2:
                raise ValueError(f"{origin!r}: an origin is scheme://host[:port], no path")
        return value


class NotificationParams(BaseModel):
    """ "Notifications delivered" (§2.2, §3.3): after the job completes, its owner's
    notification list holds an entry about it within `wait_s`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    request: RequestSpec = Field(
        default_factory=lambda: _request(method="GET", path="/api/v1/notifications/"),
        description="the request listing the test user's notifications",
    )
    items_key: str = Field("data", description="dotted path to the list in the answer")
    match: dict[str, Any] = Field(
        default_factory=lambda: {"data.job_id": "{job_id}"},
        description="dotted path in an entry -> the value it must have ({name}: a capture)",
    )
    wait_s: float = Field(30.0, gt=0, le=3600, description="how long the notification may take")
    interval_s: float = Field(1.0, gt=0, le=300, description="pause between reads of the list")
    severity: Severity = Severity.BLOCKER


class JobProcessingParams(CheckToggle):
    """ "Celery workers process jobs": create a job, poll it until a final status."""

    section: str = BOTH_SECTIONS
    create: Step = Field(
        default_factory=lambda: _step(
            method="POST",
            path="/api/v1/jobs/datasets/{dataset_id}/jobs",
            json={"name": "runbook-integration {run_id}", "max_images": 5},
            expect_status=[201],
            capture={"job_id": "id"},
            cleanup=_request(method="DELETE", path="/api/v1/jobs/{job_id}"),
        )
    )
    poll: RequestSpec = Field(
        default_factory=lambda: _request(method="GET", path="/api/v1/jobs/{job_id}")
    )
    status_key: str = "status"
    done_values: list[Any] = Field(default_factory=lambda: ["completed"], min_length=1)
    failed_values: list[Any] = Field(default_factory=lambda: ["failed", "cancelled"])
    wait_s: float = Field(60.0, gt=0, le=3600, description="how long the job may take")
    interval_s: float = Field(1.0, gt=0, le=300, description="pause between polls")
    notification: NotificationParams = Field(
        default_factory=lambda: NotificationParams(),
        description="the completed job's notification reaches the list (enabled: false: not "
        "checked)",
    )


class RateLimitParams(CheckToggle):
    """ "Rate limiting works": a bounded burst must be answered 429 with Retry-After."""

    request: RequestSpec = Field(
        default_factory=lambda: _request(method="GET", path="/health", auth=False),
        description="the burst's request; auth=false keeps it off the token's budget (per-IP)",
    )
    token: SecretRef | None = Field(
        None, description="a distinct token for the burst when request.auth (else the target's)"
    )
    source_address: str | None = Field(
        None,
        description="bind the burst to this local address (e.g. 127.0.0.2 against a local "
        "sandbox): a client identity no other check uses",
    )
    max_requests: int = Field(200, ge=1, le=100_000)
    max_seconds: float = Field(30.0, gt=0, le=600)
    limited_status: int = Field(429, ge=400, le=599)
    retry_after_header: str = "Retry-After"
    require_retry_after: bool = True


class FileTransferParams(CheckToggle):
    """ "File uploads work" / "File downloads work": random bytes up, down, same sha256, delete."""

    section: str = BOTH_SECTIONS
    size_bytes: int = Field(64 * 1024, ge=1, le=100 * 1024 * 1024)
    name: str = Field("runbook-integration-{run_id}.bin", pattern=r"^[^\s/]+$")
    content_type: str = "application/octet-stream"
    encoding: Literal["raw", "multipart"] = Field(
        "raw", description="raw body, or multipart/form-data with the file in multipart_field"
    )
    multipart_field: str = "file"
    upload: Step = Field(
        default_factory=lambda: _step(
            method="PUT",
            path="/api/v1/storage/files/{file_name}",
            expect_status=[200, 201],
            cleanup=_request(method="DELETE", path="/api/v1/storage/files/{file_name}"),
        )
    )
    download: Step = Field(
        default_factory=lambda: _step(
            method="GET", path="/api/v1/storage/files/{file_name}", expect_status=[200]
        )
    )

    @model_validator(mode="after")
    def _no_json_body(self) -> FileTransferParams:
        if self.upload.json_body is not None:
            raise ValueError("upload: the body is the file; give no json")
        return self


class CacheParams(CheckToggle):
    """ "Redis caching works": the detailed health reports Redis healthy."""

    request: RequestSpec = Field(
        default_factory=lambda: _request(method="GET", path="/api/v1/health/detailed", auth=False)
    )
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    status_key: str = Field("redis.status", description="dotted path to Redis's status")
    healthy_values: list[Any] = Field(default_factory=lambda: ["healthy"], min_length=1)


class ExportParams(CheckToggle):
    """ "Export functionality works": export a dataset, wait, download, validate the archive."""

    section: str = SMOKE_22_SECTION
    create: Step = Field(
        default_factory=lambda: _step(
            method="POST",
            path="/api/v1/datasets/{dataset_id}/export",
            json={"format": "zip"},
            expect_status=[202],
            capture={"export_id": "id"},
            cleanup=_request(method="DELETE", path="/api/v1/exports/{export_id}"),
        )
    )
    poll: RequestSpec | None = Field(
        default_factory=lambda: _request(method="GET", path="/api/v1/exports/{export_id}"),
        description="None = the create response already holds the download URL",
    )
    status_key: str | None = Field("status", description="None = no status to wait for")
    done_values: list[Any] = Field(default_factory=lambda: ["completed"], min_length=1)
    failed_values: list[Any] = Field(default_factory=lambda: ["failed"])
    wait_s: float = Field(60.0, gt=0, le=3600)
    interval_s: float = Field(1.0, gt=0, le=300)
    download_url_key: str | None = Field(
        "download_url",
        description="dotted path of the download URL in the (last) status JSON; absolute or "
        "relative to base_url. None = use `download`",
    )
    download: RequestSpec | None = Field(None, description="download route when no URL is given")
    expect_format: Literal["zip", "json", "any"] = "zip"
    min_bytes: int = Field(1, ge=1)
    required_members: list[str] = Field(default_factory=lambda: ["manifest.json"])
    manifest_member: str | None = Field("manifest.json", description="JSON member to inspect")
    manifest_expect: dict[str, Any] = Field(
        default_factory=lambda: {"dataset_id": "{dataset_id}"},
        description="dotted path -> expected value in the manifest (placeholders filled)",
    )

    @model_validator(mode="after")
    def _download_source(self) -> ExportParams:
        if self.download_url_key is None and self.download is None:
            raise ValueError("give download_url_key or download")
        return self


def _defaults(model: type[_M]) -> Callable[[], _M]:
    return lambda: model.model_validate({})


def _default_test_data() -> list[Step]:
    return [
        _step(
            method="POST",
            path="/api/v1/projects/",
            json={
                "name": "runbook-integration {run_id}",
                "description": "created by the runbook's integration checks",
            },
            expect_status=[201],
            capture={"project_id": "id"},
            cleanup=_request(method="DELETE", path="/api/v1/projects/{project_id}"),
        ),
        _step(
            method="POST",
            path="/api/v1/datasets/",
            json={
                "project_id": "{project_id}",
                "name": "runbook-integration {run_id}",
                "keywords": ["runbook"],
                "max_images": 5,
            },
            expect_status=[201],
            capture={"dataset_id": "id"},
            cleanup=_request(method="DELETE", path="/api/v1/datasets/{dataset_id}"),
        ),
    ]


class IntegrationParams(BaseModel):
    """The integration checks of one environment; each can be switched off."""

    model_config = ConfigDict(extra="forbid")

    test_data: list[Step] = Field(
        default_factory=_default_test_data,
        description="requests creating what the job and export checks need (e.g. a project "
        "and a dataset); each check makes its own and removes it",
    )
    frontend: FrontendParams = Field(default_factory=_defaults(FrontendParams))
    cors: CorsParams
    jobs: JobProcessingParams = Field(default_factory=_defaults(JobProcessingParams))
    rate_limit: RateLimitParams = Field(default_factory=_defaults(RateLimitParams))
    files: FileTransferParams = Field(default_factory=_defaults(FileTransferParams))
    cache: CacheParams = Field(default_factory=_defaults(CacheParams))
    export: ExportParams = Field(default_factory=_defaults(ExportParams))

    @model_validator(mode="after")
    def _placeholders_known(self) -> IntegrationParams:
        known = {RUN_ID}
        for i, step in enumerate(self.test_data):
            _require(f"test_data.{i}", step, known)
            known |= set(step.capture)
        _require_chain("jobs", self.jobs.create, [self.jobs.poll], known)
        export_later = [r for r in (self.export.poll, self.export.download) if r is not None]
        _require_chain("export", self.export.create, export_later, known)
        _require_chain("files", self.files.upload, [self.files.download], {RUN_ID, FILE_NAME})
        _require("rate_limit.request", self.rate_limit.request, {RUN_ID})
        _require("cache.request", self.cache.request, {RUN_ID})
        return self


def _require(where: str, spec: RequestSpec, known: set[str]) -> None:
    missing = spec.placeholders() - known
    if isinstance(spec, Step) and spec.cleanup is not None:
        missing |= spec.cleanup.placeholders() - known - set(spec.capture)
    if missing:
        raise ValueError(
            f"{where}: uses {sorted(missing)}, which nothing before it provides "
            f"(known: {sorted(known)})"
        )


def _require_chain(where: str, first: Step, later: list[RequestSpec], known: set[str]) -> None:
    _require(f"{where}.create" if where != "files" else f"{where}.upload", first, known)
    for spec in later:
        _require(where, spec, known | set(first.capture))
