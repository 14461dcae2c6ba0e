"""Admin routes under /_standin/: look at the state, set faults and settings, reset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rehearsal.azure_standin.config import FaultKnobs
from rehearsal.azure_standin.faults import ADMIN_PREFIX, arm_error
from rehearsal.azure_standin.state import StandinState

router = APIRouter(prefix=ADMIN_PREFIX)


def _state(request: Request) -> StandinState:
    return request.app.state.standin


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/state")
async def state_dump(request: Request) -> dict:
    return _state(request).dump()


@router.get("/faults")
async def get_faults(request: Request) -> dict:
    return _state(request).faults.model_dump(mode="json")


@router.put("/faults")
async def put_faults(request: Request) -> JSONResponse:
    try:
        faults = FaultKnobs.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return arm_error(400, "InvalidFaults", str(exc))
    _state(request).set_faults(faults)
    return JSONResponse(faults.model_dump(mode="json"))


@router.put("/sites/{site}/appsettings")
@router.put("/sites/{site}/slots/{slot}/appsettings")
async def put_app_settings(request: Request) -> JSONResponse:
    body = await request.json()
    if not isinstance(body, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in body.items()
    ):
        return arm_error(400, "InvalidSettings", "body must map setting names to string values")
    state = _state(request)
    target = state.slot(request.path_params["site"], request.path_params.get("slot"))
    target.app_settings = dict(body)
    return JSONResponse(target.app_settings)


@router.get("/requests")
async def get_requests(request: Request) -> list:
    return list(_state(request).requests)


@router.delete("/requests")
async def clear_requests(request: Request) -> dict:
    _state(request).requests.clear()
    return {"cleared": True}


@router.post("/reset")
async def reset(request: Request) -> dict:
    _state(request).reset()
    return {"reset": True}
