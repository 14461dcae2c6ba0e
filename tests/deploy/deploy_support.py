"""Constants and builders shared by the deploy tests (token values are random, not secrets)."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from rehearsal.azure_standin.config import DeploymentRecord, SiteSpec, SlotSpec, StandinConfig
from runbook.phases.deploy.params import DeployParams

ROOT = Path(__file__).resolve().parents[2]
SUB = "99999999-8888-7777-6666-555555555555"
RG = "pixcrawler-rg"
SITE = "pixcrawler-prod"
ACCEPT_ENV = "DEPLOY_TEST_STANDIN_TOKEN"  # the stand-in's side
CLIENT_ENV = "DEPLOY_TEST_ARM_TOKEN"  # the runbook's side
SANDBOX_ENV = "DEPLOY_TEST_SANDBOX_TOKEN"
TOKEN = secrets.token_urlsafe(24)
SANDBOX_TOKEN = secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
HEALTH = "/api/v1/health/"


def standin_config() -> StandinConfig:
    """One site with a staging slot; both run release 1.0.0."""
    return StandinConfig(
        subscription_id=SUB,
        resource_group=RG,
        accept_token_env=ACCEPT_ENV,
        sites={
            SITE: SiteSpec(
                deployed_version="1.0.0",
                sticky_settings=["ENVIRONMENT"],
                app_settings={"ENVIRONMENT": "production"},
                deployments=[DeploymentRecord(id="dep-prod-100", message="1.0.0", active=True)],
                slots={
                    "staging": SlotSpec(
                        deployed_version="1.0.0",
                        app_settings={"ENVIRONMENT": "staging"},
                        deployments=[
                            DeploymentRecord(id="dep-stg-100", message="1.0.0", active=True)
                        ],
                    )
                },
            )
        },
    )


def release_builder() -> ModuleType:
    """The rehearsal's samples/releases/build_releases.py, imported from its path (samples is
    not a package)."""
    path = ROOT / "rehearsal" / "src" / "rehearsal" / "samples" / "releases" / "build_releases.py"
    spec = importlib.util.spec_from_file_location("build_releases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deploy_params(
    urls: dict[str, str], package: Path, standin_url: str, **over: Any
) -> DeployParams:
    """Production-like parameters (deploy to staging, swap) with rehearsal-fast timings."""
    data: dict[str, Any] = {
        "method": "zip",
        "package": {"path": str(package), "build_id": "ci-4711"},
        "target_slot": "staging",
        "swap_to_production": True,
        "app_urls": urls,
        "kudu": {"scm_url": standin_url + "/{scm_host}", "poll_interval": 0.1, "timeout": 10},
        "health": {"timeout": 5, "interval": 0.05, "request_timeout": 2},
        "probe": {"interval": 0.03, "min_requests": 10, "request_timeout": 2},
        "swap_polling_interval": 0.1,
        "labels": {
            "section": "Deployment Steps §3.2 Deploy to Production",
            "deployed": "Code deployed successfully",
            "healthy": "Health check passes immediately",
        },
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return DeployParams.model_validate(data)


def version_of(url: str) -> str:
    """The version a sandbox's /api/v1/health/ reports."""
    return httpx.get(url + HEALTH, timeout=5).json()["version"]
