"""The whole deploy of one environment, step by step, stopping at the first step that fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from azure.core.credentials import TokenCredential
from azure.mgmt.web import WebSiteManagementClient

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.app_service import record_deployment, restart, swap
from runbook.phases.deploy.command import command_deploy
from runbook.phases.deploy.downtime import ProbeMark, ProbeRecord, ZeroDowntimeProbe
from runbook.phases.deploy.health import wait_healthy
from runbook.phases.deploy.local_app import docs_checks, log_check, start_app, still_running
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.params import PRODUCTION, DeployParams
from runbook.phases.deploy.window import KEY as WINDOW_KEY
from runbook.phases.deploy.window import refuses, window_check
from runbook.phases.deploy.zipdeploy import zip_deploy
from runbook.providers.azure.params import AzureParams

GOING_ON = (Status.PASS, Status.WARN)
WINDOW_SUFFIX = "." + WINDOW_KEY


@dataclass
class DeployRun:
    """The results in order, the probe's records and marks (for timeline_figure), and when
    the deploy started (UTC)."""

    results: list[CheckResult] = field(default_factory=list)
    records: list[ProbeRecord] = field(default_factory=list)
    marks: list[ProbeMark] = field(default_factory=list)
    started_at: datetime | None = None

    @property
    def deployed_at(self) -> datetime | None:
        """When the deploy started, if every step passed (the scheduled-window result aside):
        the anchor of §3.5 extended monitoring; None when nothing was deployed."""
        steps = [r for r in self.results if not r.id.endswith(WINDOW_SUFFIX)]
        if not steps or any(r.status not in GOING_ON for r in steps):
            return None
        return self.started_at

    @property
    def ok(self) -> bool:
        """True when every step passed (a warning, e.g. nothing to roll back to, is allowed)."""
        return bool(self.results) and all(r.status in GOING_ON for r in self.results)


def run_deploy(
    params: DeployParams,
    azure: AzureParams | None,
    workdir: Path,
    *,
    expect_version: str | None = None,
    client: WebSiteManagementClient | None = None,
    credential: TokenCredential | None = None,
) -> DeployRun:
    """The scheduled window first (outside an enforced one: refused, nothing changed; its
    result comes first). Then command: run, wait healthy. start: start the app, wait healthy,
    /docs, its log. zip: package, record, probe, deploy, restart, health, swap."""
    started = datetime.now(UTC)
    run = DeployRun(started_at=started)
    window = window_check(params, started)
    if window is not None and refuses(window, params):
        run.results.append(window)
        return run
    try:
        return _deploy(
            params,
            azure,
            workdir,
            run,
            expect_version=expect_version,
            client=client,
            credential=credential,
        )
    finally:
        if window is not None:  # judged apart from the steps: a missing window stops nothing
            run.results.insert(0, window)


def _deploy(
    params: DeployParams,
    azure: AzureParams | None,
    workdir: Path,
    run: DeployRun,
    *,
    expect_version: str | None,
    client: WebSiteManagementClient | None,
    credential: TokenCredential | None,
) -> DeployRun:
    if params.method == "start":
        return _start_deploy(params, workdir, run)
    if params.method == "command":
        run.results.append(command_deploy(params))
        if run.ok:
            run.results.append(wait_healthy(params, params.slot_name))
        return run
    if azure is None:
        raise ValueError("a zip deploy needs the azure parameters (site, endpoint, credential)")
    built = build_package(params, workdir)
    run.results.append(built.result)
    if built.package is None:
        return run
    run.results.append(record_deployment(params, azure, built.package, client=client))
    if not run.ok:
        return run
    probe = ZeroDowntimeProbe.for_slot(params, PRODUCTION) if params.app_url(PRODUCTION) else None
    if probe is not None:
        probe.start()

    def mark(label: str) -> None:
        if probe is not None:
            probe.mark(label)

    slot = params.slot_name
    try:
        mark("deploy start")
        run.results.append(
            zip_deploy(params, azure, built.package, client=client, credential=credential)
        )
        mark("deploy end")
        if run.ok and params.restart_after_deploy:
            mark("restart")
            run.results.append(restart(params, azure, slot=slot, client=client))
        if run.ok:
            run.results.append(wait_healthy(params, slot, expect_version=expect_version))
        if run.ok and params.swap_to_production:
            mark("swap start")
            run.results.append(swap(params, azure, client=client))
            mark("swap end")
            if run.ok:
                run.results.append(
                    wait_healthy(params, PRODUCTION, expect_version=expect_version,
                                 title=f"{params.labels.healthy} (production after swap)")
                )  # fmt: skip
    finally:
        if probe is not None:
            mark("settle")
            probe.wait(params.probe.settle_s)
            run.results.append(probe.stop())
            run.records, run.marks = list(probe.records), list(probe.marks)
    return run


def _start_deploy(params: DeployParams, workdir: Path, run: DeployRun) -> DeployRun:
    """Deployment Steps §1.1: start, health, "All services started", /docs, no errors in logs."""
    started, proc = start_app(params, workdir)
    run.results.append(started)
    if proc is None:
        return run
    run.results.append(wait_healthy(params, PRODUCTION))
    run.results.append(still_running(params, proc, workdir))
    if run.results[-2].status is Status.PASS:
        run.results.extend(docs_checks(params))
    run.results.append(log_check(params, workdir))
    return run
