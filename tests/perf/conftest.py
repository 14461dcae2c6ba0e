"""Fixtures: one real sandbox (slow route 20 ms) per module, faults cleared for every test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from perf_support import TOKEN_ENV

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxHandle, start_sandbox


@pytest.fixture(scope="module")
def perf_token() -> str:
    return "perf-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def perf_sandbox_process(perf_token: str) -> Iterator[SandboxHandle]:
    config = SandboxConfig(port=0, slow_route_ms=20, seed=11, rate_limit_per_minute=10_000_000)
    with start_sandbox(config, perf_token, token_env=TOKEN_ENV) as handle:
        yield handle


@pytest.fixture
def perf_sandbox(perf_sandbox_process: SandboxHandle) -> SandboxHandle:
    """The module's sandbox with its configured (absent) faults back in force."""
    perf_sandbox_process.reset()
    return perf_sandbox_process


@pytest.fixture
def auth_headers(perf_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {perf_token}"}
