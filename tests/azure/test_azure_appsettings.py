"""The live App Settings check, end to end against the stand-in, and its comparison rules."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from azure_standin_seed import PROD_SETTINGS, SITE, STAGING_SETTINGS

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.azure_standin.tls import generate_tls
from runbook.core.checks import CheckResult, Status
from runbook.phases.environment.app_settings import check_app_settings, compare_app_settings
from runbook.providers.azure.params import AppSettingsParams, AzureParams

ROLE_KEY = PROD_SETTINGS["SUPABASE_SERVICE_ROLE_KEY"]
SECRET_ENV = "RUNBOOK_TEST_EXPECTED_ROLE_KEY"


def expected_settings(**changes: object) -> AppSettingsParams:
    """What production must hold: matching the seed; the role key by reference."""
    expected: dict[str, object] = {
        "ENVIRONMENT": "production",
        "DEBUG": False,  # YAML-style scalar: the text "false"
        "LOG_LEVEL": "INFO",
        "REDIS_URL": PROD_SETTINGS["REDIS_URL"],
        "SUPABASE_SERVICE_ROLE_KEY": {"env": SECRET_ENV},
    }
    expected.update(changes)
    return AppSettingsParams.model_validate(
        {
            "expected": {k: v for k, v in expected.items() if v is not None},
            "slot_overrides": {"ENVIRONMENT": "staging", "LOG_LEVEL": "DEBUG"},
            "ignore": ["WEBSITE_*", "PIXCRAWLER_UTILITY_*"],
        }
    )


def rendered(result: CheckResult) -> str:
    return json.dumps(result.to_payload()) + result.summary_line() + result.to_html()


def test_passes_for_site_and_slot_when_settings_match(
    arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, ROLE_KEY)
    results = check_app_settings(arm_params, expected_settings())
    assert [r.id for r in results] == [
        f"azure.appsettings.{SITE}",
        f"azure.appsettings.{SITE}.staging",
    ]
    assert [r.status for r in results] == [Status.PASS, Status.PASS]
    assert results[0].evidence["secrets"] == {"SUPABASE_SERVICE_ROLE_KEY": "matches"}
    assert results[0].evidence["ignored_present"] == ["WEBSITE_RUN_FROM_PACKAGE"]
    for result in results:
        assert ROLE_KEY not in rendered(result)


def test_reports_missing_unexpected_and_different(
    arm_params: AzureParams, standin: StandinHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, ROLE_KEY)
    drifted = {**PROD_SETTINGS, "LOG_LEVEL": "DEBUG", "QUALITY": "40"}
    del drifted["DEBUG"]
    standin.set_app_settings(SITE, drifted)
    arm_params = arm_params.model_copy(update={"slot": None})
    [result] = check_app_settings(arm_params, expected_settings())
    assert result.status is Status.FAIL
    ev = result.evidence
    assert ev["missing"] == ["DEBUG"]
    assert ev["unexpected"] == ["QUALITY"]
    assert ev["different"] == [
        {"name": "LOG_LEVEL", "secret": False, "expected": "INFO", "observed": "DEBUG"}
    ]
    assert result.observed == {"missing": 1, "different": 1, "unexpected": 1, "matched": 3}
    assert "DEBUG" in result.explanation and "QUALITY" in result.explanation


def test_secret_drift_says_differs_and_never_shows_either_value(
    arm_params: AzureParams, standin: StandinHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_value = "expected-role-key-Zr41"
    monkeypatch.setenv(SECRET_ENV, expected_value)
    [prod, slot] = check_app_settings(arm_params, expected_settings())
    assert prod.status is Status.FAIL and slot.status is Status.FAIL
    assert prod.evidence["secrets"] == {"SUPABASE_SERVICE_ROLE_KEY": "differs"}
    assert prod.evidence["different"] == [
        {"name": "SUPABASE_SERVICE_ROLE_KEY", "secret": True, "expected_ref": SECRET_ENV}
    ]
    for result in (prod, slot):
        text = rendered(result)
        assert ROLE_KEY not in text and expected_value not in text
        assert str(len(ROLE_KEY)) not in json.dumps(result.evidence["different"])


def test_missing_secret_is_reported_by_name(
    arm_params: AzureParams, standin: StandinHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, ROLE_KEY)
    standin.set_app_settings(
        SITE, {k: v for k, v in PROD_SETTINGS.items() if k != "SUPABASE_SERVICE_ROLE_KEY"}
    )
    [prod, _] = check_app_settings(arm_params, expected_settings())
    assert prod.status is Status.FAIL
    assert prod.evidence["missing"] == ["SUPABASE_SERVICE_ROLE_KEY"]
    assert prod.evidence["secrets"] == {"SUPABASE_SERVICE_ROLE_KEY": "missing"}


def test_unset_secret_reference_is_error_not_pass(
    arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    [prod, _] = check_app_settings(arm_params, expected_settings())
    assert prod.status is Status.ERROR
    assert prod.evidence["unresolved_references"] == [
        {"name": "SUPABASE_SERVICE_ROLE_KEY", "secret_env": SECRET_ENV}
    ]


def test_unexpected_only_warns_or_fails_as_configured(
    arm_params: AzureParams, standin: StandinHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, ROLE_KEY)
    standin.set_app_settings(SITE, {**PROD_SETTINGS, "COMPRESSION__QUALITY": "85"})
    arm_params = arm_params.model_copy(update={"slot": None})
    settings = expected_settings()
    [warned] = check_app_settings(arm_params, settings)
    strict = settings.model_copy(update={"on_unexpected": "fail"})
    [failed] = check_app_settings(arm_params, strict)
    assert (warned.status, failed.status) == (Status.WARN, Status.FAIL)
    assert warned.evidence["unexpected"] == ["COMPRESSION__QUALITY"]


def test_expected_dict_from_caller_and_url_password_masked(
    arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    arm_params = arm_params.model_copy(update={"slot": None})
    expected = {"REDIS_URL": "redis://:otherpass@cache.internal:6379/0"}
    [result] = check_app_settings(arm_params, AppSettingsParams(ignore=["*"]), expected=expected)
    assert result.status is Status.FAIL
    [diff] = result.evidence["different"]
    assert diff["observed"] == "redis://:***@cache.internal:6379/0"
    assert "redispass-7Hk" not in rendered(result) and "otherpass" not in rendered(result)


def test_slot_uses_its_overrides(arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, ROLE_KEY)
    settings = expected_settings().model_copy(update={"targets": ["slot"]})
    [slot] = check_app_settings(arm_params, settings)
    assert slot.id.endswith(".staging") and slot.status is Status.PASS
    assert slot.evidence["target"]["slot"] == "staging"
    assert STAGING_SETTINGS["LOG_LEVEL"] == "DEBUG"


def test_unknown_site_is_error_naming_it(arm_params: AzureParams) -> None:
    params = arm_params.model_copy(update={"site": "pixcrawler-typo", "slot": None})
    [result] = check_app_settings(params, expected_settings())
    assert result.status is Status.ERROR
    assert "pixcrawler-typo" in result.explanation and "not-found" in result.explanation


def test_persistent_503_is_error_quickly(arm_params: AzureParams, standin: StandinHandle) -> None:
    standin.set_faults(unavailable=True)
    params = arm_params.model_copy(update={"retry_total": 1, "slot": None})
    started = time.monotonic()
    [result] = check_app_settings(params, expected_settings())
    assert time.monotonic() - started < 5
    assert result.status is Status.ERROR
    assert result.evidence["failure"]["reason"] == "unavailable"
    assert [r["status"] for r in standin.requests()] == [503, 503]  # one retry, then stop


def test_throttled_beyond_retries_is_error(arm_params: AzureParams, standin: StandinHandle) -> None:
    standin.set_faults(throttle={"count": 10, "retry_after": 0})
    params = arm_params.model_copy(update={"retry_total": 1, "slot": None})
    [result] = check_app_settings(params, expected_settings())
    assert result.status is Status.ERROR
    assert result.evidence["failure"]["reason"] == "throttled"


def test_refused_port_is_error(arm_params: AzureParams) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params = arm_params.model_copy(
        update={"arm_endpoint": f"https://127.0.0.1:{port}", "retry_total": 0, "slot": None}
    )
    [result] = check_app_settings(params, expected_settings())
    assert result.status is Status.ERROR
    assert result.evidence["failure"]["reason"] == "connection-refused"
    assert SITE in result.explanation and "refused" in result.explanation


def test_plain_http_endpoint_is_error(arm_params: AzureParams) -> None:
    plain = arm_params.arm_endpoint.replace("https://", "http://")
    params = arm_params.model_copy(update={"arm_endpoint": plain, "retry_total": 0, "slot": None})
    started = time.monotonic()
    [result] = check_app_settings(params, expected_settings())
    assert time.monotonic() - started < 3
    assert result.status is Status.ERROR
    assert result.evidence["failure"]["reason"] == "non-https-endpoint"
    assert "https" in result.explanation


def test_wrong_ca_is_error_naming_tls(arm_params: AzureParams, tmp_path: Path) -> None:
    other_ca = generate_tls(tmp_path / "other").ca_bundle
    params = arm_params.model_copy(
        update={"ca_bundle": str(other_ca), "retry_total": 0, "slot": None}
    )
    [result] = check_app_settings(params, expected_settings())
    assert result.status is Status.ERROR
    assert result.evidence["failure"]["reason"] == "tls"
    assert "TLS" in result.explanation


def test_missing_token_variable_is_inconclusive_naming_the_credential(
    arm_params: AzureParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_TEST_ARM_TOKEN")
    params = arm_params.model_copy(update={"slot": None})
    [result] = check_app_settings(params, expected_settings())
    assert result.status is Status.INCONCLUSIVE  # the run could not look: INCOMPLETE, not NO-GO
    assert "needs an Azure credential" in result.explanation
    assert result.evidence["failure"]["reason"] == "auth"
    assert "RUNBOOK_TEST_ARM_TOKEN" in result.explanation


def test_nothing_expected_is_error() -> None:
    params = AzureParams(subscription_id="s", resource_group="r", site="x")
    [result] = check_app_settings(params, AppSettingsParams())
    assert result.status is Status.ERROR


def test_compare_is_exact_and_case_sensitive() -> None:
    settings = AppSettingsParams(ignore=[])
    diff = compare_app_settings(
        {"debug": "false", "FORMAT": "WEBP"}, {"DEBUG": "false", "FORMAT": "webp"}, settings
    )
    assert diff.missing == ["DEBUG"] and diff.unexpected == ["debug"]
    assert [d["name"] for d in diff.different] == ["FORMAT"]
