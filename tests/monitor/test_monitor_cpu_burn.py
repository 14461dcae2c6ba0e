"""'CPU usage normal' / 'CPU usage < 70%': the sandbox's cpu_burn_percent fault really burns CPU
in the sandbox process, the stand-in's /proc sampling sees it as CpuTime, and exactly the
monitor.metrics.cpu check fails on it; the burn ends when the knob is cleared and with the app."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
from monitor_support import traffic

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.sandbox.app import create_app
from rehearsal.sandbox.config import SandboxConfig, SandboxFaults
from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Severity, Status
from runbook.phases.monitoring.metrics import metric_checks
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams
from waiting import wait_for

# A small instance, so a few seconds of one burning core are over 70 % of a one-minute interval
# (3.4 CPU seconds) while an idle sandbox (about 0.5 s a minute, and its start) stays well under.
CORES = 0.08


def _small(params: MonitorParams) -> MonitorParams:
    """The fixture's parameters on a 0.08-core instance; the memory slope is not judged here."""
    thresholds = params.thresholds.model_copy(update={"memory_slope_mb_per_h": 1_000_000})
    instance = params.instance.model_copy(update={"cpu_cores": CORES})
    return params.model_copy(update={"instance": instance, "thresholds": thresholds})


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _blocking_failures(results: list[Any]) -> set[str]:
    return {r.id for r in results if r.status is Status.FAIL and r.severity is Severity.BLOCKER}


def test_a_healthy_sandbox_passes_the_cpu_check(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=30)
    results = metric_checks(_small(params), azure).results
    cpu = next(r for r in results if r.id == "monitor.metrics.cpu")
    assert cpu.status is Status.PASS, cpu.explanation
    assert _blocking_failures(results) == set()


def test_a_cpu_burn_fails_exactly_the_cpu_check_and_ends_when_cleared(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    idle = _threads(sandbox.pid)
    small = _small(params)

    def cpu_failing() -> list[Any] | None:
        results = metric_checks(small, azure).results
        cpu = next(r for r in results if r.id == "monitor.metrics.cpu")
        return results if cpu.status is Status.FAIL else None

    assert sandbox.set_faults(cpu_burn_percent=100).cpu_burn_percent == 100
    try:
        wait_for(lambda: _threads(sandbox.pid) > idle, "the burning thread starting")
        traffic(sandbox.url, ok=30)
        # one interval must gather 3.4 CPU seconds: a few seconds, more across a minute's edge
        results = wait_for(cpu_failing, "the CPU check failing on the burn", bound_s=150)
    finally:
        sandbox.set_faults(cpu_burn_percent=0)
    assert _blocking_failures(results) == {"monitor.metrics.cpu"}
    cpu = next(r for r in results if r.id == "monitor.metrics.cpu")
    assert cpu.observed["worst_interval"] >= 70 and cpu.observed["intervals_failing"] >= 1
    assert cpu.evidence["bad_intervals"]
    wait_for(lambda: _threads(sandbox.pid) == idle, "the burning thread ending", bound_s=30)


def test_the_burn_starts_from_the_config_and_stops_with_the_app_and_on_reset() -> None:
    faults = SandboxFaults(cpu_burn_percent=150)
    app = create_app(SandboxConfig(faults=faults), "token-for-this-test")
    burner = app.state.sandbox.injector.burner

    async def lifetime() -> None:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
            ) as client,
        ):
            assert burner.threads == 2  # 150 % of a core: two threads, 75 % each
            used = time.process_time()
            for _ in range(600):  # this process really burns (bound: 60 s)
                if time.process_time() - used > 0.2:
                    break
                await asyncio.sleep(0.1)
            assert time.process_time() - used > 0.2
            await client.put("/_sandbox/faults", json={"cpu_burn_percent": 0})
            assert burner.threads == 0
            await client.put("/_sandbox/faults", json={"cpu_burn_percent": 30})
            assert burner.threads == 1
            await client.post("/_sandbox/reset")  # back to the configured 150 %
            assert burner.threads == 2

    asyncio.run(lifetime())
    assert burner.threads == 0 and burner.percent == 0  # the app's shutdown stopped it
