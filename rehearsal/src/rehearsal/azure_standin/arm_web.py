"""ARM REST routes of Microsoft.Web/sites (App Service) as azure-mgmt-web calls them."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from rehearsal.azure_standin.config import SlotSpec
from rehearsal.azure_standin.state import PRODUCTION, StandinError, StandinState

SITE = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.Web/sites/{site}"
)
SLOT = SITE + "/slots/{slot}"

router = APIRouter()


# -- helpers ------------------------------------------------------------------------------
def _state(request: Request) -> StandinState:
    return request.app.state.standin


def _target(request: Request) -> tuple[StandinState, str, str | None]:
    """Check api-version and scope; return (state, site name, slot name or None)."""
    if "api-version" not in request.query_params:
        raise StandinError(
            400, "MissingApiVersionParameter", "The api-version query parameter is required."
        )
    state = _state(request)
    p = request.path_params
    state.check_scope(p["subscription"], p["resource_group"])
    site = state.site_name(p["site"])
    slot = p.get("slot")
    if slot is not None:
        slot = state.slot_name(site, slot)
        if slot == PRODUCTION:
            slot = None
    return state, site, slot


def _resource_id(state: StandinState, site: str, slot: str | None) -> str:
    cfg = state.config
    rid = (
        f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
        f"/providers/Microsoft.Web/sites/{site}"
    )
    return rid if slot is None else f"{rid}/slots/{slot}"


def host_names(state: StandinState, site: str, slot: str | None) -> tuple[str, str]:
    """(default host, SCM host) of a site or slot, as Azure names them."""
    label = site if slot is None else f"{site}-{slot}"
    suffix = state.config.host_suffix
    return f"{label}.{suffix}", f"{label}.scm.{suffix}"


def site_json(state: StandinState, site: str, slot: str | None) -> dict[str, Any]:
    """The ARM representation of a site or slot (GET P / GET P/slots/{slot})."""
    spec = state.site(site)
    target: SlotSpec = state.slot(site, slot)
    host, scm = host_names(state, site, slot)
    cfg = state.config
    return {
        "id": _resource_id(state, site, slot),
        "name": site if slot is None else f"{site}/{slot}",
        "type": "Microsoft.Web/sites" if slot is None else "Microsoft.Web/sites/slots",
        "kind": spec.kind,
        "location": spec.location,
        "tags": {},
        "properties": {
            "name": site if slot is None else f"{site}({slot})",
            "state": target.state,
            "hostNames": [host],
            "enabledHostNames": [host, scm],
            "defaultHostName": host,
            "hostNameSslStates": [
                {"name": host, "sslState": "Disabled", "hostType": "Standard"},
                {"name": scm, "sslState": "Disabled", "hostType": "Repository"},
            ],
            "usageState": "Normal",
            "enabled": True,
            "availabilityState": "Normal",
            "resourceGroup": cfg.resource_group,
            "serverFarmId": (
                f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
                f"/providers/Microsoft.Web/serverfarms/{site}-plan"
            ),
            "httpsOnly": True,
            "reserved": "linux" in spec.kind,
            "slotSwapStatus": None,
        },
    }


def _config_json(state: StandinState, site: str, slot: str | None, name: str, props: Any) -> dict:
    return {
        "id": f"{_resource_id(state, site, slot)}/config/{name}",
        "name": name,
        "type": "Microsoft.Web/sites/config"
        if slot is None
        else "Microsoft.Web/sites/slots/config",
        "properties": props,
    }


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise StandinError(
            400, "InvalidRequestContent", f"Request body is not JSON: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise StandinError(400, "InvalidRequestContent", "Request body must be a JSON object.")
    return body


# -- sites and slots ----------------------------------------------------------------------
@router.get(SITE)
@router.get(SLOT)
async def get_site(request: Request) -> JSONResponse:
    state, site, slot = _target(request)
    return JSONResponse(site_json(state, site, slot))


@router.get(SITE + "/slots")
async def list_slots(request: Request) -> JSONResponse:
    state, site, _ = _target(request)
    return JSONResponse({"value": [site_json(state, site, s) for s in state.site(site).slots]})


# -- app settings -------------------------------------------------------------------------
@router.post(SITE + "/config/appsettings/list")
@router.post(SLOT + "/config/appsettings/list")
async def list_app_settings(request: Request) -> JSONResponse:
    state, site, slot = _target(request)
    props = dict(state.slot(site, slot).app_settings)
    return JSONResponse(_config_json(state, site, slot, "appsettings", props))


@router.put(SITE + "/config/appsettings")
@router.put(SLOT + "/config/appsettings")
async def update_app_settings(request: Request) -> JSONResponse:
    state, site, slot = _target(request)
    props = (await _json_body(request)).get("properties")
    if not isinstance(props, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in props.items()
    ):
        raise StandinError(
            400, "InvalidRequestContent", "'properties' must map setting names to string values."
        )
    state.slot(site, slot).app_settings = dict(props)
    return JSONResponse(_config_json(state, site, slot, "appsettings", dict(props)))


@router.get(SITE + "/config/slotConfigNames")
async def get_slot_config_names(request: Request) -> JSONResponse:
    state, site, _ = _target(request)
    props = {
        "appSettingNames": list(state.site(site).sticky_settings),
        "connectionStringNames": [],
        "azureStorageConfigNames": [],
    }
    return JSONResponse(_config_json(state, site, None, "slotConfigNames", props))


@router.put(SITE + "/config/slotConfigNames")
async def update_slot_config_names(request: Request) -> JSONResponse:
    state, site, _ = _target(request)
    props = (await _json_body(request)).get("properties") or {}
    names = props.get("appSettingNames") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StandinError(400, "InvalidRequestContent", "'appSettingNames' must be a string list.")
    state.site(site).sticky_settings = list(names)
    return await get_slot_config_names(request)


# -- configuration, deployments, restart --------------------------------------------------
@router.get(SITE + "/config/web")
@router.get(SLOT + "/config/web")
async def get_web_config(request: Request) -> JSONResponse:
    state, site, slot = _target(request)
    props = dict(state.slot(site, slot).site_config)
    return JSONResponse(_config_json(state, site, slot, "web", props))


@router.get(SITE + "/deployments")
@router.get(SLOT + "/deployments")
async def list_deployments(request: Request) -> JSONResponse:
    state, site, slot = _target(request)
    rid = _resource_id(state, site, slot)
    value = [
        {
            "id": f"{rid}/deployments/{d.id}",
            "name": d.id,
            "type": "Microsoft.Web/sites/deployments",
            "properties": d.model_dump(mode="json", exclude={"id"}),
        }
        for d in state.slot(site, slot).deployments
    ]
    return JSONResponse({"value": value})


@router.post(SITE + "/restart")
@router.post(SLOT + "/restart")
async def restart(request: Request) -> Response:
    state, site, slot = _target(request)
    state.record_restart(site, slot)
    return Response(status_code=200)


# -- swap (long-running) ------------------------------------------------------------------
@router.post(SITE + "/slotsswap")
@router.post(SLOT + "/slotsswap")
async def swap(request: Request) -> Response:
    state, site, slot = _target(request)
    body = await _json_body(request)
    target = body.get("targetSlot")
    if not isinstance(target, str) or not target:
        raise StandinError(400, "InvalidRequestContent", "'targetSlot' is required.")
    target_name: str | None = state.slot_name(site, target)
    if target_name == PRODUCTION:
        target_name = None
    if state.faults.fail_swap:
        op = state.new_operation("swap", site, source=slot or PRODUCTION, target=target)
    else:
        detail = state.swap(site, slot, target_name)
        op = state.new_operation("swap", site, **detail)
    base = str(request.base_url).rstrip("/")
    api_version = request.query_params["api-version"]
    rid = _resource_id(state, site, None)
    poll = f"{base}{rid}/operationresults/{op.id}?api-version={api_version}"
    return Response(status_code=202, headers={"Azure-AsyncOperation": poll})


@router.get(SITE + "/operationresults/{operation}")
async def operation_result(request: Request) -> JSONResponse:
    state, _, _ = _target(request)
    return JSONResponse(state.poll(request.path_params["operation"]))
