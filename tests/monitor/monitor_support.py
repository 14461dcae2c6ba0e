"""Constants and helpers of the monitor tests (token values are random, not secrets)."""

from __future__ import annotations

import secrets
import ssl
from typing import Any

import httpx

from rehearsal.azure_standin.config import SiteSpec, StandinConfig

SUB = "11111111-2222-3333-4444-555555555555"
RG = "pixcrawler-rg"
SITE = "pixcrawler-prod"
WORKSPACE = "00000000-aaaa-bbbb-cccc-000000000001"
ACCEPT_ENV = "MONITOR_TEST_STANDIN_TOKEN"  # the stand-in's side
CLIENT_ENV = "MONITOR_TEST_ARM_TOKEN"  # the runbook's side
SANDBOX_ENV = "MONITOR_TEST_SANDBOX_TOKEN"
TOKEN = secrets.token_urlsafe(24)
SANDBOX_TOKEN = secrets.token_urlsafe(24)
HEALTH = "/api/v1/health/"
FAILING = "/api/v1/notifications/"


def standin_config(sandbox_url: str) -> StandinConfig:
    """One site whose production slot is played by the sandbox at `sandbox_url`."""
    return StandinConfig(
        subscription_id=SUB,
        resource_group=RG,
        accept_token_env=ACCEPT_ENV,
        sites={
            SITE: SiteSpec(
                deployed_version="1.0.0",
                site_config={"healthCheckPath": HEALTH},
                sandbox_url=sandbox_url,
            )
        },
    )


def traffic(url: str, *, ok: int, failing: int = 0, health: int = 0) -> None:
    """Send `ok` GET /health, `failing` GET FAILING and `health` GET HEALTH to the sandbox."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(ok):
            client.get("/health")
        for _ in range(failing):
            client.get(FAILING)
        for _ in range(health):
            client.get(HEALTH)


def admin(standin_url: str, ca_bundle: str, method: str, path: str, body: Any = None) -> Any:
    """Call the stand-in's Monitor admin routes (/_standin/monitor...)."""
    trust = ssl.create_default_context(cafile=ca_bundle)
    with httpx.Client(base_url=standin_url, verify=trust, timeout=10) as client:
        response = client.request(method, "/_standin/monitor" + path, json=body)
        response.raise_for_status()
        return response.json()
