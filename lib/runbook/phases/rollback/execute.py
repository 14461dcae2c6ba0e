"""Rollback execution ("Rollback Steps" §1 Immediate Rollback, §2 Verify Rollback, §3 actions).

Only when the decision says roll back AND the parameters allow it (`execute: true`): swap the
slots back (when the deploy went through a swap) or redeploy the previous package, restart if
asked, then verify health (and the previous version), the configured smoke steps and a short
load probe. Otherwise every step is a SKIP result saying exactly what it would do; nothing is
called. The post-rollback actions are pending sign-offs whenever a rollback is required.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.mgmt.web import WebSiteManagementClient
from pydantic import BaseModel, ConfigDict, Field

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.target import TargetParams
from runbook.phases.deploy.app_service import current_deployment, list_deployments, restart, swap
from runbook.phases.deploy.health import wait_healthy
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.params import PRODUCTION, DeployParams, PackageParams
from runbook.phases.deploy.zipdeploy import zip_deploy
from runbook.phases.rollback.decision import RollbackDecision
from runbook.phases.rollback.params import (
    SECTION_IMMEDIATE,
    SECTION_POST,
    SECTION_VERIFY,
    RollbackMetrics,
    RollbackParams,
)
from runbook.phases.verify.smoke import SmokeParams, SmokeSession
from runbook.providers.azure.clients import web_client
from runbook.providers.azure.errors import describe_azure_error
from runbook.providers.azure.params import AzureParams

STEPS = {
    "initiated": (SECTION_IMMEDIATE, "Rollback initiated"),
    "previous_version_deployed": (SECTION_IMMEDIATE, "Previous version deployed"),
    "services_restarted": (SECTION_IMMEDIATE, "Services restarted"),
    "health": (f"{SECTION_IMMEDIATE}; {SECTION_VERIFY}",
               "Health check passes / health endpoint responds"),
    "functionality_restored": (f"{SECTION_IMMEDIATE}; {SECTION_VERIFY}",
                               "Functionality restored (authentication, critical functionality)"),
    "metrics_normal": (SECTION_VERIFY, "Error rate normal, response times normal"),
}  # fmt: skip
STOPPED = "not attempted: the previous version was not put back ({why})"


class RollbackPlan(BaseModel):
    """What a rollback would do, computed from parameters and the deploy's results only."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["swap back", "redeploy"]
    site: str | None
    slot: str = Field(description="swap: the slot swapped with production; redeploy: its target")
    verify_slot: str
    restores: str | None = Field(None, description="deployment id live before the deploy")
    package: dict[str, Any] | None = None
    expect_version: str | None = None
    restart: bool = False
    steps: list[str]
    problem: str | None = None


def _result(key: str, status: Status, explanation: str, *, observed: Any = None,
            threshold: Any = None, evidence: dict[str, Any] | None = None,
            severity: Severity = Severity.BLOCKER) -> CheckResult:  # fmt: skip
    section, title = STEPS[key]
    return CheckResult(id=f"rollback.{key}", section=section, title=title, severity=severity,
                       status=status, observed=observed, threshold=threshold,
                       explanation=explanation, evidence=evidence or {})  # fmt: skip


def _as_step(key: str, result: CheckResult, explanation: str | None = None,
             **evidence: Any) -> CheckResult:  # fmt: skip
    """A deploy-library result re-labelled as a rollback step (status and evidence kept)."""
    section, title = STEPS[key]
    return result.model_copy(update={
        "id": f"rollback.{key}", "section": section, "title": title,
        "explanation": explanation or result.explanation,
        "evidence": {**result.evidence, **evidence, "source_check": result.id},
    })  # fmt: skip


# -- the plan ----------------------------------------------------------------------------------
def plan_rollback(params: RollbackParams, deploy_params: DeployParams,
                  deploy_results: Iterable[CheckResult], site: str | None = None
                  ) -> RollbackPlan:  # fmt: skip
    """How to roll back, from the deploy's results (swap happened? what was live?); no I/O."""
    by_id = {r.id: r for r in deploy_results}
    prefix = deploy_params.id_prefix
    swap_result = by_id.get(f"{prefix}.swap")
    swapped = swap_result is not None and swap_result.status is Status.PASS
    record = by_id.get(f"{prefix}.record")
    recorded: dict[str, Any] = (record.evidence.get("rollback") or {}) if record else {}
    method: Literal["swap back", "redeploy"]
    if params.method == "auto":
        method = "swap back" if swapped else "redeploy"
    else:
        method = "swap back" if params.method == "swap" else "redeploy"
    problem = None
    package: dict[str, Any] | None = None
    expect = params.expect_version
    health = deploy_params.health.route
    if method == "swap back":
        slot = deploy_params.slot_name
        verify_slot = PRODUCTION
        if slot == PRODUCTION:
            problem = "the deploy has no non-production target_slot to swap back with"
        elif not swapped:
            problem = (
                f"the deploy results show no successful {prefix}.swap: swapping now would "
                "not restore the previous version (use method: redeploy)"
            )
        if expect is None and params.infer_version:
            probe = by_id.get(f"{prefix}.zero_downtime")
            versions = (probe.observed or {}).get("versions") if probe else None
            if isinstance(versions, list) and versions and versions[0] is not None:
                expect = str(versions[0])
        interval = params.swap_polling_interval or deploy_params.swap_polling_interval
        steps = [
            f"swap {slot} with production again (begin_swap_slot_with_production, "
            f"polling every {interval:g} s)"
        ]
        if recorded.get("restores"):
            steps.append(f"check production's active deployment is {recorded['restores']} again")
    else:
        slot = PRODUCTION if deploy_params.swap_to_production else deploy_params.slot_name
        verify_slot = slot
        spec = params.previous_package
        if spec is None and isinstance(recorded.get("package"), dict):
            spec = PackageParams.model_validate(recorded["package"])
        if spec is None:
            problem = (
                "no previous package to redeploy: set rollback.previous_package "
                "(the checklist's backend-previous.zip)"
            )
        else:
            package = spec.model_dump()
        where = (spec.path or spec.source_dir) if spec else "?"
        steps = [
            f"zip deploy {where} (build {spec.build_id if spec else '?'}) to Kudu of "
            f"{site or '?'} ({slot})"
        ]
    if params.restart:
        steps.append(f"restart {verify_slot}")
    steps.append(
        f"wait until {deploy_params.app_url(verify_slot) or '?'}{health} is healthy"
        + (f" and reports version {expect}" if expect else "")
    )
    if params.verify_steps:
        steps.append(f"run smoke steps {', '.join(params.verify_steps)}")
    if params.metrics.enabled:
        m = params.metrics
        steps.append(
            f"probe for {m.duration_s:g} s at concurrency {m.concurrency}: error rate "
            f"< {m.max_error_rate:.0%}, p95 < {m.max_p95_ms:g} ms"
        )
    return RollbackPlan(method=method, site=site, slot=slot, verify_slot=verify_slot,
                        restores=recorded.get("restores"), package=package, expect_version=expect,
                        restart=params.restart, steps=steps, problem=problem)  # fmt: skip


# -- execution ---------------------------------------------------------------------------------
def execute_rollback(
    decision: RollbackDecision,
    params: RollbackParams,
    deploy_params: DeployParams,
    azure: AzureParams | None,
    target: TargetParams,
    deploy_results: Iterable[CheckResult],
    *,
    smoke: SmokeParams | None = None,
    workdir: Path | str | None = None,
    client: WebSiteManagementClient | None = None,
    credential: TokenCredential | None = None,
) -> list[CheckResult]:
    """Roll back and verify when required and allowed; else SKIP results with the plan."""
    plan = plan_rollback(params, deploy_params, deploy_results, azure.site if azure else None)
    evidence = {"plan": plan.model_dump(), "reasons": decision.reasons}
    if not decision.roll_back:
        why = (
            "the decision is inconclusive, so nothing is rolled back"
            if decision.inconclusive
            else "no rollback required"
        )
        return [
            _result(
                k,
                Status.SKIP,
                f"{why}; a rollback would: {'; '.join(plan.steps)}",
                severity=Severity.WARNING,
                evidence=evidence,
            )
            for k in STEPS
        ]
    signoffs = post_rollback_actions(decision, params, plan)
    if not params.execute:
        text = "rollback required but execution is off (rollback.execute: false); it would: "
        skipped = [_result(k, Status.SKIP, text + "; ".join(plan.steps), evidence=evidence)
                   for k in STEPS]  # fmt: skip
        return skipped + signoffs
    if plan.problem or azure is None:
        why = plan.problem or "no azure parameters: the App Service cannot be reached"
        out = [_result("initiated", Status.ERROR, f"cannot roll back: {why}", evidence=evidence)]
        out += [_result(k, Status.ERROR, STOPPED.format(why=why)) for k in list(STEPS)[1:]]
        return out + signoffs
    out = [_result(
        "initiated", Status.PASS,
        f"rollback initiated ({plan.method}) because: " + " | ".join(decision.reasons),
        observed={"method": plan.method, "slot": plan.slot, "restores": plan.restores,
                  "expect_version": plan.expect_version},
        threshold="a required rollback is started", evidence=evidence,
    )]  # fmt: skip
    if plan.method == "swap back":
        deployed = _swap_back(plan, params, deploy_params, azure, client)
    else:
        deployed = _redeploy(plan, deploy_params, azure, workdir, client, credential)
    out.append(deployed)
    if deployed.status is not Status.PASS:
        why = f"rollback.previous_version_deployed {deployed.status.value}"
        out += [_result(k, Status.ERROR, STOPPED.format(why=why)) for k in list(STEPS)[2:]]
        return out + signoffs
    if params.restart:
        out.append(
            _as_step(
                "services_restarted",
                restart(deploy_params, azure, slot=plan.verify_slot, client=client),
            )
        )
    else:
        out.append(_result(
            "services_restarted", Status.SKIP, severity=Severity.WARNING,
            explanation=f"no separate restart requested (rollback.restart: false); the "
                        f"{plan.method} itself reloads the app",
        ))  # fmt: skip
    healthy = wait_healthy(deploy_params, plan.verify_slot, expect_version=plan.expect_version)
    out.append(_as_step("health", healthy))
    out += verify_functionality(params.verify_steps, smoke, target)
    out.append(verify_metrics(params.metrics, deploy_params, target))
    return out + signoffs


def _swap_back(
    plan: RollbackPlan,
    params: RollbackParams,
    deploy_params: DeployParams,
    azure: AzureParams,
    client: WebSiteManagementClient | None,
) -> CheckResult:
    """Swap the slot with production again, then check the restored deployment is live."""
    swap_params = deploy_params.model_copy(update={
        "swap_polling_interval": params.swap_polling_interval
        or deploy_params.swap_polling_interval,
        "swap_timeout": params.swap_timeout or deploy_params.swap_timeout,
    })  # fmt: skip
    swapped = swap(swap_params, azure, client=client)
    if swapped.status is not Status.PASS or plan.restores is None:
        return _as_step("previous_version_deployed", swapped)
    try:
        web = client or web_client(azure)
        live = current_deployment(list_deployments(web, azure, PRODUCTION))
    except AzureError as exc:
        failure = describe_azure_error(exc)
        return _as_step("previous_version_deployed", swapped.model_copy(update={
            "status": Status.ERROR}),
            f"swapped back, but production's deployment history cannot be read: "
            f"{failure.message}", failure=failure.model_dump())  # fmt: skip
    live_id = live["id"] if live else None
    observed = {**(swapped.observed or {}), "live_deployment": live_id, "restores": plan.restores}
    if live_id != plan.restores:
        return _as_step("previous_version_deployed", swapped.model_copy(update={
            "status": Status.FAIL, "observed": observed}),
            f"swapped back, but production's active deployment is {live_id!r}, "
            f"not {plan.restores!r}", live=live)  # fmt: skip
    return _as_step("previous_version_deployed", swapped.model_copy(update={"observed": observed}),
                    f"{plan.slot} swapped back: production runs deployment {live_id} again "
                    f"({swapped.explanation})", live=live)  # fmt: skip


def _redeploy(plan: RollbackPlan, deploy_params: DeployParams, azure: AzureParams,
              workdir: Path | str | None, client: WebSiteManagementClient | None,
              credential: TokenCredential | None) -> CheckResult:  # fmt: skip
    """Zip-deploy the previous package to the live slot (the deploy library's zip_deploy)."""
    assert plan.package is not None
    redeploy = deploy_params.model_copy(update={
        "package": PackageParams.model_validate(plan.package),
        "target_slot": None if plan.slot == PRODUCTION else plan.slot,
        "swap_to_production": False,
    })  # fmt: skip
    folder = Path(workdir) if workdir else Path.cwd()
    built = build_package(redeploy, folder)
    if built.package is None:
        return _as_step("previous_version_deployed", built.result)
    deployed = zip_deploy(redeploy, azure, built.package, client=client, credential=credential)
    return _as_step(
        "previous_version_deployed",
        deployed,
        package={"sha256": built.package.sha256, "build_id": built.package.build_id},
    )


# -- verification ------------------------------------------------------------------------------
def verify_functionality(step_ids: list[str], smoke: SmokeParams | None,
                         target: TargetParams) -> list[CheckResult]:  # fmt: skip
    """Run the smoke steps again (ids rollback.verify.<step>) and summarize them."""
    if not step_ids:
        return [
            _result(
                "functionality_restored",
                Status.INCONCLUSIVE,
                "no verification steps configured (rollback.verify_steps)",
            )
        ]
    if smoke is None:
        return [
            _result(
                "functionality_restored",
                Status.ERROR,
                "verification steps are configured but no smoke parameters were given "
                "(the 'verify' section)",
                observed={"steps": step_ids},
            )
        ]
    unknown = smoke.unknown_ids(step_ids)
    if unknown:
        known = ", ".join(s.id for s in smoke.steps) or "none"
        return [
            _result(
                "functionality_restored",
                Status.ERROR,
                f"parameter error: rollback.verify_steps names {', '.join(unknown)}, "
                f"which verify.steps does not configure (it has: {known})",
                observed={"steps": step_ids, "unknown": unknown},
            )
        ]
    session = SmokeSession(smoke, target, phase="rollback")
    try:
        steps = [session.step(s) for s in step_ids]
        cleanup = session.cleanup()
    finally:
        session.close()
    relabelled = [r.model_copy(update={"id": f"rollback.verify.{r.id}", "section": SECTION_VERIFY})
                  for r in [*steps, cleanup]]  # fmt: skip
    bad = [r for r in steps if r.status is not Status.PASS]
    worst = Status.PASS
    for status in (Status.INCONCLUSIVE, Status.ERROR, Status.FAIL):
        if any(r.status is status for r in bad):
            worst = status
    summary = _result(
        "functionality_restored", worst,
        ("; ".join(f"{r.id} {r.status.value}: {r.explanation}" for r in bad) if bad
         else f"{len(steps)} smoke step(s) passed after the rollback"),
        observed={r.id: r.status.value for r in steps},
        threshold="every verification step passes",
        evidence={"steps": [r.summary_line() for r in [*steps, cleanup]]},
    )  # fmt: skip
    return [*relabelled, summary]


def verify_metrics(metrics: RollbackMetrics, deploy_params: DeployParams,
                   target: TargetParams) -> CheckResult:  # fmt: skip
    """A short load probe against the target: error rate and p95 within the normal lines."""
    if not metrics.enabled:
        return _result(
            "metrics_normal",
            Status.SKIP,
            severity=Severity.WARNING,
            explanation="the post-rollback probe is disabled (rollback.metrics)",
        )
    from runbook.phases.performance.params import PerfGates, PerformanceParams, RouteSpec
    from runbook.phases.performance.target import run_target_load
    from runbook.phases.performance.verdicts import load_checks

    routes = metrics.routes or [
        RouteSpec(
            path=deploy_params.health.route,
            auth=False,
            expected_status=[deploy_params.health.expected_status],
        )
    ]
    perf = PerformanceParams(
        routes=routes, concurrency=metrics.concurrency, workers=metrics.workers,
        duration_s=metrics.duration_s, warmup_s=metrics.warmup_s,
        window_s=min(1.0, metrics.duration_s), timeout_s=metrics.timeout_s,
        gates=PerfGates(p95_ms=metrics.max_p95_ms, error_rate=metrics.max_error_rate),
        detailed_health_path=None,
    )  # fmt: skip
    try:
        load = run_target_load(perf, target)
    except Exception as exc:  # noqa: BLE001 - a probe that cannot start is an error, not a crash
        return _result("metrics_normal", Status.ERROR, f"the probe could not run: {exc}")
    checks = [c for c in load_checks(load, perf) if c.id != "perf.rollback_lines"]
    statuses = {c.status for c in checks}
    status = next((s for s in (Status.ERROR, Status.FAIL, Status.INCONCLUSIVE)
                   if s in statuses), Status.PASS)  # fmt: skip
    by_id = {c.id: c for c in checks}
    error_rate = (by_id["perf.error_rate"].observed or {}).get("overall")
    p95 = {c.id.removeprefix("perf.p95."): c.observed for c in checks
           if c.id.startswith("perf.p95.")}  # fmt: skip
    text = "; ".join(c.explanation for c in checks if c.status is not Status.PASS) or (
        f"error rate {error_rate:.2%}, p95 " + ", ".join(f"{k} {v:.1f} ms" for k, v in p95.items())
    )
    return _result(
        "metrics_normal", status, text,
        observed={"error_rate": error_rate, "p95_ms": p95},
        threshold={"error_rate": f"< {metrics.max_error_rate:.0%}",
                   "p95_ms": f"< {metrics.max_p95_ms:g}"},
        evidence={"checks": [c.summary_line() for c in checks], "load": load.meta()},
    )  # fmt: skip


def post_rollback_actions(decision: RollbackDecision, params: RollbackParams,
                          plan: RollbackPlan | None = None) -> list[CheckResult]:  # fmt: skip
    """§3 Post-Rollback Actions as pending sign-offs (rollback.signoff.<action>)."""
    return [
        CheckResult(
            id=f"rollback.signoff.{key}",
            section=SECTION_POST,
            title=title,
            severity=Severity.BLOCKER,
            status=Status.PENDING_SIGN_OFF,
            explanation=f"a person signs this off; rollback reason: {' | '.join(decision.reasons)}",
            evidence={"reasons": decision.reasons, "plan": plan.model_dump() if plan else None},
        )
        for key, title in params.post_actions.items()
    ]
