"""One real stand-in subprocess (TLS, bearer check) per test session; reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure_standin_seed import ACCEPT_ENV, CLIENT_ENV, RG, SITE, SUB, TOKEN, standin_config

from rehearsal.azure_standin.process import StandinHandle, start_standin
from runbook.providers.azure.params import AzureParams


@pytest.fixture(scope="session")
def standin_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinHandle]:
    workdir: Path = tmp_path_factory.mktemp("azure-standin")
    with start_standin(standin_config(), workdir, env={ACCEPT_ENV: TOKEN}) as handle:
        yield handle


@pytest.fixture
def standin(standin_session: StandinHandle, monkeypatch: pytest.MonkeyPatch) -> StandinHandle:
    """The running stand-in back at its seed, and the client token in this process's env."""
    standin_session.reset()
    monkeypatch.setenv(CLIENT_ENV, TOKEN)
    return standin_session


@pytest.fixture
def arm_params(standin: StandinHandle) -> AzureParams:
    """Parameters reaching the stand-in the way production reaches ARM: https + bearer token."""
    return AzureParams(
        subscription_id=SUB,
        resource_group=RG,
        site=SITE,
        slot="staging",
        arm_endpoint=standin.url,
        ca_bundle=str(standin.ca_bundle),
        credential={"kind": "static-token", "token": {"env": CLIENT_ENV}},
        retry_total=2,
        timeout=5,
        polling_interval=0.05,
    )
