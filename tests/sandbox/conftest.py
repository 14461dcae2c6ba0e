"""Fixtures: real sandbox subprocesses on ephemeral ports, talked to over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_support import SEED, TOKEN, VERSION

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxHandle, start_sandbox


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxHandle]:
    """One sandbox for the tests that need no start-time knobs."""
    config = SandboxConfig(
        port=0, version=VERSION, environment="test", seed=SEED, job_step_seconds=0.05
    )
    with start_sandbox(config, TOKEN) as handle:
        yield handle


@pytest.fixture
def sandbox(shared_sandbox: SandboxHandle) -> SandboxHandle:
    """The shared sandbox, emptied, with its configured (absent) faults back in force."""
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    """An HTTP client on the shared sandbox (no token unless a test adds one)."""
    with httpx.Client(base_url=sandbox.url, timeout=10) as c:
        yield c
