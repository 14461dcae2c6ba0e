"""`/_sandbox/*`: the fault knobs, the request log, the telemetry log and the reset.

Admin routes take no API token and are never faulted or rate limited (the traffic middleware
lets `/_sandbox` through); `/_sandbox/release` lives in `rehearsal.sandbox.release`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import ValidationError

from rehearsal.sandbox.errors import validation_message
from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.traffic import ADMIN_PREFIX, error_envelope


async def change_faults(
    runtime: SandboxRuntime, changes: dict[str, Any]
) -> Response | dict[str, Any]:
    """Put the changed knobs in force and answer them all; 422 (envelope) when invalid or when
    a database knob is set on a sandbox without a database."""
    db_knobs = sorted(k for k in changes if k.startswith("db_") and changes[k])
    if db_knobs and runtime.db is None:
        return error_envelope(
            422,
            "ValidationError",
            f"{', '.join(db_knobs)}: this sandbox has no database (start it with database_url_env)",
        )
    try:
        faults = runtime.injector.update(changes).model_dump()
    except ValidationError as exc:
        return error_envelope(422, "ValidationError", validation_message(exc.errors()))
    await runtime.apply_db_faults()
    return faults


def admin_router(runtime: SandboxRuntime) -> APIRouter:
    """GET/PUT /_sandbox/faults, GET /_sandbox/requests, POST /_sandbox/reset and
    GET /_sandbox/telemetry."""
    router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return runtime.injector.faults.model_dump()

    @router.put("/faults", response_model=None)
    async def put_faults(changes: Annotated[dict[str, Any], Body()]) -> Response | dict[str, Any]:
        return await change_faults(runtime, changes)

    @router.get("/requests")
    async def get_requests(since: int = 0) -> dict[str, Any]:
        records = runtime.log.since(since)
        return {"requests": [r.model_dump() for r in records], "count": len(records)}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        runtime.reset()
        if runtime.db is not None:
            await runtime.db.clear()
            await runtime.apply_db_faults()
        return {"status": "reset", "faults": runtime.injector.faults.model_dump()}

    # The worker's Application Insights-shaped telemetry, which the Azure stand-in reads.
    @router.get("/telemetry")
    async def get_telemetry(since: int = 0) -> dict[str, Any]:
        records = runtime.telemetry.since(since)
        return {"telemetry": [r.model_dump() for r in records], "count": len(records)}

    return router
