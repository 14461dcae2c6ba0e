"""The stand-in's seed: subscription, resource group, sites with slots and settings, fault knobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rehearsal.azure_standin.monitor_seed import MonitorSeed


class DeploymentRecord(BaseModel):
    """One entry of a site's (or slot's) deployment history, as `GET .../deployments` lists it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: int = Field(default=4, description="Kudu status: 4 success, 3 failed")
    message: str = ""
    author: str = ""
    deployer: str = ""
    start_time: str | None = None
    end_time: str | None = None
    active: bool = False


class SlotSpec(BaseModel):
    """What a deployment slot (or the production site itself) holds."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["Running", "Stopped"] = "Running"
    app_settings: dict[str, str] = Field(default_factory=dict)
    deployed_version: str | None = Field(
        default=None, description="what code is deployed; moves with a swap"
    )
    site_config: dict[str, Any] = Field(
        default_factory=dict, description="properties of GET .../config/web; moves with a swap"
    )
    deployments: list[DeploymentRecord] = Field(default_factory=list)
    sandbox_url: str | None = Field(
        default=None, description="admin URL of the sandbox playing this slot (gets its releases)"
    )


class SiteSpec(SlotSpec):
    """A Microsoft.Web/sites resource: its production slot, its named slots, its sticky names."""

    location: str = "West Europe"
    kind: str = "app,linux"
    sticky_settings: list[str] = Field(
        default_factory=list, description="slot-sticky app setting names (slotConfigNames)"
    )
    slots: dict[str, SlotSpec] = Field(default_factory=dict)


class ThrottleFault(BaseModel):
    """Answer the next `count` ARM requests with `status` (429 Too Many Requests, or 503
    Service Unavailable as ARM does when a resource provider is overloaded) and
    `Retry-After: retry_after`."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=0, ge=0)
    retry_after: float = Field(default=1, ge=0)
    status: Literal[429, 503] = Field(default=429, description="the throttling answer's status")


class FaultKnobs(BaseModel):
    """Faults the stand-in injects; all off by default."""

    model_config = ConfigDict(extra="forbid")

    throttle: ThrottleFault = Field(default_factory=lambda: ThrottleFault())
    unavailable: bool = Field(default=False, description="answer every ARM request with 503")
    fail_swap: bool = Field(default=False, description="swap operations end with status Failed")
    swap_in_progress_polls: int = Field(
        default=0, ge=0, description="how many polls of a swap answer InProgress before the end"
    )
    fail_zip_deploy: bool = Field(default=False, description="Kudu zip deploys end with status 3")
    zip_deploy_in_progress_polls: int = Field(
        default=0, ge=0, description="polls of a zip deploy answering status 0/1/2 before the end"
    )
    zip_deploy_never_completes: bool = Field(
        default=False, description="Kudu zip deploys stay in progress forever"
    )


class StandinConfig(BaseModel):
    """Everything the stand-in starts from (and returns to on reset)."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str
    resource_group: str
    sites: dict[str, SiteSpec] = Field(default_factory=dict)
    faults: FaultKnobs = Field(default_factory=lambda: FaultKnobs())
    host_suffix: str = Field(
        default="azurewebsites.net", description="default host names: {site}.{suffix}"
    )
    monitor: MonitorSeed = Field(
        default_factory=lambda: MonitorSeed(),
        description="Azure Monitor: alert rules, process sampling, metrics/logs fault knobs",
    )
    accept_token_env: str | None = Field(
        default=None,
        description="environment variable holding the one bearer token accepted; "
        "unset: any bearer token is accepted (a token is always required)",
    )


def load_standin_config(path: Path) -> StandinConfig:
    """Read a StandinConfig from a YAML or JSON file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return StandinConfig.model_validate(data)


EXAMPLE_CONFIG = Path(__file__).with_name("example-config.yaml")
