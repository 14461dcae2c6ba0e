"""Parameter models: environment fragments load; secrets can only be references."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from runbook.core.secret_refs import SecretRef
from runbook.providers.azure.clients import StaticTokenCredential, build_credential
from runbook.providers.azure.params import ARM_SCOPE, AppSettingsParams, AzureParams

FRAGMENT = """
azure:
  subscription_id: 00000000-0000-0000-0000-000000000000
  resource_group: pixcrawler-rg
  site: pixcrawler-prod
  slot: staging
  arm_endpoint: https://127.0.0.1:8443/
  ca_bundle: .standin/tls/ca.pem
  credential: {kind: static-token, token: {env: RUNBOOK_ARM_TOKEN}}
  retry_total: 2
  polling_interval: 1
app_settings:
  expected:
    ENVIRONMENT: production
    DEBUG: false
    PIXCRAWLER_UTILITY_COMPRESSION__QUALITY: 85
    SUPABASE_SERVICE_ROLE_KEY: {env: PROD_SUPABASE_SERVICE_ROLE_KEY}
    DATABASE_URL: "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db/)"
  slot_overrides:
    ENVIRONMENT: staging
"""


def test_environment_fragment_loads() -> None:
    data = yaml.safe_load(FRAGMENT)
    azure = AzureParams.model_validate(data["azure"])
    settings = AppSettingsParams.model_validate(data["app_settings"])
    assert azure.arm_endpoint == "https://127.0.0.1:8443"
    assert azure.arm_scope == ARM_SCOPE
    assert settings.expected["DEBUG"] == "false"
    assert settings.expected["PIXCRAWLER_UTILITY_COMPRESSION__QUALITY"] == "85"
    assert settings.expected["SUPABASE_SERVICE_ROLE_KEY"] == SecretRef(
        env="PROD_SUPABASE_SERVICE_ROLE_KEY"
    )
    assert settings.expected_for("slot")["ENVIRONMENT"] == "staging"
    assert settings.expected_for("production")["ENVIRONMENT"] == "production"


def test_secret_literal_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        AppSettingsParams(expected={"SUPABASE_SERVICE_ROLE_KEY": "eyJhbGc-real-looking"})
    assert "eyJhbGc-real-looking" not in str(info.value)
    assert "{env: VARIABLE_NAME}" in str(info.value)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        AzureParams(subscription_id="s", resource_group="r", site="x", region="west")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AzureParams.model_validate(
            {
                "subscription_id": "s",
                "resource_group": "r",
                "site": "x",
                "credential": {"kind": "static-token"},
            }
        )


def test_secret_names_pattern_and_explicit_list() -> None:
    settings = AppSettingsParams(secret_names=["REDIS_URL"])
    assert settings.is_secret("SUPABASE_ANON_KEY") and settings.is_secret("database_url")
    assert settings.is_secret("REDIS_URL") and not settings.is_secret("LOG_LEVEL")


def test_static_credential_reads_env_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    credential = build_credential(
        AzureParams.model_validate(yaml.safe_load(FRAGMENT)["azure"]).credential, scope=ARM_SCOPE
    )
    assert isinstance(credential, StaticTokenCredential)
    monkeypatch.setenv("RUNBOOK_ARM_TOKEN", "tok-123")
    assert credential.get_token_info(ARM_SCOPE).token == "tok-123"
    assert "tok-123" not in repr(credential)
