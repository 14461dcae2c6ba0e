"""Deploys against the real stand-in (ARM + Kudu over TLS) and real slot sandboxes."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
from deploy_support import AUTH, HEALTH, SITE, deploy_params, version_of
from matplotlib.figure import Figure

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.sandbox.release import get_release
from runbook.core.checks import Status
from runbook.phases.deploy.app_service import list_deployments, record_deployment, swap
from runbook.phases.deploy.downtime import ZeroDowntimeProbe, timeline_figure
from runbook.phases.deploy.health import wait_healthy
from runbook.phases.deploy.package import build_package
from runbook.phases.deploy.planning import plan
from runbook.phases.deploy.sequence import run_deploy
from runbook.phases.deploy.zipdeploy import scm_host, zip_deploy
from runbook.providers.azure.clients import web_client
from runbook.providers.azure.params import AzureParams

REGRESSED = "release-1.1.0-regressed"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _package(params, tmp_path: Path):
    built = build_package(params, tmp_path)
    assert built.result.status is Status.PASS and built.package is not None
    return built.package


def test_scm_host_comes_from_the_sites_repository_entry(
    standin: StandinHandle, azure: AzureParams
) -> None:
    assert scm_host(azure, "staging") == f"{SITE}-staging.scm.azurewebsites.net"
    assert scm_host(azure, None) == f"{SITE}.scm.azurewebsites.net"


def test_zip_deploy_to_staging_changes_the_staging_sandbox_only(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    standin.set_faults(zip_deploy_in_progress_polls=2)
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    result = zip_deploy(params, azure, _package(params, tmp_path))

    assert result.status is Status.PASS, result.explanation
    assert [p["status"] for p in result.evidence["polls"]] == [1, 2, 4]
    assert version_of(urls["staging"]) == "1.1.0"
    openapi = httpx.get(urls["staging"] + "/openapi.json", timeout=5).json()
    assert openapi["info"]["version"] == "1.1.0"
    assert version_of(urls["production"]) == "1.0.0"
    history = list_deployments(web_client(azure), azure, "staging")
    assert history[-1]["id"] == result.observed["id"] and history[-1]["active"]
    assert not any(d["active"] for d in history[:-1])
    upload = result.evidence["upload"]["request"]["headers"]
    assert upload["Authorization"] == "<redacted>"


def test_regressed_release_makes_its_routes_slow_and_broken_until_replaced(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    assert zip_deploy(params, azure, _package(params, tmp_path)).status is Status.PASS
    staging = urls["staging"]
    began = time.perf_counter()
    assert httpx.get(staging + "/api/v1/sandbox/slow", timeout=5).status_code == 200
    assert time.perf_counter() - began >= 0.4
    broken = httpx.get(staging + "/api/v1/notifications/", headers=AUTH, timeout=5)
    assert broken.status_code == 500
    fine = httpx.get(urls["production"] + "/api/v1/notifications/", headers=AUTH, timeout=5)
    assert fine.status_code == 200

    healthy = deploy_params(urls, packages["release-1.0.0"], standin.url)
    assert zip_deploy(healthy, azure, _package(healthy, tmp_path)).status is Status.PASS
    assert httpx.get(staging + "/api/v1/notifications/", headers=AUTH, timeout=5).status_code == 200
    began = time.perf_counter()
    httpx.get(staging + "/api/v1/sandbox/slow", timeout=5)
    assert time.perf_counter() - began < 0.3


def test_deploy_then_swap_puts_the_new_version_in_production_with_zero_downtime(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    standin.set_faults(zip_deploy_in_progress_polls=3, swap_in_progress_polls=2)
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    run = run_deploy(params, azure, tmp_path, expect_version="1.1.0")

    by_id = {r.id: r for r in run.results}
    assert run.ok, [r.summary_line() for r in run.results]
    json.dumps([r.to_payload() for r in run.results])  # every result's evidence is JSON
    assert list(by_id) == [
        "deploy.package", "deploy.record", "deploy.zip_deploy", "deploy.health.staging",
        "deploy.swap", "deploy.health.production", "deploy.zero_downtime",
    ]  # fmt: skip
    assert version_of(urls["production"]) == "1.1.0"
    assert version_of(urls["staging"]) == "1.0.0"  # the old release waits there for a rollback
    probe = by_id["deploy.zero_downtime"]
    assert probe.status is Status.PASS
    assert probe.observed["requests"] > 10 and probe.observed["failed"] == 0
    assert probe.observed["versions"] == ["1.0.0", "1.1.0"]  # the switch happened under the probe
    assert by_id["deploy.record"].evidence["rollback"] == {"how": "swap back",
                                                          "restores": "dep-prod-100"}  # fmt: skip
    assert [m.label for m in run.marks] == [
        "deploy start",
        "deploy end",
        "swap start",
        "swap end",
        "settle",
    ]
    fig = timeline_figure(run.records, run.marks)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) >= 1 + len(run.marks)
    fig.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 0


def test_failed_zip_deploy_fails_with_kudus_message_and_changes_nothing(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    standin.set_faults(fail_zip_deploy=True)
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    result = zip_deploy(params, azure, _package(params, tmp_path))

    assert result.status is Status.FAIL
    assert "Oryx build failed" in result.explanation
    assert result.observed["status"] == 3
    assert version_of(urls["staging"]) == "1.0.0"


def test_a_deploy_that_never_completes_is_an_error_at_the_timeout(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    standin.set_faults(zip_deploy_never_completes=True)
    params = deploy_params(urls, packages[REGRESSED], standin.url, kudu={"timeout": 0.6})
    began = time.monotonic()
    result = zip_deploy(params, azure, _package(params, tmp_path))

    assert result.status is Status.ERROR
    assert "did not finish within 0.6 s" in result.explanation
    assert time.monotonic() - began < 3
    assert version_of(urls["staging"]) == "1.0.0"


def test_unreachable_kudu_is_an_error(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    dead = f"https://127.0.0.1:{_free_port()}"
    params = deploy_params(urls, packages[REGRESSED], dead)
    result = zip_deploy(params, azure, _package(params, tmp_path))

    assert result.status is Status.ERROR
    assert "Kudu unreachable" in result.explanation


def test_failed_swap_fails_and_production_keeps_its_release(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url)
    assert zip_deploy(params, azure, _package(params, tmp_path)).status is Status.PASS
    standin.set_faults(fail_swap=True)
    result = swap(params, azure)

    assert result.status is Status.FAIL
    assert "SwapFailed" in result.explanation
    assert version_of(urls["production"]) == "1.0.0"
    assert version_of(urls["staging"]) == "1.1.0"
    site = standin.state()["config"]["sites"][SITE]
    assert site["deployed_version"] == "1.0.0"


def test_wait_healthy_fails_within_its_timeout_when_the_target_stays_unhealthy(
    standin: StandinHandle, urls: dict, packages: dict, slot_sandboxes: dict
) -> None:
    slot_sandboxes["staging"].set_faults(down=True)
    params = deploy_params(urls, packages[REGRESSED], standin.url, health={"timeout": 0.5})
    began = time.monotonic()
    result = wait_healthy(params, "staging")

    assert result.status is Status.FAIL
    assert "HTTP 503" in result.explanation
    assert time.monotonic() - began < 2
    wrong_version = wait_healthy(
        deploy_params(urls, packages[REGRESSED], standin.url, health={"timeout": 0.3}),
        "production",
        expect_version="9.9.9",
    )
    assert wrong_version.status is Status.FAIL and "not '9.9.9'" in wrong_version.explanation


def test_wait_healthy_on_a_target_that_never_answers_is_an_error(
    standin: StandinHandle, packages: dict
) -> None:
    dead = {"staging": f"http://127.0.0.1:{_free_port()}"}
    params = deploy_params(dead, packages[REGRESSED], standin.url, health={"timeout": 0.3})
    result = wait_healthy(params, "staging")
    assert result.status is Status.ERROR and "never answered" in result.explanation


def test_probe_counts_failed_requests_during_an_outage(
    standin: StandinHandle, urls: dict, packages: dict, slot_sandboxes: dict
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url, probe={"interval": 0.02})
    with ZeroDowntimeProbe.for_slot(params, "production") as probe:
        time.sleep(0.2)
        slot_sandboxes["production"].set_faults(down=True)
        time.sleep(0.2)
        slot_sandboxes["production"].set_faults(down=False)
        time.sleep(0.1)
        result = probe.stop()
    assert result.status is Status.FAIL
    assert 0 < result.observed["failed"] < result.observed["requests"]
    statuses = {r["status"] for r in result.evidence["records"]}
    assert {200, 503} <= statuses


def test_record_deployment_reads_what_is_live_for_rollback(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url, swap_to_production=False)
    package = _package(params, tmp_path)
    result = record_deployment(params, azure, package)
    assert result.status is Status.PASS
    assert result.observed["rollback"] == {"how": "redeploy", "restores": "dep-stg-100"}
    assert result.evidence["package"]["sha256"] == package.sha256

    standin.set_faults(unavailable=True)
    broken = record_deployment(params, azure, package)
    assert broken.status is Status.ERROR and "503" in broken.explanation


def test_dry_run_plan_touches_nothing(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    params = deploy_params(urls, packages[REGRESSED], standin.url, restart_after_deploy=True)
    the_plan = plan(params, azure, tmp_path)

    assert standin.requests() == []  # not even a read
    assert get_release(urls["staging"])["version"] == "1.0.0"
    assert the_plan.site == SITE and the_plan.target_slot == "staging"
    assert the_plan.package["sha256"] == _package(params, tmp_path).sha256
    text = "\n".join(the_plan.steps)
    for word in ("zip deploy", "restart staging", "swap staging into production"):
        assert word in text
    result = the_plan.as_result(params)
    assert result.status is Status.SKIP and result.evidence["steps"] == the_plan.steps
    assert httpx.get(urls["production"] + HEALTH, timeout=5).json()["version"] == "1.0.0"
