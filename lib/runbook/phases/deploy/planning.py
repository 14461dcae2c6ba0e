"""--dry-run: exactly what would be deployed where, computed without touching any service."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.params import PRODUCTION, DeployParams
from runbook.phases.deploy.results import deploy_result
from runbook.providers.azure.params import AzureParams


class DeployPlan(BaseModel):
    """The deployment a real run would do (nothing here was done)."""

    model_config = ConfigDict(extra="forbid")

    method: str
    subscription_id: str | None
    resource_group: str | None
    site: str | None
    target_slot: str
    package: dict | None
    command: list[str] | None
    steps: list[str]

    def as_result(self, params: DeployParams) -> CheckResult:
        """A SKIP result carrying the plan (a dry run proves no box)."""
        where = f"{self.site} ({self.target_slot})" if self.site else self.target_slot
        what = (self.package or {}).get("sha256", "")[:12] or " ".join(self.command or [])
        return deploy_result(
            params, "plan", "Deployment plan (dry run)", Status.SKIP,
            severity=Severity.WARNING, observed={"target": where, "package": what},
            explanation=f"dry run: would deploy {what} to {where} in {len(self.steps)} steps; "
            "nothing was deployed",
            evidence=self.model_dump(),
        )  # fmt: skip


def plan(params: DeployParams, azure: AzureParams | None, workdir: Path) -> DeployPlan:
    """The plan: package (zipped locally to know its sha256), site, slot, ordered steps."""
    steps: list[str] = []
    package = None
    slot = params.slot_name
    health = params.health.route
    if params.method == "command":
        assert params.command is not None
        steps.append(f"run {params.command.argv} in {params.command.cwd or '.'}")
    elif params.method == "start":
        assert params.start is not None
        steps.append(
            f"start {params.start.argv} in {params.start.repo or '.'}/"
            f"{params.start.cwd}, logging to {workdir.name}/app.log"
        )
    else:
        built = build_package(params, workdir)
        package = (
            built.package.model_dump() if built.package else {"error": built.result.explanation}
        )
        site = azure.site if azure else "(no azure parameters)"
        steps += [
            f"record the live deployments of {site} ({slot}"
            + (", production" if params.swap_to_production else "")
            + ") for rollback",
            f"start the zero-downtime probe on {params.app_url(PRODUCTION) or '?'}{health} "
            f"every {params.probe.interval:g} s",
            f"zip deploy {package.get('path', '?')} to Kudu of {site} ({slot}), "
            f"polling every {params.kudu.poll_interval:g} s for up to {params.kudu.timeout:g} s",
        ]
    if params.restart_after_deploy:
        steps.append(f"restart {slot}")
    steps.append(f"wait until {params.app_url(slot) or '?'}{health} is healthy "
                 f"(up to {params.health.timeout:g} s)")  # fmt: skip
    if params.method == "start":
        steps += [
            f"GET {', '.join(params.start.doc_pages) if params.start else '/docs'}",
            "no error lines in the app's log",
            "the app is stopped when the run ends",
        ]
    if params.swap_to_production:
        steps += [
            f"swap {slot} into production (polling every {params.swap_polling_interval:g} s)",
            f"wait until {params.app_url(PRODUCTION) or '?'}{health} is healthy",
        ]
    if params.method == "zip":
        steps.append("stop the probe: zero downtime if no request failed")
    return DeployPlan(
        method=params.method,
        subscription_id=azure.subscription_id if azure else None,
        resource_group=azure.resource_group if azure else None,
        site=azure.site if azure else None,
        target_slot=slot,
        package=package,
        command=params.command.argv if params.command else None,
        steps=steps,
    )
