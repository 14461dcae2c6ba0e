"""The routes that need no API token: health reports and the sandbox's slow route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.store import utc_now


def _probes(runtime: SandboxRuntime) -> dict[str, Callable[[], int]]:
    """One cheap read per component the backend reports on."""
    return {
        "database": lambda: len(runtime.store.projects),
        "redis": lambda: len(runtime.store.files),
        "celery": lambda: len(runtime.store.jobs),
    }


def detailed_report(runtime: SandboxRuntime) -> dict[str, Any]:
    """Each component's state (the component_health knob; celery degraded while the worker is
    stalled); the whole is unhealthy with the database, degraded with anything else."""
    config = runtime.config
    knobs = runtime.injector.faults
    probes = _probes(runtime)
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


def install_public_routes(app: FastAPI, runtime: SandboxRuntime) -> None:
    """GET /health and /api/v1/sandbox/slow, on the app itself (matched before any router)."""
    config = runtime.config  # release.py changes its version and slow_route_ms in place

    @app.get("/health", tags=["Health"])
    async def root_health() -> dict[str, str]:
        return {"status": "healthy", "service": config.service_name}

    # Sandbox only, for load tests (public, not in the OpenAPI document).
    @app.get("/api/v1/sandbox/slow", include_in_schema=False)
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(config.slow_route_ms / 1000)
        return {"status": "ok", "slept_ms": config.slow_route_ms}


def health_router(runtime: SandboxRuntime) -> APIRouter:
    """GET /api/v1/health/ and /api/v1/health/detailed."""
    router = APIRouter(prefix="/api/v1/health", tags=["Health"])
    config = runtime.config

    @router.get("/")
    async def health_check() -> dict[str, str]:
        return {
            "status": "healthy",
            "timestamp": utc_now(),
            "version": config.version,
            "environment": config.environment,
        }

    @router.get("/detailed")
    async def detailed_health() -> dict[str, Any]:
        return detailed_report(runtime)

    return router
