"""Real parts: one sandbox process (the production slot) and one Azure stand-in over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_support import (
    ACCEPT_ENV,
    CLIENT_ENV,
    RG,
    SANDBOX_ENV,
    SANDBOX_TOKEN,
    SITE,
    SUB,
    TOKEN,
    WORKSPACE,
    standin_config,
)

from rehearsal.azure_standin.process import StandinHandle, start_standin
from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[SandboxHandle]:
    config = SandboxConfig(port=0, environment="test", seed=7, job_step_seconds=0.05)
    with start_sandbox(config, SANDBOX_TOKEN, token_env=SANDBOX_ENV) as handle:
        yield handle


@pytest.fixture(scope="session")
def standin_session(
    tmp_path_factory: pytest.TempPathFactory, sandbox_session: SandboxHandle
) -> Iterator[StandinHandle]:
    workdir: Path = tmp_path_factory.mktemp("monitor-standin")
    config = standin_config(sandbox_session.url)
    with start_standin(config, workdir, env={ACCEPT_ENV: TOKEN}) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_session: SandboxHandle) -> SandboxHandle:
    """The production sandbox with an empty request log and no faults."""
    sandbox_session.reset()
    sandbox_session.set_faults(
        fail_routes=[], error_rate=0.0, latency_ms=0.0, latency_routes=[], component_health={}
    )
    return sandbox_session


@pytest.fixture
def standin(
    standin_session: StandinHandle, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> StandinHandle:
    """The stand-in back at its seed (default alert rules, no Monitor faults), token set."""
    standin_session.reset()
    monkeypatch.setenv(CLIENT_ENV, TOKEN)
    return standin_session


@pytest.fixture
def azure(standin: StandinHandle) -> AzureParams:
    return AzureParams(
        subscription_id=SUB,
        resource_group=RG,
        site=SITE,
        arm_endpoint=standin.url,
        ca_bundle=str(standin.ca_bundle),
        credential={"kind": "static-token", "token": {"env": CLIENT_ENV}},
        retry_total=0,
        timeout=5,
    )


@pytest.fixture
def params(standin: StandinHandle) -> MonitorParams:
    """A 5-minute window in 1-minute intervals; Logs at the stand-in; small-sample friendly."""
    return MonitorParams.model_validate(
        {
            "window": "PT5M",
            "interval": 1,
            "thresholds": {"min_requests_per_interval": 5},
            "logs": {
                "endpoint": standin.url,
                "workspace_id": WORKSPACE,
                "thresholds": {"min_requests_per_bin": 5},
            },
        }
    )
