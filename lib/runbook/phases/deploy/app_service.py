"""App Service steps through azure-mgmt-web: deployment history, restart, slot swap."""

from __future__ import annotations

import time
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import CsmSlotEntity

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.deploy.package import PackageInfo
from runbook.phases.deploy.params import PRODUCTION, DeployParams
from runbook.phases.deploy.results import deploy_result
from runbook.providers.azure.clients import web_client
from runbook.providers.azure.errors import describe_azure_error, failure_is_blind
from runbook.providers.azure.params import AzureParams


def _slot_arg(slot: str | None) -> str | None:
    return None if slot in (None, PRODUCTION) else slot


def _deployment(item: Any) -> dict[str, Any]:
    props = getattr(item, "properties", None)

    def prop(name: str) -> Any:
        value: Any = getattr(props, name, None) if props is not None else None
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "id": item.name,
        "status": prop("status"),
        "active": bool(prop("active")),
        "message": prop("message"),
        "deployer": prop("deployer"),
        "start_time": prop("start_time"),
        "end_time": prop("end_time"),
    }


def list_deployments(
    client: WebSiteManagementClient, azure: AzureParams, slot: str | None
) -> list[dict[str, Any]]:
    """The deployment history of the site (slot None/'production') or of a slot, as dicts."""
    name = _slot_arg(slot)
    if name is None:
        items = client.web_apps.list_deployments(azure.resource_group, azure.site)
    else:
        items = client.web_apps.list_deployments_slot(azure.resource_group, azure.site, name)
    return [_deployment(item) for item in items]


def current_deployment(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The active deployment, else the latest successful one (status 4), else None."""
    active = [d for d in history if d["active"]]
    if active:
        return active[-1]
    done = sorted((d for d in history if d["status"] == 4), key=lambda d: d["start_time"] or "")
    return done[-1] if done else None


def record_deployment(
    params: DeployParams,
    azure: AzureParams,
    package: PackageInfo,
    *,
    client: WebSiteManagementClient | None = None,
) -> CheckResult:
    """Before deploying: record package sha256, build id and what is live now (for rollback)."""
    slots = [params.slot_name] + ([PRODUCTION] if params.swap_to_production else [])
    labels = params.labels
    evidence: dict[str, Any] = {
        "package": package.model_dump(),
        "site": azure.site,
        "target_slot": params.slot_name,
    }
    try:
        web = client or web_client(azure)
        previous = {slot: current_deployment(list_deployments(web, azure, slot)) for slot in slots}
    except AzureError as exc:
        failure = describe_azure_error(exc)
        return deploy_result(
            params, "record", labels.rollback,
            Status.INCONCLUSIVE if failure_is_blind(failure) else Status.ERROR,
            section=labels.rollback_section,
            explanation=f"could not read the deployment history: {failure.message}",
            evidence={**evidence, "failure": failure.model_dump()},
        )  # fmt: skip
    evidence["previous"] = previous
    live = previous[PRODUCTION if params.swap_to_production else params.slot_name]
    rollback = {
        "how": "swap back" if params.swap_to_production else "redeploy",
        "restores": live["id"] if live else None,
    }
    evidence["rollback"] = rollback
    observed = {"sha256": package.sha256, "build_id": package.build_id, "rollback": rollback}
    if rollback["restores"] is None:
        return deploy_result(
            params, "record", labels.rollback, Status.WARN,
            section=labels.rollback_section, severity=Severity.WARNING, observed=observed,
            threshold="a previous deployment to go back to",
            explanation="no previous deployment found: a rollback has nothing to restore",
            evidence=evidence,
        )  # fmt: skip
    return deploy_result(
        params, "record", labels.rollback, Status.PASS,
        section=labels.rollback_section, observed=observed,
        threshold="a previous deployment to go back to",
        explanation=(
            f"deploying build {package.build_id} (sha256 {package.sha256[:12]}…); "
            f"rollback: {rollback['how']} to {rollback['restores']}"
        ),
        evidence=evidence,
    )  # fmt: skip


def restart(
    params: DeployParams,
    azure: AzureParams,
    *,
    slot: str | None = None,
    client: WebSiteManagementClient | None = None,
) -> CheckResult:
    """Restart the site or a slot (web_apps.restart[_slot]); ERROR when the call fails."""
    name = _slot_arg(slot if slot is not None else params.target_slot)
    target = {"site": azure.site, "slot": name or PRODUCTION}
    try:
        web = client or web_client(azure)
        began = time.monotonic()
        if name is None:
            web.web_apps.restart(azure.resource_group, azure.site)
        else:
            web.web_apps.restart_slot(azure.resource_group, azure.site, name)
    except AzureError as exc:
        failure = describe_azure_error(exc)
        return deploy_result(
            params, "restart", params.labels.restarted, Status.ERROR,
            explanation=f"restart of {target['slot']} failed: {failure.message}",
            evidence={**target, "failure": failure.model_dump()},
        )  # fmt: skip
    seconds = round(time.monotonic() - began, 3)
    return deploy_result(
        params, "restart", params.labels.restarted, Status.PASS,
        observed={"restarted": target["slot"], "seconds": seconds},
        threshold="restart accepted by App Service",
        explanation=f"{azure.site} ({target['slot']}) restarted",
        evidence={**target, "seconds": seconds},
    )  # fmt: skip


def swap(
    params: DeployParams,
    azure: AzureParams,
    *,
    client: WebSiteManagementClient | None = None,
) -> CheckResult:
    """Swap target_slot into production (begin_swap_slot_with_production, our polling interval)."""
    title = f"Slot '{params.slot_name}' swapped into production"
    slot = _slot_arg(params.target_slot)
    target = {"site": azure.site, "slot": slot, "polling_interval": params.swap_polling_interval}
    if slot is None:
        return deploy_result(
            params, "swap", title, Status.ERROR,
            explanation="no non-production target_slot to swap", evidence=target,
        )  # fmt: skip
    began = time.monotonic()
    try:
        web = client or web_client(azure)
        poller = web.web_apps.begin_swap_slot_with_production(
            azure.resource_group,
            azure.site,
            CsmSlotEntity(target_slot=slot, preserve_vnet=True),
            polling_interval=params.swap_polling_interval,
        )
        poller.result(timeout=params.swap_timeout)
        done = poller.done()
    except HttpResponseError as exc:
        failure = describe_azure_error(exc)
        status = Status.FAIL if failure.reason in ("http-error", "unexpected") else Status.ERROR
        return deploy_result(
            params, "swap", title, status,
            observed={"swapped": False}, threshold="swap operation Succeeded",
            explanation=f"swap failed: {failure.message}",
            evidence={**target, "failure": failure.model_dump()},
        )  # fmt: skip
    except AzureError as exc:
        failure = describe_azure_error(exc)
        return deploy_result(
            params, "swap", title, Status.ERROR,
            explanation=f"swap could not run: {failure.message}",
            evidence={**target, "failure": failure.model_dump()},
        )  # fmt: skip
    seconds = round(time.monotonic() - began, 3)
    if not done:
        return deploy_result(
            params, "swap", title, Status.ERROR,
            observed={"seconds": seconds}, threshold=f"done within {params.swap_timeout} s",
            explanation="the swap did not finish in time", evidence={**target, "seconds": seconds},
        )  # fmt: skip
    return deploy_result(
        params, "swap", title, Status.PASS,
        observed={"swapped": True, "seconds": seconds}, threshold="swap operation Succeeded",
        explanation=f"{slot} swapped into production in {seconds} s",
        evidence={**target, "seconds": seconds},
    )  # fmt: skip
