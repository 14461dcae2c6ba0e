"""Kudu (the SCM site) of each site and slot: zip deploy and its deployment status.

In Azure a site's Kudu lives on its own host, the site's `hostNameSslStates` entry of type
`Repository` (`{site}[-{slot}].scm.azurewebsites.net`). The stand-in serves every SCM host on
its one address under a path prefix named after that host:
`https://127.0.0.1:PORT/{scm_host}/api/zipdeploy`. A client finds the SCM host exactly as in
Azure (read the site, take the Repository entry) and puts it into a URL template
(`https://{scm_host}` in Azure, `https://127.0.0.1:PORT/{scm_host}` here).

A package must hold a `release.json` (see rehearsal.sandbox.release). A successful deploy records
a deployment on the slot, sets its deployed version and, when the slot has a `sandbox_url`,
makes that sandbox become the release. Faults: `fail_zip_deploy`, `zip_deploy_in_progress_polls`,
`zip_deploy_never_completes` (FaultKnobs).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rehearsal.azure_standin.arm_web import host_names
from rehearsal.azure_standin.config import DeploymentRecord
from rehearsal.azure_standin.state import StandinError, StandinState, now_iso
from rehearsal.sandbox.release import Release, ReleaseError, put_release, read_release

SCM = "/{scm_host}/api"
STATUS_TEXT = {0: "Pending", 1: "Building", 2: "Deploying", 3: "Failed", 4: "Success"}

router = APIRouter()


class KuduDeployment(BaseModel):
    """One zip deploy as Kudu tracks it (GET api/deployments/latest shows it)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    site: str
    slot: str | None
    status: int = 0
    polls: int = 0
    polls_left: int = 0
    never_completes: bool = False
    fail: bool = False
    finishing: bool = False
    message: str = "Created via a push deployment"
    release: Release | None = None
    received_time: str = Field(default_factory=now_iso)
    end_time: str | None = None


def _state(request: Request) -> StandinState:
    return request.app.state.standin


def _resolve(state: StandinState, scm_host: str) -> tuple[str, str | None]:
    """(site, slot or None) whose SCM host is `scm_host`; 404 like an unknown host otherwise."""
    for site, spec in state.config.sites.items():
        for slot in (None, *spec.slots):
            if host_names(state, site, slot)[1].lower() == scm_host.lower():
                return site, slot
    raise StandinError(404, "NotFound", f"No site has the SCM host '{scm_host}'.")


def _deployments(state: StandinState, scm_host: str) -> list[KuduDeployment]:
    return state.kudu.setdefault(scm_host.lower(), [])


def _json(request: Request, scm_host: str, dep: KuduDeployment) -> dict[str, Any]:
    base = f"{str(request.base_url).rstrip('/')}/{scm_host}/api/deployments/{dep.id}"
    complete = dep.status in (3, 4)
    return {
        "id": dep.id,
        "status": dep.status,
        "status_text": STATUS_TEXT[dep.status],
        "author": "N/A",
        "author_email": "N/A",
        "deployer": "Push-Deployer",
        "message": dep.message,
        "progress": "" if complete else f"{STATUS_TEXT[dep.status]} (poll {dep.polls})",
        "received_time": dep.received_time,
        "start_time": dep.received_time,
        "end_time": dep.end_time,
        "complete": complete,
        "active": dep.status == 4,
        "is_temp": False,
        "is_readonly": True,
        "site_name": dep.site if dep.slot is None else f"{dep.site}__{dep.slot}",
        "version": dep.release.version if dep.release else None,
        "url": base,
        "log_url": f"{base}/log",
    }


async def _finish(state: StandinState, dep: KuduDeployment) -> None:
    """End a deployment: failed (fault or bad package) or live (slot, history, its sandbox)."""
    dep.finishing = True
    if dep.fail or dep.release is None:
        dep.status = 3
    else:
        slot = state.slot(dep.site, dep.slot)
        if slot.sandbox_url:
            try:
                await asyncio.to_thread(put_release, slot.sandbox_url, dep.release)
            except ReleaseError as exc:
                dep.status, dep.message = 3, f"Deployment failed: the app did not start: {exc}"
        if dep.status != 3:
            dep.status = 4
            dep.message = f"release {dep.release.version} deployed"
            slot.deployed_version = dep.release.version
            for old in slot.deployments:
                old.active = False
    dep.end_time = now_iso()
    slot = state.slot(dep.site, dep.slot)
    slot.deployments.append(
        DeploymentRecord(
            id=dep.id,
            status=dep.status,
            message=dep.message,
            author="N/A",
            deployer="Push-Deployer",
            start_time=dep.received_time,
            end_time=dep.end_time,
            active=dep.status == 4,
        )
    )


async def _advance(state: StandinState, dep: KuduDeployment) -> None:
    """One poll: move 0 -> 1 -> 2 while polls are left (or forever), then finish."""
    if dep.status in (3, 4) or dep.finishing:
        return
    dep.polls += 1
    if dep.never_completes or dep.polls_left > 0:
        dep.polls_left = max(0, dep.polls_left - 1)
        dep.status = min(dep.polls, 2)
        return
    await _finish(state, dep)


@router.post(SCM + "/zipdeploy")
async def zip_deploy(request: Request) -> Response:
    """Receive a zip; answer 202 + Location (isAsync=true) or the finished deployment."""
    state = _state(request)
    scm_host = request.path_params["scm_host"]
    site, slot = _resolve(state, scm_host)
    faults = state.faults
    dep = KuduDeployment(
        id=uuid.uuid4().hex,
        site=site,
        slot=slot,
        polls_left=faults.zip_deploy_in_progress_polls,
        never_completes=faults.zip_deploy_never_completes,
        fail=faults.fail_zip_deploy,
    )
    try:
        dep.release = read_release(await request.body())
    except ReleaseError as exc:
        dep.message = f"Deployment failed: {exc}"
    if dep.fail:
        dep.message = "Deployment failed (stand-in fault fail_zip_deploy): Oryx build failed"
    _deployments(state, scm_host).append(dep)
    if request.query_params.get("isAsync", "").lower() != "true":
        while dep.status not in (3, 4) and not dep.never_completes:
            await _advance(state, dep)
        status = {4: 200, 3: 400}.get(dep.status, 202)
        return JSONResponse(_json(request, scm_host, dep), status_code=status)
    if dep.polls_left == 0 and not dep.never_completes:
        await _finish(state, dep)
    location = (
        f"{str(request.base_url).rstrip('/')}/{scm_host}/api/deployments/latest"
        f"?deployer=Push&time={dep.received_time}"
    )
    return Response(status_code=202, headers={"Location": location})


@router.get(SCM + "/deployments/latest")
async def latest(request: Request) -> JSONResponse:
    """The most recent zip deploy of this SCM host (each poll advances an unfinished one)."""
    state = _state(request)
    scm_host = request.path_params["scm_host"]
    _resolve(state, scm_host)
    deployments = _deployments(state, scm_host)
    if not deployments:
        raise StandinError(404, "NotFound", "No deployment found.")
    await _advance(state, deployments[-1])
    return JSONResponse(_json(request, scm_host, deployments[-1]))


@router.get(SCM + "/deployments/{deployment_id}")
async def deployment(request: Request) -> JSONResponse:
    """One zip deploy by id."""
    state = _state(request)
    scm_host = request.path_params["scm_host"]
    _resolve(state, scm_host)
    for dep in _deployments(state, scm_host):
        if dep.id == request.path_params["deployment_id"]:
            return JSONResponse(_json(request, scm_host, dep))
    raise StandinError(404, "NotFound", "Deployment not found.")
