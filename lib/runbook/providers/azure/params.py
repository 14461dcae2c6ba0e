"""Parameters of the Azure checks: which App Service, reached how, holding which settings."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.secret_refs import SecretRef

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
DEFAULT_SECRET_PATTERN = r"KEY|SECRET|PASSWORD|TOKEN|CONNECTION|DATABASE_URL"
DEFAULT_IGNORE = [
    "WEBSITE_*",
    "WEBSITES_*",
    "SCM_*",
    "APPINSIGHTS_*",
    "APPLICATIONINSIGHTS_*",
    "ApplicationInsightsAgent_EXTENSION_VERSION",
    "XDT_MicrosoftApplicationInsights_*",
    "DIAGNOSTICS_*",
]
KEYVAULT_REFERENCE_PREFIX = "@Microsoft.KeyVault("


class CredentialParams(BaseModel):
    """How to authenticate to ARM: DefaultAzureCredential, or a token read from an env variable."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["default", "static-token"] = "default"
    token: SecretRef | None = Field(
        default=None, description="static-token: the bearer token's secret reference"
    )
    managed_identity_client_id: str | None = Field(
        default=None, description="default: client id of a user-assigned managed identity, if any"
    )

    @model_validator(mode="after")
    def _token_env_for_static(self) -> CredentialParams:
        if self.kind == "static-token" and self.token is None:
            raise ValueError("credential kind 'static-token' needs token: {env: VARIABLE}")
        return self


class AzureParams(BaseModel):
    """Which App Service (and slot) to reach, at which ARM endpoint, with what retries."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str
    resource_group: str
    site: str
    slot: str | None = Field(
        default=None, description="deployment slot, e.g. 'staging'; None: none"
    )
    arm_endpoint: str = ARM_ENDPOINT
    arm_scope: str = Field(
        default=ARM_SCOPE,
        description="token scope; stays the real ARM scope even for a local endpoint",
    )
    ca_bundle: str | None = Field(default=None, description="CA bundle path (connection_verify)")
    credential: CredentialParams = Field(default_factory=lambda: CredentialParams())
    retry_total: int = Field(default=3, ge=0, description="azure-core retry budget per request")
    retry_backoff_factor: float = Field(default=0.8, ge=0)
    timeout: float = Field(
        default=30, gt=0, description="connect and read timeout per request, seconds"
    )
    polling_interval: float = Field(
        default=15, gt=0, description="seconds between polls of long-running operations (swap)"
    )

    @field_validator("arm_endpoint")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        from runbook.core.target import validate_http_url

        return validate_http_url(value).rstrip("/")


ExpectedValue = str | SecretRef
Target = Literal["production", "slot"]
TARGETS: tuple[Target, ...] = ("production", "slot")


class AppSettingsParams(BaseModel):
    """What the App Service's settings must be, which are secrets, which to ignore."""

    # a mistaken secret literal must not be echoed back in a validation error
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    expected: dict[str, ExpectedValue] = Field(default_factory=dict)
    slot_overrides: dict[str, ExpectedValue] = Field(
        default_factory=dict, description="expected values that differ on the slot (sticky ones)"
    )
    targets: list[Target] = Field(
        default_factory=lambda: list(TARGETS),
        description="what to check; 'slot' only when AzureParams.slot is set",
    )
    secret_name_pattern: str = Field(
        default=DEFAULT_SECRET_PATTERN,
        description="regex (case-insensitive, search) of secret names",
    )
    secret_names: list[str] = Field(default_factory=list, description="more secret names")
    ignore: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORE),
        description="glob patterns of names neither expected nor reported as unexpected",
    )
    on_unexpected: Literal["fail", "warn"] = "warn"
    section: str = "Environment Configuration §1 Environment Variables to Update"
    id_prefix: str = "azure.appsettings"

    @field_validator("expected", "slot_overrides", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: object) -> object:
        """YAML `85` or `false` means the setting text "85" / "false" (settings are strings)."""
        if not isinstance(value, dict):
            return value
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            if isinstance(v, (bool, int, float))
            else v
            for k, v in value.items()
        }

    @field_validator("secret_name_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value

    def is_secret(self, name: str) -> bool:
        """True when the setting's value must never be shown."""
        return name in self.secret_names or bool(
            re.search(self.secret_name_pattern, name, re.IGNORECASE)
        )

    def is_ignored(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.ignore)

    @model_validator(mode="after")
    def _no_secret_literals(self) -> AppSettingsParams:
        for name, value in {**self.expected, **self.slot_overrides}.items():
            if (
                isinstance(value, str)
                and self.is_secret(name)
                and not value.startswith(KEYVAULT_REFERENCE_PREFIX)
            ):
                raise ValueError(
                    f"setting {name!r} is a secret: give its expected value as "
                    "{env: VARIABLE_NAME}, never as a literal"
                )
        return self

    def expected_for(self, target: Target) -> dict[str, ExpectedValue]:
        """The expected mapping for production, or for the slot (with slot_overrides on top)."""
        if target == "slot":
            return {**self.expected, **self.slot_overrides}
        return dict(self.expected)
