"""Parameters section `checklist`: where the target repository keeps its own copy of the
deployment checklist, compared with the catalogue in phase pre-deployment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PATHS = ("DEPLOYMENT_CHECKLIST.md", "docs/DEPLOYMENT_CHECKLIST.md")


class ChecklistParams(BaseModel):
    """The team's checklist in the target repository (relative to `pre_deployment.repo`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="compare the team's copy with the catalogue")
    path: str | None = Field(
        None,
        description="the checklist in the target repository; None: the first of "
        + ", ".join(DEFAULT_PATHS)
        + " that exists",
    )
    required: bool = Field(
        False, description="a repository without the file is a warning (else: skipped)"
    )

    def candidates(self) -> list[str]:
        """The paths looked at, in order."""
        return [self.path] if self.path else list(DEFAULT_PATHS)
