"""Shared fixtures: the repository root and a real sandbox on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def sandbox_token() -> str:
    return "sbx-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def live_sandbox(sandbox_token: str) -> Iterator[object]:
    """A real sandbox subprocess on a free port (stopped after the module)."""
    from rehearsal.sandbox.config import SandboxConfig
    from rehearsal.sandbox.server import start_sandbox

    with start_sandbox(
        SandboxConfig(port=0, seed=7, job_step_seconds=0.05),
        sandbox_token,
        token_env="PIXCRAWLER_SANDBOX_TOKEN",
    ) as handle:
        yield handle
