"""Parameters of the Environment Configuration checks (every system-specific value lives here).

Defaults follow the deployment checklist and the reference "pixcrawler-backend.md"; an
environment's YAML overrides them under the `envconfig:` key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.phases.environment.envconfig import utility_schema as schema

UTILITY_SECTION = (
    "Environment Configuration §1 Environment Variables to Update — Utility Package (New Format)"
)
BACKEND_SECTION = (
    "Environment Configuration §1 Environment Variables to Update — "
    "Backend Configuration (No Changes)"
)
DRIFT_SECTION = "Environment Configuration §1 Environment Variables to Update"

# The utility package's nested groups also read these unprefixed names (compression: no prefix,
# archive: `ARCHIVE_`, logging: `PIXCRAWLER_`); each maps to its new-format name after the prefix.
_GROUP_LEGACY_PREFIX: dict[schema.FieldPath, str] = {
    ("compression",): "",
    ("compression", "archive"): "ARCHIVE_",
    ("logging",): "PIXCRAWLER_",
}


def _default_leftovers() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in schema.leaf_paths():
        legacy = _GROUP_LEGACY_PREFIX[path[:-1]] + path[-1].upper()
        out[legacy] = "__".join(p.upper() for p in path)
    out["ARCHIVE"] = "COMPRESSION__ARCHIVE"  # the whole archive group as JSON
    return out


DEFAULT_LEFTOVERS = _default_leftovers()

# The checklist's block "Utility Package (New Format)", names after the prefix.
CHECKLIST_PRODUCTION_UTILITY: dict[str, str] = {
    "COMPRESSION__QUALITY": "85",
    "COMPRESSION__FORMAT": "webp",
    "COMPRESSION__LOSSLESS": "false",
    "COMPRESSION__WORKERS": "0",
    "COMPRESSION__ARCHIVE__ENABLE": "true",
    "COMPRESSION__ARCHIVE__TAR": "true",
    "COMPRESSION__ARCHIVE__TYPE": "zstd",
    "COMPRESSION__ARCHIVE__LEVEL": "10",
    "LOGGING__ENVIRONMENT": "production",
    "LOGGING__LOG_DIR": "./logs",
    "LOGGING__CONSOLE_LEVEL": "WARNING",
    "LOGGING__FILE_LEVEL": "INFO",
    "LOGGING__USE_JSON": "true",
    "LOGGING__USE_COLORS": "false",
}

DEFAULT_PROCESS_ENV_NAMES = [
    "PIXCRAWLER_*",
    "ENVIRONMENT",
    "DEBUG",
    "LOG_LEVEL",
    "SUPABASE_*",
    "DATABASE_*",
    "REDIS_*",
    "SECURITY_*",
    "ALLOWED_ORIGINS",
    *DEFAULT_LEFTOVERS,
]


class FileSource(BaseModel):
    """A `.env`-style file, relative to the repository root (or absolute)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1)


class ProcessEnvSource(BaseModel):
    """The runbook process's own environment, filtered to the names that matter here."""

    model_config = ConfigDict(extra="forbid")

    process_env: Literal[True]
    only: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROCESS_ENV_NAMES),
        description="fnmatch patterns (case-insensitive) of names to take; others are ignored",
    )


VariableSource = FileSource | ProcessEnvSource


class SecretPolicy(BaseModel):
    """Which variables are secret: shown only as present / absent."""

    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(
        default_factory=lambda: [
            "SUPABASE_SERVICE_ROLE_KEY",
            "SUPABASE_ANON_KEY",
            "DATABASE_PASSWORD",
            "DATABASE_URL",  # embeds the password
        ]
    )
    patterns: list[str] = Field(
        default_factory=lambda: ["KEY", "SECRET", "PASSWORD", "TOKEN"],
        description="a name containing any of these (case-insensitive) is secret",
    )
    set_mark: str = "•••(set)"
    absent_mark: str = "(absent)"


class UtilityParams(BaseModel):
    """The utility package's `PIXCRAWLER_UTILITY_*` variables."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = "PIXCRAWLER_UTILITY_"
    delimiter: str = "__"
    require_present: bool = Field(
        default=True,
        description="fail when no prefixed variable is set (the checklist: 'Add these')",
    )
    expected: dict[str, str] = Field(
        default_factory=dict,
        description="expected values of this environment, names with or without the prefix",
    )
    require_expected_present: bool = Field(
        default=True, description="an expected variable that is not set fails"
    )
    production_min_quality: int = Field(default=70, ge=0, le=100)
    production_logging_environment: str = "production"
    leftovers: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_LEFTOVERS),
        description="unprefixed names the utility package still reads -> new-format name",
    )
    old_variables: list[str] = Field(
        default_factory=list,
        description="old variables the checklist says may be removed after verification",
    )

    @model_validator(mode="after")
    def _expected_values_fit_the_schema(self) -> UtilityParams:
        problems = []
        for name, value in self.expected.items():
            path = self.field_path(name)
            if path is None or schema.is_group(path):
                problems.append(f"utility.expected: {name!r} is not a utility setting")
                continue
            try:
                schema.validate_leaf(path, value)
            except ValueError:
                problems.append(
                    f"utility.expected: {name}={value!r} is invalid, expected "
                    f"{schema.expectation(path)}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def field_path(self, name: str) -> schema.FieldPath | None:
        """Lower-case field path of a variable name (prefix optional), None if not in the schema."""
        rest = name[len(self.prefix) :] if name.upper().startswith(self.prefix.upper()) else name
        path = tuple(p.lower() for p in rest.split(self.delimiter))
        if any(not p for p in path) or schema.field_at(path) is None:
            return None
        return path


class RedisUse(BaseModel):
    """One use of Redis by the backend, configured with its own prefix (pydantic-settings)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="e.g. 'rate limiter'")
    enabled_var: str | None = Field(None, description="e.g. LIMITER_ENABLED (None: always on)")
    enabled_default: bool = True
    host_var: str = Field(min_length=1, description="e.g. LIMITER_REDIS_HOST")
    host_default: str = "localhost"


def _default_redis_uses() -> list[RedisUse]:
    return [
        RedisUse(name="rate limiter", enabled_var="LIMITER_ENABLED", host_var="LIMITER_REDIS_HOST"),
        RedisUse(name="cache", enabled_var="CACHE_ENABLED", host_var="CACHE_REDIS_HOST"),
    ]


class BackendParams(BaseModel):
    """The backend's own variables (pydantic-settings in the backend)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="the checks below know PixCrawler's backend settings; off "
        "for a target whose settings are other (one SKIP says so)",
    )
    environment_var: str = "ENVIRONMENT"
    allowed_environments: list[str] = Field(
        default_factory=lambda: ["development", "staging", "production", "test"]
    )
    production_environments: list[str] = Field(default_factory=lambda: ["production"])
    environment_values: dict[str, str] = Field(
        default_factory=lambda: {"local": "development"},
        description="runbook environment -> expected ENVIRONMENT value; needed for a runbook "
        "environment whose name is not itself an allowed value",
    )
    debug_var: str = "DEBUG"
    origins_var: str = "SECURITY_ALLOWED_ORIGINS"
    stale_names: dict[str, str] = Field(
        default_factory=lambda: {"ALLOWED_ORIGINS": "SECURITY_ALLOWED_ORIGINS"},
        description="names the backend no longer reads -> the name it reads instead",
    )
    redis_uses: list[RedisUse] = Field(
        default_factory=_default_redis_uses,
        description="Redis per use: the rate limiter and the cache are on by default and "
        "point at localhost by default; production refuses a local host or a use turned off",
    )
    local_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1", "0.0.0.0"],
        description="hosts that mean 'this machine' (any loopback address counts too)",
    )
    supabase_url_var: str = "SUPABASE_URL"
    supabase_url_pattern: str = r"^https://[a-zA-Z0-9-]+\.supabase\.co$"
    database_url_var: str = "DATABASE_URL"
    database_parts: list[str] = Field(
        default_factory=lambda: ["DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD"],
        description="the alternative to the database URL: all of these must be set",
    )
    required_secrets: list[str] = Field(
        default_factory=lambda: ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY"]
    )

    @model_validator(mode="after")
    def _mapped_values_allowed(self) -> BackendParams:
        bad = {
            k: v for k, v in self.environment_values.items() if v not in self.allowed_environments
        }
        if bad:
            raise ValueError(
                f"environment_values {bad}: each value must be one of "
                f"{', '.join(self.allowed_environments)}"
            )
        return self

    def expected_environment(self, environment: str) -> str | None:
        """The ENVIRONMENT value a runbook environment must carry: its mapping, else its own
        name when that is an allowed value, else None (unknown: the mapping is missing)."""
        if environment in self.environment_values:
            return self.environment_values[environment]
        return environment if environment in self.allowed_environments else None


class DriftParams(BaseModel):
    """Comparing the variables of several environments."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: the drift table and check are skipped")
    env_files: dict[str, str] = Field(
        default_factory=dict,
        description="environment name -> .env-style file (relative to the repo) for the table",
    )
    reference: str = "staging"
    target: str = "production"
    expected_differences: list[str] = Field(
        default_factory=lambda: ["ENVIRONMENT"],
        description="non-secret variables allowed to differ between reference and target",
    )
    allowed_missing: list[str] = Field(
        default_factory=list,
        description="variables allowed to be set in the reference but not in the target",
    )


class EnvironmentConfigParams(BaseModel):
    """Everything the Environment Configuration checks need for one environment's run."""

    model_config = ConfigDict(extra="forbid")

    sources: list[VariableSource] = Field(
        default_factory=list,
        description="where this environment's variables come from; later sources win",
    )
    secrets: SecretPolicy = Field(default_factory=lambda: SecretPolicy())
    utility: UtilityParams = Field(default_factory=lambda: UtilityParams())
    backend: BackendParams = Field(default_factory=lambda: BackendParams())
    drift: DriftParams = Field(default_factory=lambda: DriftParams())
