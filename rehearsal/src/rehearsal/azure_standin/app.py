"""The stand-in ASGI app: one router per concern (App Service ARM, Kudu, admin; later Monitor)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rehearsal.azure_standin import admin, arm_web, kudu, monitor, postgres_metrics
from rehearsal.azure_standin.config import StandinConfig
from rehearsal.azure_standin.faults import arm_error, arm_gate
from rehearsal.azure_standin.state import StandinError, StandinState


def build_app(config: StandinConfig) -> FastAPI:
    """A FastAPI app serving the ARM routes over in-memory state seeded from `config`."""
    app = FastAPI(title="runbook Azure stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = StandinState(config)
    app.middleware("http")(arm_gate)
    app.include_router(arm_web.router)
    app.include_router(kudu.router)
    app.include_router(admin.router)
    monitor.install(app)  # Azure Monitor: metrics, Logs, metric alert rules (+ CPU/RSS sampler)
    postgres_metrics.install(app)  # PostgreSQL flexible servers' metrics (real PostgreSQL)

    @app.exception_handler(StandinError)
    async def _standin_error(_: Request, exc: StandinError) -> JSONResponse:
        return arm_error(exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NoRegisteredProviderFound", 405: "MethodNotAllowed"}.get(
            exc.status_code, "BadRequest"
        )
        return arm_error(
            exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}"
        )

    return app
