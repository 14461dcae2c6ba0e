"""Helpers shared by the integration tests: sandbox configs, targets, parameters, listings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxHandle
from runbook.core.target import TargetParams
from runbook.phases.verify.integration import IntegrationParams

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN_ENV = "RUNBOOK_INTEGRATION_TEST_TOKEN"
ALLOWED = ["http://localhost:3000", "https://app.pixcrawler.test"]


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """Quick jobs and exports, two CORS origins, 40 requests per client per minute."""
    base: dict[str, Any] = {
        "port": 0,
        "seed": 11,
        "job_step_seconds": 0.05,
        "export_seconds": 0.05,
        "allowed_origins": ALLOWED,
        "rate_limit_per_minute": 40,
    }
    return SandboxConfig.model_validate(base | overrides)


def target_for(url: str, timeout_s: float = 5.0) -> TargetParams:
    """The target parameters for a sandbox (its token comes from TOKEN_ENV)."""
    return TargetParams(name="sandbox", base_url=url, token={"env": TOKEN_ENV}, timeout_s=timeout_s)


def local_params(**changes: Any) -> IntegrationParams:
    """The documented local fragment, made quick for tests, with per-test changes merged in."""
    data = yaml.safe_load((FIXTURES / "params_local.yaml").read_text())["integration"]
    data["cors"]["allowed_origins"] = ALLOWED
    data["jobs"] |= {"wait_s": 3, "interval_s": 0.05}
    data["export"] |= {"wait_s": 3, "interval_s": 0.05}
    data["rate_limit"] |= {"max_requests": 100, "max_seconds": 10}
    for key, value in changes.items():
        data[key] = data.get(key, {}) | value if isinstance(value, dict) else value
    return IntegrationParams.model_validate(data)


def api_listing(handle: SandboxHandle, token: str, path: str) -> list[dict[str, Any]]:
    """What the API lists at path (the way a person would check for leftovers)."""
    response = httpx.get(handle.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]
