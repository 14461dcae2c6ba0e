"""The `rehearsal` section of a parameters file: which local stand-ins a run starts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rehearsal.azure_standin.config import StandinConfig
from rehearsal.sandbox.config import SandboxConfig
from runbook.core.parameters import Parameters


class SampleTargetParams(BaseModel):
    """Materialize the sample target repository (optionally with deliberate defects) and point
    `pre_deployment.repo` at the copy."""

    model_config = ConfigDict(extra="forbid")

    defects: list[str] = Field(
        default_factory=list,
        description="failing-test, lint-error, format-error, type-error, low-coverage, "
        "architecture-violation, missing-doc, new-migration, removed-endpoint, "
        "collection-error, doubled-prefix-base",
    )

    @field_validator("defects")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from rehearsal.sample_repo import DEFECTS

        unknown = [d for d in value if d not in DEFECTS]
        if unknown:
            raise ValueError(f"unknown defects {unknown}; known: {', '.join(sorted(DEFECTS))}")
        return value


class RehearsalParams(BaseModel):
    """What `runbook run` starts locally for an environment that rehearses."""

    model_config = ConfigDict(extra="forbid")

    sandbox: SandboxConfig | None = Field(
        None, description="present: the local sandbox is started and becomes the target"
    )
    azure_standin: StandinConfig | None = Field(
        None, description="present: the local Azure stand-in is started"
    )
    local_environment: dict[str, str] = Field(
        default_factory=dict,
        description="rehearsal-only variables set for a local run (needs 'sandbox')",
    )
    sample_target: SampleTargetParams | None = Field(
        None, description="present: the sample target repository is materialized"
    )


def rehearsal_of(params: Parameters) -> RehearsalParams:
    """The validated `rehearsal` section (an empty one when absent); ValidationError if bad."""
    return RehearsalParams.model_validate(params.rehearsal or {})


def problems(params: Parameters) -> list[str]:
    """Sentences naming what is wrong with the `rehearsal` section (empty: nothing)."""
    try:
        r = rehearsal_of(params)
    except ValidationError as exc:
        return [
            f"key 'rehearsal.{'.'.join(str(p) for p in e['loc'])}': {e['msg']}"
            for e in exc.errors()
        ]
    found = []
    if r.local_environment and r.sandbox is None:
        found.append(
            "'rehearsal.local_environment' is only allowed beside 'rehearsal.sandbox' "
            "(it holds rehearsal values)"
        )
    if r.sample_target is not None and params.pre_deployment is None:
        found.append("'rehearsal.sample_target' needs a 'pre_deployment' section to point at it")
    azure = params.azure
    if r.azure_standin is not None and (
        azure is None or azure.credential.kind != "static-token" or azure.credential.token is None
    ):
        found.append(
            "'rehearsal.azure_standin' needs 'azure.credential' to be "
            "{kind: static-token, token: {env: NAME}}"
        )
    return found


def with_rehearsal(params: Parameters, r: RehearsalParams) -> Parameters:
    """`params` carrying `r` as its rehearsal section."""
    section: dict[str, Any] = r.model_dump(mode="json", exclude_unset=False)
    return params.model_copy(update={"rehearsal": section})
