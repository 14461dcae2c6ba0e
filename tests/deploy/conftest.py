"""Real parts: two sandbox processes (production and staging slots) and one Azure stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_support import (
    ACCEPT_ENV,
    CLIENT_ENV,
    RG,
    SANDBOX_ENV,
    SANDBOX_TOKEN,
    SITE,
    SUB,
    TOKEN,
    release_builder,
    standin_config,
)

from rehearsal.azure_standin.process import StandinHandle, start_standin
from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.release import Release, put_release
from rehearsal.sandbox.server import SandboxHandle
from rehearsal.slots import attach_slot_sandboxes, start_slot_sandboxes
from runbook.providers.azure.params import AzureParams


@pytest.fixture(scope="session")
def slot_sandboxes() -> Iterator[dict[str, SandboxHandle]]:
    base = SandboxConfig(version="1.0.0", environment="test", job_step_seconds=0.05)
    handles = start_slot_sandboxes(base, SANDBOX_TOKEN, SANDBOX_ENV)
    yield handles
    for handle in handles.values():
        handle.stop()


@pytest.fixture(scope="session")
def standin_session(
    tmp_path_factory: pytest.TempPathFactory, slot_sandboxes: dict[str, SandboxHandle]
) -> Iterator[StandinHandle]:
    urls = {slot: h.url for slot, h in slot_sandboxes.items()}
    config = attach_slot_sandboxes(standin_config(), SITE, urls)
    workdir: Path = tmp_path_factory.mktemp("deploy-standin")
    with start_standin(config, workdir, env={ACCEPT_ENV: TOKEN}) as handle:
        yield handle


@pytest.fixture
def standin(
    standin_session: StandinHandle,
    slot_sandboxes: dict[str, SandboxHandle],
    monkeypatch: pytest.MonkeyPatch,
) -> StandinHandle:
    """Stand-in at its seed, both slot sandboxes back on release 1.0.0, the client token set."""
    standin_session.reset()
    for handle in slot_sandboxes.values():
        put_release(handle.url, Release(version="1.0.0"))
        handle.reset()
    monkeypatch.setenv(CLIENT_ENV, TOKEN)
    monkeypatch.setenv(SANDBOX_ENV, SANDBOX_TOKEN)  # smoke steps against the slots use it
    return standin_session


@pytest.fixture
def urls(slot_sandboxes: dict[str, SandboxHandle]) -> dict[str, str]:
    return {slot: h.url for slot, h in slot_sandboxes.items()}


@pytest.fixture
def azure(standin: StandinHandle) -> AzureParams:
    return AzureParams(
        subscription_id=SUB,
        resource_group=RG,
        site=SITE,
        slot="staging",
        arm_endpoint=standin.url,
        ca_bundle=str(standin.ca_bundle),
        credential={"kind": "static-token", "token": {"env": CLIENT_ENV}},
        retry_total=0,
        timeout=5,
        polling_interval=0.1,
    )


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample release zips, built at run time."""
    return release_builder().build_releases(tmp_path_factory.mktemp("releases"))
