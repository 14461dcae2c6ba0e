"""Fixtures: real sandbox subprocesses on ephemeral ports and integration parameters for them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from integration_support import TOKEN_ENV, local_params, sandbox_config, target_for

from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.core.target import TargetParams
from runbook.phases.verify.integration import IntegrationParams


@pytest.fixture(scope="session")
def token() -> Iterator[str]:
    """A fresh API token, exported under TOKEN_ENV for the checks to resolve."""
    value = "itest-" + secrets.token_urlsafe(16)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN_ENV, value)
        yield value


@pytest.fixture(scope="session")
def strict_sandbox(token: str) -> Iterator[SandboxHandle]:
    """Correctly configured: two CORS origins, 40 requests per client per minute."""
    with start_sandbox(sandbox_config(), token, token_env=TOKEN_ENV) as handle:
        yield handle


@pytest.fixture(scope="session")
def loose_sandbox(token: str) -> Iterator[SandboxHandle]:
    """Misconfigured: any CORS origin, a rate limit no burst of the tests reaches."""
    config = sandbox_config(allowed_origins=["*"], rate_limit_per_minute=100_000)
    with start_sandbox(config, token, token_env=TOKEN_ENV) as handle:
        yield handle


@pytest.fixture
def sandbox(strict_sandbox: SandboxHandle) -> SandboxHandle:
    """The strict sandbox, emptied, faults off, rate windows restarted."""
    strict_sandbox.reset()
    return strict_sandbox


@pytest.fixture
def target(sandbox: SandboxHandle) -> TargetParams:
    return target_for(sandbox.url)


@pytest.fixture
def params() -> IntegrationParams:
    return local_params()
