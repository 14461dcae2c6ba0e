"""Real Azure Monitor SDK clients (metrics, alert rules, Logs) built from the parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.core.credentials import TokenCredential
from azure.mgmt.monitor import MonitorManagementClient
from azure.monitor.query import LogsQueryClient

from runbook.phases.monitoring.params import LogsParams, MonitorParams
from runbook.providers.azure.clients import build_credential, client_options
from runbook.providers.azure.params import AzureParams


def site_resource_id(azure: AzureParams) -> str:
    """The App Service's ARM id (/subscriptions/…/providers/Microsoft.Web/sites/{site})."""
    return (
        f"/subscriptions/{azure.subscription_id}/resourceGroups/{azure.resource_group}"
        f"/providers/Microsoft.Web/sites/{azure.site}"
    )


def monitor_client(
    azure: AzureParams, *, credential: TokenCredential | None = None
) -> MonitorManagementClient:
    """A real MonitorManagementClient for azure.arm_endpoint (same trust and retries as Web)."""
    cred = credential or build_credential(azure.credential, scope=azure.arm_scope)
    return MonitorManagementClient(
        cred, azure.subscription_id, base_url=azure.arm_endpoint, **client_options(azure)
    )


def logs_client(
    azure: AzureParams, logs: LogsParams, *, credential: TokenCredential | None = None
) -> LogsQueryClient:
    """A real LogsQueryClient for logs.endpoint; the token scope stays logs.audience/.default."""
    scope = logs.audience.rstrip("/") + "/.default"
    cred = credential or build_credential(azure.credential, scope=scope)
    options = client_options(azure)
    options.pop("credential_scopes", None)
    options.pop("polling_interval", None)
    return LogsQueryClient(cred, endpoint=logs.endpoint, audience=logs.audience, **options)


def window_bounds(params: MonitorParams, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) of the look-back window: it ends `ingestion_lag` before now (UTC)."""
    end = (now or datetime.now(UTC)).astimezone(UTC) - params.lag_delta
    if end.microsecond:  # whole seconds, rounded up so this very second's data is inside
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return end - params.window_delta, end
