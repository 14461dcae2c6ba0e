"""The stand-in's in-memory world: sites and slots, faults, async operations, a request log."""

from __future__ import annotations

import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rehearsal.azure_standin.config import FaultKnobs, SiteSpec, SlotSpec, StandinConfig
from rehearsal.sandbox.release import ReleaseError, exchange_releases

PRODUCTION = "production"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Operation(BaseModel):
    """A long-running operation (a swap) that clients poll through Azure-AsyncOperation."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    site: str
    polls_left: int = 0
    outcome: str = "Succeeded"  # or "Failed"
    error: dict[str, str] | None = None
    started: str = Field(default_factory=now_iso)
    detail: dict[str, Any] = Field(default_factory=dict)


class StandinError(Exception):
    """An ARM error answer: HTTP status plus the ARM error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class StandinState:
    """Mutable state of one stand-in process; reset() returns it to the seed config."""

    def __init__(self, seed: StandinConfig) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Back to the seed: sites, faults; forget operations, restarts and the request log."""
        self.config = self.seed.model_copy(deep=True)
        self.operations: dict[str, Operation] = {}
        self.restarts: list[dict[str, str]] = []
        self.requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self.kudu: dict[str, Any] = {}  # Kudu deployments per SCM host (see kudu.py)

    @property
    def faults(self) -> FaultKnobs:
        return self.config.faults

    def set_faults(self, faults: FaultKnobs) -> None:
        self.config.faults = faults

    # -- lookups (ARM names are case-insensitive) -----------------------------------------
    def check_scope(self, subscription: str, resource_group: str) -> None:
        if subscription.lower() != self.config.subscription_id.lower():
            raise StandinError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{subscription}' could not be found.",
            )
        if resource_group.lower() != self.config.resource_group.lower():
            raise StandinError(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{resource_group}' could not be found.",
            )

    def site_name(self, name: str) -> str:
        for known in self.config.sites:
            if known.lower() == name.lower():
                return known
        raise StandinError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Web/sites/{name}' under resource group "
            f"'{self.config.resource_group}' was not found.",
        )

    def site(self, name: str) -> SiteSpec:
        return self.config.sites[self.site_name(name)]

    def slot_name(self, site: str, slot: str) -> str:
        if slot.lower() == PRODUCTION:
            return PRODUCTION
        for known in self.site(site).slots:
            if known.lower() == slot.lower():
                return known
        raise StandinError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Web/sites/{site}/slots/{slot}' under resource group "
            f"'{self.config.resource_group}' was not found.",
        )

    def slot(self, site: str, slot: str | None) -> SlotSpec:
        """The production slot (slot None or 'production') or a named slot of a site."""
        spec = self.site(site)
        if slot is None:
            return spec
        name = self.slot_name(site, slot)
        return spec if name == PRODUCTION else spec.slots[name]

    # -- mutations ------------------------------------------------------------------------
    def swap(self, site: str, source: str | None, target: str | None) -> dict[str, Any]:
        """Swap two slots: non-sticky settings, site config, deployed version and history move."""
        spec = self.site(site)
        a, b = self.slot(site, source), self.slot(site, target)
        if a is b:
            raise StandinError(400, "BadRequest", "Cannot swap a slot with itself.")
        if a.sandbox_url and b.sandbox_url:  # the sandboxes playing the two slots trade releases
            try:
                exchange_releases(a.sandbox_url, b.sandbox_url)
            except ReleaseError as exc:
                message = f"Swap of site '{site}' failed: {exc}"
                raise StandinError(500, "SwapFailed", message) from exc
        sticky = set(spec.sticky_settings)

        def moving(s: SlotSpec) -> dict[str, str]:
            return {k: v for k, v in s.app_settings.items() if k not in sticky}

        def staying(s: SlotSpec) -> dict[str, str]:
            return {k: v for k, v in s.app_settings.items() if k in sticky}

        a_moving, b_moving = moving(a), moving(b)
        a.app_settings, b.app_settings = {**staying(a), **b_moving}, {**staying(b), **a_moving}
        a.deployed_version, b.deployed_version = b.deployed_version, a.deployed_version
        a.site_config, b.site_config = b.site_config, a.site_config
        a.deployments, b.deployments = b.deployments, a.deployments
        return {
            "source": source or PRODUCTION,
            "target": target or PRODUCTION,
            "sticky": sorted(sticky),
        }

    def new_operation(self, kind: str, site: str, **detail: Any) -> Operation:
        faults = self.faults
        op = Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            site=site,
            polls_left=faults.swap_in_progress_polls,
            detail=detail,
        )
        if faults.fail_swap:
            op.outcome = "Failed"
            op.error = {
                "code": "SwapFailed",
                "message": f"Swap of site '{site}' failed (stand-in fault fail_swap).",
            }
        self.operations[op.id] = op
        return op

    def poll(self, op_id: str) -> dict[str, Any]:
        op = self.operations.get(op_id)
        if op is None:
            raise StandinError(404, "NotFound", f"Operation '{op_id}' was not found.")
        body: dict[str, Any] = {"id": op.id, "name": op.id, "startTime": op.started}
        if op.polls_left > 0:
            op.polls_left -= 1
            body["status"] = "InProgress"
            return body
        body["status"] = op.outcome
        body["endTime"] = now_iso()
        if op.error:
            body["error"] = op.error
        return body

    def record_restart(self, site: str, slot: str | None) -> None:
        self.restarts.append({"site": site, "slot": slot or PRODUCTION, "at": now_iso()})

    def dump(self) -> dict[str, Any]:
        """Everything, JSON-able (the stand-in's values are placeholders, never real secrets)."""
        return {
            "config": self.config.model_dump(mode="json"),
            "operations": [op.model_dump(mode="json") for op in self.operations.values()],
            "restarts": list(self.restarts),
            "request_count": len(self.requests),
        }
