"""Fixtures for the Environment Configuration checks: the sample variable files (real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.phases.environment.envconfig.sources import load_env_file

SAMPLES = (
    Path(__file__).resolve().parents[2] / "rehearsal" / "src" / "rehearsal" / "envconfig_samples"
)


@pytest.fixture
def production_vars() -> dict[str, str]:
    return load_env_file(SAMPLES / "production.env")


@pytest.fixture
def staging_vars() -> dict[str, str]:
    return load_env_file(SAMPLES / "staging.env")


@pytest.fixture
def development_vars() -> dict[str, str]:
    return load_env_file(SAMPLES / "development.env")


@pytest.fixture
def invalid_vars() -> dict[str, str]:
    return load_env_file(SAMPLES / "production-invalid.env")


@pytest.fixture
def repo_root_dir() -> Path:
    return SAMPLES.parents[3]
