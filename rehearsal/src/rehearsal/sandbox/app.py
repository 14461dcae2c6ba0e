"""The sandbox FastAPI app: a small, in-memory, PixCrawler-compatible API with fault knobs."""

import asyncio
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.database import SandboxDatabase
from rehearsal.sandbox.export import export_router
from rehearsal.sandbox.faults import FaultInjector
from rehearsal.sandbox.frontend import install_frontend
from rehearsal.sandbox.release import router as release_router
from rehearsal.sandbox.store import Store, StoredFile, utc_now
from rehearsal.sandbox.telemetry import TelemetryLog, telemetry_router
from rehearsal.sandbox.traffic import (
    ADMIN_PREFIX,
    FixedWindowRateLimiter,
    RequestLog,
    SandboxMiddleware,
    error_envelope,
)
from rehearsal.sandbox.worker import WorkerTelemetry, run_worker

SANDBOX_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://pixcrawler.local/sandbox-user"))


class SandboxRuntime:
    """Per-process state: the store, the fault knobs, the rate limiter and the request log."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(user_id=SANDBOX_USER_ID)
        self.injector = FaultInjector(config.faults, config.seed)
        self.limiter = FixedWindowRateLimiter(
            config.rate_limit_per_minute,
            per_key={"token": config.token_rate_limit_per_minute}
            if config.token_rate_limit_per_minute
            else None,
        )
        self.log = RequestLog(config.request_log_size)
        self.telemetry = TelemetryLog(config.request_log_size)
        self.db: SandboxDatabase | None = None
        if config.database_url_env is not None:
            url = os.environ.get(config.database_url_env, "")
            if not url:
                raise ValueError(
                    f"the sandbox's database URL variable {config.database_url_env} is not set"
                )
            self.db = SandboxDatabase(url)

    async def apply_db_faults(self) -> None:
        """Put the database knobs in force (slow statements, held connections)."""
        if self.db is not None:
            faults = self.injector.faults
            self.db.slow_query_ms = faults.db_slow_query_ms
            await self.db.hold(faults.db_hold_connections)

    def reset(self) -> None:
        """Empty the store and the log, restore the configured faults, restart rate windows."""
        self.store = Store(user_id=SANDBOX_USER_ID)
        self.injector.replace(self.config.faults)
        self.limiter.reset()
        self.log.clear()
        self.telemetry.clear()


# -- request bodies (lenient like a client would expect: unknown fields are ignored) ------------
class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None


class ProjectUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None


class DatasetCreate(BaseModel):
    project_id: int
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    max_images: int = Field(default=100, ge=1, le=10_000)


class DatasetUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


class CrawlJobUpdate(BaseModel):
    """What a client may change on a crawl job (its progress is the worker's)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


class CrawlJobCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


def _listing(items: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {"data": items, "meta": {"total": len(items), **meta}}


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")


def _validation_message(errors: Sequence[Any]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Validation error"


def create_app(config: SandboxConfig, token: str) -> FastAPI:
    """Build the sandbox app for one config; requests must carry `Bearer <token>`."""
    if not token:
        raise ValueError("the sandbox needs a non-empty API token")
    runtime = SandboxRuntime(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runtime.db is not None:
            await runtime.db.open()
            await runtime.apply_db_faults()
        worker = asyncio.create_task(
            run_worker(
                lambda: runtime.store,
                config.job_step_seconds,
                lambda: runtime.injector.faults.worker_stalled,
                lambda: runtime.injector.faults.notifications_lost,
                WorkerTelemetry(runtime.telemetry, config.worker_role),
                lambda: runtime.injector.faults.jobs_fail,
            )
        )
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            runtime.injector.close()  # the CPU burner stops with the app
            if runtime.db is not None:
                await runtime.db.close()

    app = FastAPI(
        title=config.service_name,
        version=config.version,
        description="PixCrawler-compatible local sandbox (in memory, with fault knobs).",
        lifespan=lifespan,
    )
    app.state.sandbox = runtime

    # -- errors: every one in the backend's envelope ----------------------------------------
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return error_envelope(exc.status_code, "HTTPException", str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        return error_envelope(422, "RequestValidationError", _validation_message(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        return error_envelope(500, "InternalServerError", f"{type(exc).__name__}")

    # -- auth -------------------------------------------------------------------------------
    bearer = HTTPBearer(auto_error=False)

    def current_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> dict[str, Any]:
        if creds is None or not secrets.compare_digest(creds.credentials.encode(), token.encode()):
            raise HTTPException(
                status_code=401,
                detail="Authentication required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return {
            "id": SANDBOX_USER_ID,
            "email": config.user_email,
            "full_name": "Sandbox User",
            "role": "user",
            "is_active": True,
        }

    authed = [Depends(current_user)]

    # -- health and auth ---------------------------------------------------------------------
    @app.get("/health", tags=["Health"])
    async def root_health() -> dict[str, str]:
        return {"status": "healthy", "service": config.service_name}

    health = APIRouter(prefix="/api/v1/health", tags=["Health"])

    @health.get("/")
    async def health_check() -> dict[str, str]:
        return {
            "status": "healthy",
            "timestamp": utc_now(),
            "version": config.version,
            "environment": config.environment,
        }

    @health.get("/detailed")
    async def detailed_health() -> dict[str, Any]:
        knobs = runtime.injector.faults
        probes = {
            "database": lambda: len(runtime.store.projects),
            "redis": lambda: len(runtime.store.files),
            "celery": lambda: len(runtime.store.jobs),
        }
        body: dict[str, Any] = {
            "status": "healthy",
            "timestamp": utc_now(),
            "version": config.version,
            "environment": config.environment,
        }
        for name, probe in probes.items():
            began = time.perf_counter()
            probe()
            default = "degraded" if name == "celery" and knobs.worker_stalled else "healthy"
            state = knobs.component_health.get(name, default)  # type: ignore[call-overload]
            body[name] = {
                "status": state,
                "message": f"{name} {state} (sandbox)",
                "response_time_ms": round((time.perf_counter() - began) * 1000, 3),
            }
        states = [body[name]["status"] for name in probes]
        if body["database"]["status"] == "unhealthy":
            body["status"] = "unhealthy"
        elif any(s != "healthy" for s in states):
            body["status"] = "degraded"
        return body

    auth = APIRouter(prefix="/api/v1/auth", tags=["Auth"])

    @auth.get("/me")
    async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return user

    # -- projects ----------------------------------------------------------------------------
    projects = APIRouter(prefix="/api/v1/projects", tags=["Projects"], dependencies=authed)

    def get_project_or_404(project_id: int) -> dict[str, Any]:
        project = runtime.store.projects.get(project_id)
        if project is None:
            raise _not_found("Project")
        return project

    @projects.get("/")
    async def list_projects() -> dict[str, Any]:
        if runtime.db is not None:
            return _listing(await runtime.db.list())
        return _listing(list(runtime.store.projects.values()))

    @projects.post("/", status_code=201)
    async def create_project(body: ProjectCreate) -> dict[str, Any]:
        stamp = utc_now()
        project: dict[str, Any] = {
            "id": runtime.store.next_id(),
            "name": body.name,
            "description": body.description,
            "user_id": SANDBOX_USER_ID,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if runtime.db is not None:
            await runtime.db.insert(project)
        runtime.store.projects[project["id"]] = project
        return project

    @projects.get("/{project_id}")
    async def get_project(project_id: int) -> dict[str, Any]:
        if runtime.db is not None:
            stored = await runtime.db.get(project_id)
            if stored is None:
                raise _not_found("Project")
            return stored
        return get_project_or_404(project_id)

    @projects.patch("/{project_id}")
    async def update_project(project_id: int, body: ProjectUpdate) -> dict[str, Any]:
        project = get_project_or_404(project_id)
        project.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        if runtime.db is not None:
            await runtime.db.save(project)
        return project

    @projects.delete("/{project_id}")
    async def delete_project(project_id: int) -> dict[str, Any]:
        get_project_or_404(project_id)
        if runtime.db is not None:
            await runtime.db.delete(project_id)
        store = runtime.store
        for dataset_id in [d for d, ds in store.datasets.items() if ds["project_id"] == project_id]:
            _delete_dataset(dataset_id)
        del store.projects[project_id]
        return {"data": None}

    # -- datasets ----------------------------------------------------------------------------
    datasets = APIRouter(prefix="/api/v1/datasets", tags=["Datasets"], dependencies=authed)

    def get_dataset_or_404(dataset_id: int) -> dict[str, Any]:
        dataset = runtime.store.datasets.get(dataset_id)
        if dataset is None:
            raise _not_found("Dataset")
        return dataset

    def _delete_dataset(dataset_id: int) -> None:
        store = runtime.store
        for job_id in [j for j, job in store.jobs.items() if job["dataset_id"] == dataset_id]:
            store.remove_job(job_id)
        store.datasets.pop(dataset_id, None)

    @datasets.get("/")
    async def list_datasets() -> dict[str, Any]:
        return _listing(list(runtime.store.datasets.values()))

    @datasets.post("/", status_code=201)
    async def create_dataset(body: DatasetCreate) -> dict[str, Any]:
        get_project_or_404(body.project_id)
        stamp = utc_now()
        dataset = {
            "id": runtime.store.next_id(),
            **body.model_dump(),
            "created_at": stamp,
            "updated_at": stamp,
        }
        runtime.store.datasets[dataset["id"]] = dataset
        return dataset

    @datasets.get("/{dataset_id}")
    async def get_dataset(dataset_id: int) -> dict[str, Any]:
        return get_dataset_or_404(dataset_id)

    @datasets.patch("/{dataset_id}")
    async def update_dataset(dataset_id: int, body: DatasetUpdate) -> dict[str, Any]:
        dataset = get_dataset_or_404(dataset_id)
        dataset.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        return dataset

    @datasets.delete("/{dataset_id}")
    async def delete_dataset(dataset_id: int) -> dict[str, Any]:
        get_dataset_or_404(dataset_id)
        _delete_dataset(dataset_id)
        return {"data": None}

    # -- crawl jobs (create lives under a dataset; POST /api/v1/jobs/ is 405 like the backend) --
    jobs = APIRouter(prefix="/api/v1/jobs", tags=["Crawl Jobs"], dependencies=authed)

    def get_job_or_404(job_id: int) -> dict[str, Any]:
        job = runtime.store.jobs.get(job_id)
        if job is None:
            raise _not_found("Crawl job")
        return job

    @jobs.get("/")
    async def list_jobs() -> dict[str, Any]:
        return _listing(list(runtime.store.jobs.values()))

    @jobs.post("/datasets/{dataset_id}/jobs", status_code=201)
    async def create_job(
        dataset_id: int, body: Annotated[CrawlJobCreate | None, Body()] = None
    ) -> dict[str, Any]:
        dataset = get_dataset_or_404(dataset_id)
        body = body or CrawlJobCreate.model_validate({})
        job_id = runtime.store.next_id()
        stamp = utc_now()
        job = {
            "id": job_id,
            "dataset_id": dataset_id,
            "project_id": dataset["project_id"],
            "name": body.name or f"{dataset['name']} crawl {job_id}",
            "keywords": body.keywords if body.keywords is not None else dataset["keywords"],
            "max_images": body.max_images or dataset["max_images"],
            "status": "pending",
            "progress": 0,
            "total_images": 0,
            "downloaded_images": 0,
            "valid_images": 0,
            "created_at": stamp,
            "updated_at": stamp,
            "started_at": None,
            "completed_at": None,
        }
        runtime.store.add_job(job)
        return job

    @jobs.get("/{job_id}")
    async def get_job(job_id: int) -> dict[str, Any]:
        return get_job_or_404(job_id)

    @jobs.patch("/{job_id}")
    async def update_job(job_id: int, body: CrawlJobUpdate) -> dict[str, Any]:
        job = get_job_or_404(job_id)
        job.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        return job

    @jobs.delete("/{job_id}")
    async def delete_job(job_id: int) -> dict[str, Any]:
        get_job_or_404(job_id)
        runtime.store.remove_job(job_id)
        return {"data": None}

    # -- notifications -----------------------------------------------------------------------
    notifications = APIRouter(
        prefix="/api/v1/notifications", tags=["Notifications"], dependencies=authed
    )

    @notifications.get("/")
    async def list_notifications() -> dict[str, Any]:
        notes = sorted(runtime.store.notifications.values(), key=lambda n: n["id"], reverse=True)
        return _listing(notes, unread=sum(1 for n in notes if not n["is_read"]))

    # -- storage -----------------------------------------------------------------------------
    storage = APIRouter(prefix="/api/v1/storage", tags=["Storage"], dependencies=authed)

    @storage.get("/files/")
    async def list_files() -> dict[str, Any]:
        return _listing([f.describe(name) for name, f in sorted(runtime.store.files.items())])

    @storage.put("/files/{name}", status_code=201)
    async def upload_file(name: str, request: Request, response: Response) -> dict[str, Any]:
        content = await request.body()
        if len(content) > config.max_upload_bytes:
            raise HTTPException(
                status_code=413, detail=f"File larger than {config.max_upload_bytes} bytes"
            )
        replaced = name in runtime.store.files
        stored = StoredFile(
            content, request.headers.get("content-type") or "application/octet-stream"
        )
        runtime.store.files[name] = stored
        if replaced:
            response.status_code = 200
        return stored.describe(name)

    @storage.get("/files/{name}")
    async def download_file(name: str) -> Response:
        stored = runtime.store.files.get(name)
        if stored is None:
            raise _not_found("File")
        return Response(stored.content, media_type=stored.content_type)

    @storage.delete("/files/{name}")
    async def delete_file(name: str) -> dict[str, Any]:
        if runtime.store.files.pop(name, None) is None:
            raise _not_found("File")
        return {"data": None}

    # -- sandbox-only: a slow route for load tests (public, not in the OpenAPI document) -------
    @app.get("/api/v1/sandbox/slow", include_in_schema=False)
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(config.slow_route_ms / 1000)
        return {"status": "ok", "slept_ms": config.slow_route_ms}

    # -- admin: never faulted, never rate limited, no API token ---------------------------------
    admin = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)

    @admin.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return runtime.injector.faults.model_dump()

    @admin.put("/faults", response_model=None)
    async def put_faults(changes: Annotated[dict[str, Any], Body()]) -> Response | dict[str, Any]:
        db_knobs = sorted(k for k in changes if k.startswith("db_") and changes[k])
        if db_knobs and runtime.db is None:
            return error_envelope(
                422,
                "ValidationError",
                f"{', '.join(db_knobs)}: this sandbox "
                "has no database (start it with database_url_env)",
            )
        try:
            faults = runtime.injector.update(changes).model_dump()
        except ValidationError as exc:
            return error_envelope(422, "ValidationError", _validation_message(exc.errors()))
        await runtime.apply_db_faults()
        return faults

    @admin.get("/requests")
    async def get_requests(since: int = 0) -> dict[str, Any]:
        records = runtime.log.since(since)
        return {"requests": [r.model_dump() for r in records], "count": len(records)}

    @admin.post("/reset")
    async def reset() -> dict[str, Any]:
        runtime.reset()
        if runtime.db is not None:
            await runtime.db.clear()
            await runtime.apply_db_faults()
        return {"status": "reset", "faults": runtime.injector.faults.model_dump()}

    exports = export_router(
        lambda: runtime.store,
        lambda: runtime.injector.faults.worker_stalled,
        config.export_seconds,
        authed,
    )
    routers = (health, auth, projects, datasets, jobs, notifications, storage, exports, admin)
    for router in routers:
        app.include_router(router)
    app.include_router(release_router)  # admin: GET/PUT /_sandbox/release
    app.include_router(telemetry_router(lambda: runtime.telemetry))  # GET /_sandbox/telemetry
    install_frontend(app, config)  # CORS (inside the sandbox middleware) and the frontend page
    # The routes to resolve templates against, flat (recent FastAPI nests included routers).
    flat_routes = [r for r in app.router.routes if hasattr(r, "path")]
    flat_routes += [r for router in routers for r in router.routes]

    app.add_middleware(
        SandboxMiddleware,
        routes=flat_routes,
        injector=runtime.injector,
        limiter=runtime.limiter,
        log=runtime.log,
        token=token,
    )
    return app
