"""The routes that need no API token: health reports and the sandbox's slow route."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from rehearsal.sandbox.runtime import Runtime, SandboxRuntime
from rehearsal.sandbox.store import utc_now

router = APIRouter(tags=["Health"])


# The load balancer's probe: healthy and the service name.
@router.get("/health")
async def root_health(runtime: Runtime) -> dict[str, str]:
    return {"status": "healthy", "service": runtime.config.service_name}


# Sandbox only, for load tests: answer after `slow_route_ms`.
@router.get("/api/v1/sandbox/slow", include_in_schema=False)
async def slow(runtime: Runtime) -> dict[str, Any]:
    config = runtime.config
    await asyncio.sleep(config.slow_route_ms / 1000)
    return {"status": "ok", "slept_ms": config.slow_route_ms}


# Healthy, with the time, the version and the environment.
@router.get("/api/v1/health/")
async def health_check(runtime: Runtime) -> dict[str, str]:
    config = runtime.config
    return {
        "status": "healthy",
        "timestamp": utc_now(),
        "version": config.version,
        "environment": config.environment,
    }


def _probes(runtime: SandboxRuntime) -> dict[str, Callable[[], int]]:
    """One cheap read per component the backend reports on."""
    return {
        "database": lambda: len(runtime.store.projects),
        "redis": lambda: len(runtime.store.files),
        "celery": lambda: len(runtime.store.jobs),
    }


# Each component's state (the component_health knob, celery degraded while the worker is stalled);
# the whole is unhealthy with the database, degraded with anything else.
@router.get("/api/v1/health/detailed")
async def detailed_health(runtime: Runtime) -> dict[str, Any]:
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
