"""Kudu zip deploy, as `az webapp deployment source config-zip` does it.

The SCM host is the site's (or slot's) `hostNameSslStates` entry of type Repository, read through
azure-mgmt-web; the zip goes to `POST {scm}/api/zipdeploy?isAsync=true` with a bearer token from
the same credential as the ARM client (scope https://appservice.azure.com/.default), over TLS
trusting the same CA bundle; then `GET {scm}/api/deployments/latest` is polled until status 4
(success) or 3 (failed), or the timeout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.mgmt.web import WebSiteManagementClient

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.package import PackageInfo
from runbook.phases.deploy.params import PRODUCTION, DeployParams
from runbook.phases.deploy.results import deploy_result, tls_verify
from runbook.providers.azure.clients import build_credential, web_client
from runbook.providers.azure.errors import describe_azure_error
from runbook.providers.azure.params import AzureParams
from runbook.providers.http import exchange

KUDU_DONE = {3: "Failed", 4: "Success"}


def scm_host(
    azure: AzureParams, slot: str | None, *, client: WebSiteManagementClient | None = None
) -> str:
    """The SCM (Kudu) host of the site or slot: its hostNameSslStates Repository entry."""
    web = client or web_client(azure)
    if slot in (None, PRODUCTION):
        site = web.web_apps.get(azure.resource_group, azure.site)
    else:
        site = web.web_apps.get_slot(azure.resource_group, azure.site, slot)
    states = getattr(site.properties, "host_name_ssl_states", None) or []
    for state in states:
        if (state.host_type or "").lower() == "repository" and state.name:
            return state.name
    raise LookupError(f"site {azure.site} ({slot or PRODUCTION}) has no Repository host name")


def kudu_url(params: DeployParams, host: str) -> str:
    """Kudu's base URL for an SCM host (the scm_url template filled in)."""
    return params.kudu.scm_url.format(scm_host=host).rstrip("/")


def zip_deploy(
    params: DeployParams,
    azure: AzureParams,
    package: PackageInfo,
    *,
    client: WebSiteManagementClient | None = None,
    credential: TokenCredential | None = None,
) -> CheckResult:
    """Zip-deploy the package to target_slot and wait: PASS (4), FAIL (3), ERROR (timeout/...)."""
    title = params.labels.deployed
    slot = params.slot_name
    evidence: dict[str, Any] = {
        "site": azure.site,
        "slot": slot,
        "package": {"path": package.path, "sha256": package.sha256, "build_id": package.build_id},
    }

    def error(message: str, **more: Any) -> CheckResult:
        return deploy_result(
            params, "zip_deploy", title, Status.ERROR,
            threshold="Kudu deployment status 4 (Success)",
            explanation=message, evidence={**evidence, **more},
        )  # fmt: skip

    try:
        host = scm_host(azure, slot, client=client)
        cred = credential or build_credential(azure.credential, scope=params.kudu.scope)
        token = cred.get_token(params.kudu.scope).token
        content = Path(package.path).read_bytes()
    except AzureError as exc:
        failure = describe_azure_error(exc)
        return error(f"could not find Kudu or get its token: {failure.message}",
                     failure=failure.model_dump())  # fmt: skip
    except (LookupError, OSError) as exc:
        return error(str(exc))
    base = kudu_url(params, host)
    evidence["scm_host"], evidence["kudu"] = host, base
    headers = {"Authorization": f"Bearer {token}"}
    kudu = params.kudu
    began = time.monotonic()
    with httpx.Client(verify=tls_verify(azure), timeout=kudu.request_timeout) as http:
        upload = exchange(
            http, "POST", f"{base}/api/zipdeploy?isAsync=true",
            headers={**headers, "Content-Type": "application/octet-stream"},
            content=content,
        )  # fmt: skip
        evidence["upload"] = upload.evidence()
        if upload.error is not None:
            return error(f"Kudu unreachable: {upload.error}")
        if upload.status not in (200, 202):
            return error(f"Kudu refused the package: HTTP {upload.status}")
        poll_url = upload.response_headers.get("location") or f"{base}/api/deployments/latest"
        polls: list[dict[str, Any]] = []
        evidence["polls"] = polls
        deadline = began + kudu.timeout
        while True:
            answer = exchange(http, "GET", poll_url, headers=headers)
            body = answer.json if isinstance(answer.json, dict) else {}
            polls.append({
                "t": round(time.monotonic() - began, 3), "http": answer.status,
                "status": body.get("status"), "error": answer.error,
            })  # fmt: skip
            if body.get("status") in KUDU_DONE:
                break
            if answer.error is None and answer.status not in (200, 202):
                evidence["last_poll"] = answer.evidence()
                return error(f"Kudu status poll answered HTTP {answer.status}")
            if time.monotonic() + kudu.poll_interval > deadline:
                evidence["last_poll"] = answer.evidence()
                why = answer.error or f"status {body.get('status')} after {len(polls)} polls"
                return error(f"the deployment did not finish within {kudu.timeout:g} s ({why})")
            time.sleep(kudu.poll_interval)
    seconds = round(time.monotonic() - began, 3)
    deployment = {k: body.get(k) for k in ("id", "status", "status_text", "message", "end_time")}
    evidence["deployment"], evidence["seconds"] = deployment, seconds
    observed = {"status": body["status"], "id": body.get("id"), "seconds": seconds}
    if body["status"] == 4:
        return deploy_result(
            params, "zip_deploy", title, Status.PASS,
            observed=observed, threshold="Kudu deployment status 4 (Success)",
            explanation=f"build {package.build_id} deployed to {azure.site} ({slot}) "
            f"in {seconds} s",
            evidence=evidence,
        )  # fmt: skip
    return deploy_result(
        params, "zip_deploy", title, Status.FAIL,
        observed=observed, threshold="Kudu deployment status 4 (Success)",
        explanation=f"Kudu reports the deployment failed: {body.get('message') or '(no message)'}",
        evidence=evidence,
    )  # fmt: skip
