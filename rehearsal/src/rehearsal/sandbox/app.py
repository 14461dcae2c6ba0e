"""The sandbox FastAPI app: a small, in-memory, PixCrawler-compatible API with fault knobs.

`create_app` assembles the parts: the per-app state (`runtime.SandboxRuntime` on
`app.state.sandbox`), the error envelope (`errors`), one router per resource family
(`routes/`), the release and frontend routes, and the traffic middleware (`traffic`) that takes
the sandbox down, rate limits, injects faults and logs every non-admin request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.errors import install_error_envelopes
from rehearsal.sandbox.frontend import install_frontend
from rehearsal.sandbox.release import router as release_router
from rehearsal.sandbox.routes.admin import admin_router
from rehearsal.sandbox.routes.auth import auth_router, current_user_check, token_required
from rehearsal.sandbox.routes.datasets import datasets_router
from rehearsal.sandbox.routes.exports import exports_router
from rehearsal.sandbox.routes.jobs import jobs_router
from rehearsal.sandbox.routes.notifications import notifications_router
from rehearsal.sandbox.routes.projects import projects_router
from rehearsal.sandbox.routes.public import health_router, install_public_routes
from rehearsal.sandbox.routes.storage import storage_router
from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.traffic import SandboxMiddleware
from rehearsal.sandbox.worker import WorkerTelemetry, run_worker


def _routers(runtime: SandboxRuntime) -> tuple[APIRouter, ...]:
    """The API and admin routers around one runtime, in the order they are matched."""
    current_user = current_user_check(runtime)
    authed = token_required(current_user)
    return (
        health_router(runtime),
        auth_router(current_user),
        projects_router(runtime, authed),
        datasets_router(runtime, authed),
        jobs_router(runtime, authed),
        notifications_router(runtime, authed),
        storage_router(runtime, authed),
        exports_router(runtime, authed),
        admin_router(runtime),
    )


def _start_worker(runtime: SandboxRuntime) -> asyncio.Task[None]:
    """Start the background worker moving crawl jobs along under the runtime's fault knobs."""
    return asyncio.create_task(
        run_worker(
            lambda: runtime.store,
            runtime.config.job_step_seconds,
            lambda: runtime.injector.faults.worker_stalled,
            lambda: runtime.injector.faults.notifications_lost,
            WorkerTelemetry(runtime.telemetry, runtime.config.worker_role),
            lambda: runtime.injector.faults.jobs_fail,
        )
    )


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves: its database open with its knobs in force, and its worker running."""
    runtime: SandboxRuntime = app.state.sandbox
    if runtime.db is not None:
        await runtime.db.open()
        await runtime.apply_db_faults()
    worker = _start_worker(runtime)
    try:
        yield
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        runtime.injector.close()  # the CPU burner stops with the app
        if runtime.db is not None:
            await runtime.db.close()


def _template_routes(app: FastAPI, routers: Sequence[APIRouter]) -> list[BaseRoute]:
    """The routes to resolve request templates against, flat (FastAPI nests included routers)."""
    flat_routes = [r for r in app.router.routes if hasattr(r, "path")]
    flat_routes += [r for router in routers for r in router.routes]
    return flat_routes


def _install_traffic(app: FastAPI, runtime: SandboxRuntime, routers: Sequence[APIRouter]) -> None:
    """Put the traffic middleware (down, rate limit, faults, request log) outermost."""
    app.add_middleware(
        SandboxMiddleware,
        routes=_template_routes(app, routers),
        injector=runtime.injector,
        limiter=runtime.limiter,
        log=runtime.log,
        token=runtime.token,
    )


def create_app(config: SandboxConfig, token: str) -> FastAPI:
    """Build the sandbox app for one config; requests must carry `Bearer <token>`."""
    runtime = SandboxRuntime(config, token)
    app = FastAPI(
        title=config.service_name,
        version=config.version,
        description="PixCrawler-compatible local sandbox (in memory, with fault knobs).",
        lifespan=_lifespan,
    )
    app.state.sandbox = runtime
    install_error_envelopes(app)
    install_public_routes(app, runtime)  # /health and the slow route
    routers = _routers(runtime)
    for router in routers:
        app.include_router(router)
    app.include_router(release_router)  # GET/PUT /_sandbox/release, reads app.state.sandbox
    install_frontend(app, config)  # CORS (inside the sandbox middleware) and the frontend page
    _install_traffic(app, runtime, routers)
    return app
