"""Rollback execution for real: the Azure stand-in (ARM + Kudu over TLS) with two slot sandboxes.

The regressed release (1.1.0: GET /api/v1/notifications/ answers 500) is deployed to staging
and swapped into production; the decision (from the real smoke results) says roll back, and
`execute_rollback` swaps back so production serves 1.0.0 again.
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy_support import (
    SANDBOX_ENV,
    deploy_params,
    version_of,
)

from rehearsal.azure_standin.process import StandinHandle
from runbook.core.checks import CheckResult, Status
from runbook.core.target import TargetParams
from runbook.core.verdict import Verdict
from runbook.phases.deploy.app_service import record_deployment
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.sequence import run_deploy
from runbook.phases.deploy.zipdeploy import zip_deploy
from runbook.phases.rollback.decision import decide
from runbook.phases.rollback.execute import execute_rollback
from runbook.phases.rollback.params import RollbackParams
from runbook.phases.success.criteria import SuccessParams, success_verdict
from runbook.phases.verify.smoke import SmokeParams, SmokeSession
from runbook.providers.azure.params import AzureParams

REGRESSED = "release-1.1.0-regressed"
STEPS = ["smoke.health", "smoke.auth-me", "smoke.list-notifications"]
SMOKE = SmokeParams.model_validate({"steps": [
    {"id": "smoke.health", "title": "Health endpoint responds", "path": "/health", "auth": False,
     "expect_status": 200, "expect_json": {"status": "healthy"}},
    {"id": "smoke.auth-me", "title": "Authentication works", "path": "/api/v1/auth/me",
     "expect_status": 200, "expect_keys": ["id"]},
    {"id": "smoke.list-notifications", "title": "List notifications works",
     "path": "/api/v1/notifications/", "expect_status": 200, "expect_keys": ["data"]},
]})  # fmt: skip
FAST = {"metrics": {"duration_s": 1.0, "warmup_s": 0.2, "concurrency": 2},
        "swap_polling_interval": 0.05, "verify_steps": STEPS}  # fmt: skip


def _target(url: str) -> TargetParams:
    return TargetParams(name="production", base_url=url, token={"env": SANDBOX_ENV}, timeout_s=5)


def _regressed_in_production(standin, azure, urls, packages, tmp_path):
    """Deploy the regressed release and swap it in; then the smoke steps, as verify runs them."""
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    run = run_deploy(params, azure, tmp_path, expect_version="1.1.0")
    assert run.ok, [r.summary_line() for r in run.results]
    assert version_of(urls["production"]) == "1.1.0"
    session = SmokeSession(SMOKE, _target(urls["production"]))
    try:
        smoke = [session.step(s) for s in STEPS]
    finally:
        session.close()
    return params, run.results, smoke


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def test_rollback_swaps_back_and_the_healthy_version_serves_production_again(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params, deployed, smoke = _regressed_in_production(standin, azure, urls, packages, tmp_path)
    rollback = RollbackParams.model_validate({**FAST, "execute": True})
    decision = decide([*deployed, *smoke], rollback)
    assert decision.roll_back
    assert "smoke.list-notifications" in decision.row("critical_functionality").detail

    results = execute_rollback(decision, rollback, params, azure, _target(urls["production"]),
                               deployed, smoke=SMOKE, workdir=tmp_path)  # fmt: skip
    json.dumps([r.to_payload() for r in results])  # every result's evidence is JSON
    by_id = _by_id(results)
    for key in (
        "initiated",
        "previous_version_deployed",
        "health",
        "functionality_restored",
        "metrics_normal",
    ):
        assert by_id[f"rollback.{key}"].status is Status.PASS, by_id[f"rollback.{key}"].explanation
    assert by_id["rollback.services_restarted"].status is Status.SKIP
    assert version_of(urls["production"]) == "1.0.0"
    assert version_of(urls["staging"]) == "1.1.0"
    assert by_id["rollback.previous_version_deployed"].observed["live_deployment"] == "dep-prod-100"
    assert by_id["rollback.health"].observed["version"] == "1.0.0"
    assert by_id["rollback.initiated"].observed["expect_version"] == "1.0.0"  # from the probe
    assert by_id["rollback.verify.smoke.list-notifications"].status is Status.PASS
    assert by_id["rollback.metrics_normal"].observed["error_rate"] == 0
    swaps = [r for r in standin.requests() if r["path"].endswith("/slotsswap")]
    assert len(swaps) == 2  # the deploy's swap and the swap back
    pending = [r for r in results if r.id.startswith("rollback.signoff.")]
    assert len(pending) == 5 and {r.status for r in pending} == {Status.PENDING_SIGN_OFF}

    verdict = success_verdict([*deployed, *smoke, *decision.checks(), *results], SuccessParams())
    assert verdict.verdict is Verdict.ROLLBACK_REQUIRED
    assert verdict.rollback["verified"]
    assert any("executed and verified" in r for r in verdict.reasons)


def test_execute_false_only_says_what_it_would_do_and_changes_nothing(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params, deployed, smoke = _regressed_in_production(standin, azure, urls, packages, tmp_path)
    before = len(standin.requests())
    rollback = RollbackParams.model_validate({**FAST, "execute": False})
    decision = decide([*deployed, *smoke], rollback)
    results = execute_rollback(decision, rollback, params, azure, _target(urls["production"]),
                               deployed, smoke=SMOKE)  # fmt: skip

    assert standin.requests()[before:] == []  # not even a read
    assert version_of(urls["production"]) == "1.1.0"
    steps = [r for r in results if not r.id.startswith("rollback.signoff.")]
    assert {r.status for r in steps} == {Status.SKIP}
    assert "swap staging with production again" in _by_id(results)["rollback.initiated"].explanation
    assert "dep-prod-100" in _by_id(results)["rollback.initiated"].explanation


def test_failed_swap_back_fails_and_production_keeps_the_regressed_release(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params, deployed, smoke = _regressed_in_production(standin, azure, urls, packages, tmp_path)
    standin.set_faults(fail_swap=True)
    rollback = RollbackParams.model_validate({**FAST, "execute": True})
    results = execute_rollback(decide([*deployed, *smoke], rollback), rollback, params, azure,
                               _target(urls["production"]), deployed, smoke=SMOKE)  # fmt: skip
    by_id = _by_id(results)

    assert by_id["rollback.initiated"].status is Status.PASS
    assert by_id["rollback.previous_version_deployed"].status is Status.FAIL
    assert "SwapFailed" in by_id["rollback.previous_version_deployed"].explanation
    for key in ("services_restarted", "health", "functionality_restored", "metrics_normal"):
        assert by_id[f"rollback.{key}"].status is Status.ERROR
    assert version_of(urls["production"]) == "1.1.0"


def test_redeploy_puts_the_previous_package_back_when_there_was_no_swap(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url, swap_to_production=False)
    built = build_package(params, tmp_path).package
    assert built is not None
    deployed = [record_deployment(params, azure, built), zip_deploy(params, azure, built)]
    assert [r.status for r in deployed] == [Status.PASS, Status.PASS]
    assert deployed[0].evidence["rollback"]["how"] == "redeploy"
    assert version_of(urls["staging"]) == "1.1.0"
    rollback = RollbackParams.model_validate({
        **FAST, "execute": True, "verify_steps": ["smoke.health"],
        "previous_package": {"path": str(packages["release-1.0.0"]), "build_id": "ci-1.0.0"},
        "expect_version": "1.0.0",
    })  # fmt: skip
    broken = [CheckResult(id="smoke.list-notifications", section="t", title="t",
                          status=Status.FAIL, explanation="answered 500")]  # fmt: skip
    results = execute_rollback(decide([*deployed, *broken], rollback), rollback, params,
                               azure, _target(urls["staging"]), deployed, smoke=SMOKE,
                               workdir=tmp_path)  # fmt: skip
    by_id = _by_id(results)

    assert by_id["rollback.previous_version_deployed"].status is Status.PASS
    assert by_id["rollback.previous_version_deployed"].evidence["package"]["build_id"] == "ci-1.0.0"
    assert by_id["rollback.health"].status is Status.PASS
    assert version_of(urls["staging"]) == "1.0.0"
    assert version_of(urls["production"]) == "1.0.0"
