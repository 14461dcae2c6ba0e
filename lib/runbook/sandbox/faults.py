"""Fault injection: decides, per request, whether the sandbox is slow, failing or down."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from runbook.sandbox.config import SandboxFaults


def route_listed(specs: list[str], method: str, template: str | None, path: str) -> bool:
    """True if one 'METHOD /path' spec names this request (by route template or concrete path)."""
    for spec in specs:
        spec_method, spec_path = spec.split(" ", 1)
        if spec_method not in ("*", method):
            continue
        if spec_path == path or (template is not None and spec_path == template):
            return True
    return False


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: add latency, and maybe answer an error instead of the route,
    or reset the connection without any answer."""

    latency_ms: float = 0.0
    status: int | None = None  # 500 to fail the request, None to let it through
    reason: str | None = None  # "reset_routes", "fail_routes", "reset_rate" or "error_rate"
    reset: bool = False  # True: close the TCP connection with a RST, no HTTP answer


class FaultInjector:
    """Holds the current fault knobs and a seedable random stream for error_rate."""

    def __init__(self, faults: SandboxFaults, seed: int | None) -> None:
        self._seed = seed
        self._faults = faults
        self._rng = random.Random(seed)

    @property
    def faults(self) -> SandboxFaults:
        """The knobs in force."""
        return self._faults

    def replace(self, faults: SandboxFaults) -> SandboxFaults:
        """Put new knobs in force and restart the random stream from the seed."""
        self._faults = faults
        self._rng = random.Random(self._seed)
        return faults

    def update(self, changes: dict[str, Any]) -> SandboxFaults:
        """Change the given knobs (others keep their value); raises ValidationError if invalid."""
        merged = {**self._faults.model_dump(), **changes}
        return self.replace(SandboxFaults.model_validate(merged))

    def decide(self, method: str, template: str | None, path: str) -> FaultDecision:
        """Latency and failure for one non-admin request (the 'down' knob is checked before).
        Listed routes win over rates; a reset wins over a 500. The random stream is only drawn
        from for a rate above 0, so adding reset_rate=0 changes no seeded error sequence."""
        f = self._faults
        latency = 0.0
        if f.latency_ms > 0 and (
            not f.latency_routes or route_listed(f.latency_routes, method, template, path)
        ):
            latency = f.latency_ms
        if f.reset_routes and route_listed(f.reset_routes, method, template, path):
            return FaultDecision(latency, reason="reset_routes", reset=True)
        if f.fail_routes and route_listed(f.fail_routes, method, template, path):
            return FaultDecision(latency, 500, "fail_routes")
        if f.reset_rate > 0 and self._rng.random() < f.reset_rate:
            return FaultDecision(latency, reason="reset_rate", reset=True)
        if (
            f.error_rate > 0
            and (not f.error_routes or route_listed(f.error_routes, method, template, path))
            and self._rng.random() < f.error_rate
        ):
            return FaultDecision(latency, 500, "error_rate")
        return FaultDecision(latency)
