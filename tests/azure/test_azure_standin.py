"""The real WebSiteManagementClient against the real stand-in subprocess, over TLS."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.mgmt.web.models import CsmSlotEntity, StringDictionary
from azure_standin_seed import RG, SITE, STAGING_SETTINGS, standin_config

from rehearsal.azure_standin.process import StandinHandle, start_standin
from runbook.providers.azure.clients import StaticTokenCredential, web_client
from runbook.providers.azure.params import ARM_SCOPE, AzureParams


def test_reads_site_and_slot_with_state_and_scm_host(arm_params: AzureParams) -> None:
    client = web_client(arm_params)
    site = client.web_apps.get(RG, SITE)
    slot = client.web_apps.get_slot(RG, SITE, "staging")
    assert site.state == "Running" and site.name == SITE
    assert slot.name == f"{SITE}/staging"
    scm = [s["name"] for s in site.host_name_ssl_states if s["hostType"] == "Repository"]
    assert scm == [f"{SITE}.scm.azurewebsites.net"]


def test_reads_app_settings_config_and_deployments(arm_params: AzureParams) -> None:
    client = web_client(arm_params)
    prod = client.web_apps.list_application_settings(RG, SITE).properties
    slot = client.web_apps.list_application_settings_slot(RG, SITE, "staging").properties
    assert prod["ENVIRONMENT"] == "production" and slot == STAGING_SETTINGS
    assert client.web_apps.get_configuration(RG, SITE).linux_fx_version == "PYTHON|3.11"
    deployments = list(client.web_apps.list_deployments(RG, SITE))
    assert [d.name for d in deployments] == ["v1.0.0"]


def test_update_then_read_back(arm_params: AzureParams) -> None:
    client = web_client(arm_params)
    wanted = {"ENVIRONMENT": "staging", "NEW_FLAG": "on"}
    client.web_apps.update_application_settings_slot(
        RG, SITE, "staging", StringDictionary(properties=wanted)
    )
    assert client.web_apps.list_application_settings_slot(RG, SITE, "staging").properties == wanted
    assert "NEW_FLAG" not in client.web_apps.list_application_settings(RG, SITE).properties


def test_restart_is_recorded(arm_params: AzureParams, standin: StandinHandle) -> None:
    web_client(arm_params).web_apps.restart(RG, SITE)
    assert [r["slot"] for r in standin.state()["restarts"]] == ["production"]


def test_unknown_site_is_arm_404(arm_params: AzureParams) -> None:
    client = web_client(arm_params)
    with pytest.raises(ResourceNotFoundError) as info:
        client.web_apps.get(RG, "no-such-site")
    assert info.value.error.code == "ResourceNotFound"


def test_swap_moves_non_sticky_settings_and_version(
    arm_params: AzureParams, standin: StandinHandle
) -> None:
    standin.set_faults(swap_in_progress_polls=2)
    client = web_client(arm_params)
    started = time.monotonic()
    poller = client.web_apps.begin_swap_slot_with_production(
        RG, SITE, CsmSlotEntity(target_slot="staging", preserve_vnet=True)
    )
    poller.result()
    assert time.monotonic() - started < 3
    assert poller.status() == "Succeeded"

    prod = client.web_apps.list_application_settings(RG, SITE).properties
    slot = client.web_apps.list_application_settings_slot(RG, SITE, "staging").properties
    assert prod["ENVIRONMENT"] == "production"  # sticky: stays with its slot
    assert slot["ENVIRONMENT"] == "staging"
    assert prod["LOG_LEVEL"] == "DEBUG" and slot["LOG_LEVEL"] == "INFO"  # moved
    assert "PIXCRAWLER_UTILITY_COMPRESSION__QUALITY" in prod
    assert "WEBSITE_RUN_FROM_PACKAGE" in slot
    assert client.web_apps.get_configuration(RG, SITE).linux_fx_version == "PYTHON|3.12"
    site = standin.state()["config"]["sites"][SITE]
    assert site["deployed_version"] == "v1.1.0"
    assert site["slots"]["staging"]["deployed_version"] == "v1.0.0"
    polls = [r for r in standin.requests() if "/operationresults/" in r["path"]]
    assert len(polls) == 3  # two InProgress, then Succeeded


def test_slot_level_swap_swaps_back(arm_params: AzureParams, standin: StandinHandle) -> None:
    client = web_client(arm_params)
    entity = CsmSlotEntity(target_slot="production", preserve_vnet=True)
    client.web_apps.begin_swap_slot(RG, SITE, "staging", entity).result()
    client.web_apps.begin_swap_slot(RG, SITE, "staging", entity).result()
    assert standin.state()["config"]["sites"][SITE]["deployed_version"] == "v1.0.0"
    assert client.web_apps.list_application_settings(RG, SITE).properties["LOG_LEVEL"] == "INFO"


def test_fail_swap_raises_and_changes_nothing(
    arm_params: AzureParams, standin: StandinHandle
) -> None:
    standin.set_faults(fail_swap=True)
    client = web_client(arm_params)
    poller = client.web_apps.begin_swap_slot_with_production(
        RG, SITE, CsmSlotEntity(target_slot="staging", preserve_vnet=True)
    )
    with pytest.raises(HttpResponseError) as info:
        poller.result()
    assert "SwapFailed" in str(info.value)
    assert standin.state()["config"]["sites"][SITE]["deployed_version"] == "v1.0.0"


def test_throttle_with_retry_after_then_success(
    arm_params: AzureParams, standin: StandinHandle
) -> None:
    standin.set_faults(throttle={"count": 1, "retry_after": 1})
    started = time.monotonic()
    settings = web_client(arm_params).web_apps.list_application_settings(RG, SITE).properties
    elapsed = time.monotonic() - started
    assert settings["ENVIRONMENT"] == "production"
    assert [r["status"] for r in standin.requests()] == [429, 200]
    assert 0.9 <= elapsed < 5  # Retry-After was honoured, no more


def test_503_throttle_with_retry_after_then_success(
    arm_params: AzureParams, standin: StandinHandle
) -> None:
    standin.set_faults(throttle={"count": 1, "retry_after": 1, "status": 503})
    started = time.monotonic()
    settings = web_client(arm_params).web_apps.list_application_settings(RG, SITE).properties
    elapsed = time.monotonic() - started
    assert settings["ENVIRONMENT"] == "production"
    assert [r["status"] for r in standin.requests()] == [503, 200]
    assert 0.9 <= elapsed < 5  # Retry-After was honoured on a 503 too


def test_wrong_token_is_refused(arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_TEST_WRONG_TOKEN", "not-the-token")
    params = AzureParams.model_validate(
        {
            **arm_params.model_dump(),
            "credential": {"kind": "static-token", "token": {"env": "RUNBOOK_TEST_WRONG_TOKEN"}},
        }
    )
    with pytest.raises(ClientAuthenticationError):
        web_client(params).web_apps.get(RG, SITE)


def test_client_asks_for_the_real_arm_scope_even_locally(arm_params: AzureParams) -> None:
    # the credential serves only the ARM scope: a client scoped to the local URL would fail
    credential = StaticTokenCredential("RUNBOOK_TEST_ARM_TOKEN", scopes=(ARM_SCOPE,))
    client = web_client(arm_params, credential=credential)
    assert client.web_apps.get(RG, SITE).name == SITE
    local = (f"{arm_params.arm_endpoint}/.default",)
    local_scope = StaticTokenCredential("RUNBOOK_TEST_ARM_TOKEN", scopes=local)
    with pytest.raises(ClientAuthenticationError):
        web_client(arm_params, credential=local_scope).web_apps.get(RG, SITE)


def test_admin_routes_need_no_token_and_arm_routes_do(standin: StandinHandle) -> None:
    trust = ssl.create_default_context(cafile=str(standin.ca_bundle))
    with httpx.Client(base_url=standin.url, verify=trust) as http:
        assert http.get("/_standin/health").json() == {"status": "ok"}
        answer = http.get(
            f"/subscriptions/x/resourceGroups/{RG}/providers/Microsoft.Web/sites/{SITE}",
            params={"api-version": "2025-05-01"},
        )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AuthenticationFailed"


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    handle = start_standin(standin_config(), tmp_path)
    with handle:
        assert handle.running and handle.url.startswith("https://127.0.0.1:")
    assert not handle.running
    with pytest.raises(httpx.ConnectError):
        trust = ssl.create_default_context(cafile=str(handle.ca_bundle))
        httpx.get(handle.url + "/_standin/health", verify=trust, timeout=2)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_standin_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    config_file = tmp_path / "seed.json"
    config_file.write_text(standin_config().model_dump_json())
    script = textwrap.dedent(
        f"""
        import json, time
        from pathlib import Path
        from rehearsal.azure_standin.config import StandinConfig
        from rehearsal.azure_standin.process import start_standin
        config = StandinConfig.model_validate_json(Path({str(config_file)!r}).read_text())
        handle = start_standin(config, Path({str(tmp_path)!r}))
        print(json.dumps({{"pid": handle.process.pid}}), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = json.loads(parent.stdout.readline())["pid"]
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 8
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail("the stand-in outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
