"""The stand-in's seed for these tests: one site with a staging slot (plain values are fake)."""

from __future__ import annotations

import secrets

from rehearsal.azure_standin.config import DeploymentRecord, SiteSpec, SlotSpec, StandinConfig

SUB = "11111111-2222-3333-4444-555555555555"
RG = "pixcrawler-rg"
SITE = "pixcrawler-prod"
ACCEPT_ENV = "STANDIN_ACCEPTED_TOKEN"  # the stand-in's side
CLIENT_ENV = "RUNBOOK_TEST_ARM_TOKEN"  # the runbook's side
TOKEN = secrets.token_urlsafe(24)

PROD_SETTINGS = {
    "ENVIRONMENT": "production",
    "DEBUG": "false",
    "LOG_LEVEL": "INFO",
    "SUPABASE_SERVICE_ROLE_KEY": "prod-role-key-Q7x9",
    "REDIS_URL": "redis://:redispass-7Hk@cache.internal:6379/0",
    "WEBSITE_RUN_FROM_PACKAGE": "1",
}
STAGING_SETTINGS = {
    "ENVIRONMENT": "staging",
    "DEBUG": "false",
    "LOG_LEVEL": "DEBUG",
    "SUPABASE_SERVICE_ROLE_KEY": "prod-role-key-Q7x9",
    "REDIS_URL": "redis://:redispass-7Hk@cache.internal:6379/0",
    "PIXCRAWLER_UTILITY_COMPRESSION__QUALITY": "85",
}


def standin_config() -> StandinConfig:
    return StandinConfig(
        subscription_id=SUB,
        resource_group=RG,
        accept_token_env=ACCEPT_ENV,
        sites={
            SITE: SiteSpec(
                app_settings=dict(PROD_SETTINGS),
                deployed_version="v1.0.0",
                sticky_settings=["ENVIRONMENT"],
                site_config={"linuxFxVersion": "PYTHON|3.11", "alwaysOn": True},
                deployments=[DeploymentRecord(id="v1.0.0", message="release v1.0.0", active=True)],
                slots={
                    "staging": SlotSpec(
                        app_settings=dict(STAGING_SETTINGS),
                        deployed_version="v1.1.0",
                        site_config={"linuxFxVersion": "PYTHON|3.12", "alwaysOn": True},
                        deployments=[
                            DeploymentRecord(id="v1.1.0", message="release v1.1.0", active=True)
                        ],
                    )
                },
            )
        },
    )
