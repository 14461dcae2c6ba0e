"""Real Azure SDK clients built from parameters (endpoint, CA bundle, credential, retries)."""

from __future__ import annotations

import os
import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.mgmt.web import WebSiteManagementClient

from runbook.providers.azure.params import AzureParams, CredentialParams


class StaticTokenCredential:
    """A TokenCredential whose bearer token is read, at each call, from an environment variable.

    It serves only the scopes it is told (a real token is audience-bound), so a client that
    asks for any other scope fails the way a mis-scoped production token would.
    """

    def __init__(self, token_env: str, *, scopes: tuple[str, ...], lifetime: int = 3600) -> None:
        self.token_env = token_env
        self.scopes = scopes
        self.lifetime = lifetime

    def __repr__(self) -> str:  # never the token, only where it comes from
        return f"StaticTokenCredential(token_env={self.token_env!r}, scopes={self.scopes!r})"

    def _token(self, scopes: tuple[str, ...]) -> str:
        unknown = [s for s in scopes if s not in self.scopes]
        if unknown:
            raise ClientAuthenticationError(
                message=f"static token from {self.token_env} is not valid for scope(s) {unknown}"
            )
        token = os.environ.get(self.token_env, "")
        if not token:
            raise ClientAuthenticationError(
                message=f"environment variable {self.token_env} (bearer token) is not set"
            )
        return token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token(scopes), int(time.time()) + self.lifetime)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token(scopes), int(time.time()) + self.lifetime)


def build_credential(params: CredentialParams, *, scope: str) -> TokenCredential:
    """DefaultAzureCredential for real runs; StaticTokenCredential(token_env) for tests/sandbox."""
    if params.kind == "static-token":
        assert params.token is not None  # the model guarantees it
        return StaticTokenCredential(params.token.env, scopes=(scope,))
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {}
    if params.managed_identity_client_id:
        kwargs["managed_identity_client_id"] = params.managed_identity_client_id
    return DefaultAzureCredential(**kwargs)


def client_options(params: AzureParams) -> dict[str, Any]:
    """The azure-core keyword options every client gets: TLS trust, timeouts, bounded retries."""
    options: dict[str, Any] = {
        "credential_scopes": [params.arm_scope],
        "retry_total": params.retry_total,
        "retry_backoff_factor": params.retry_backoff_factor,
        "connection_timeout": params.timeout,
        "read_timeout": params.timeout,
        "polling_interval": params.polling_interval,
    }
    if params.ca_bundle:
        options["connection_verify"] = params.ca_bundle
    return options


def web_client(
    params: AzureParams, *, credential: TokenCredential | None = None
) -> WebSiteManagementClient:
    """A real WebSiteManagementClient for params.arm_endpoint (credential from params if None)."""
    cred = credential or build_credential(params.credential, scope=params.arm_scope)
    return WebSiteManagementClient(
        cred, params.subscription_id, base_url=params.arm_endpoint, **client_options(params)
    )
