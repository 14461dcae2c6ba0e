"""The one way deploy steps build their CheckResult (ids, sections and boxes from parameters)."""

from __future__ import annotations

import ssl
from typing import Any

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.deploy.params import DeployParams
from runbook.providers.azure.params import AzureParams


def deploy_result(
    params: DeployParams,
    key: str,
    title: str,
    status: Status,
    *,
    observed: Any = None,
    threshold: Any = None,
    explanation: str = "",
    evidence: dict[str, Any] | None = None,
    section: str | None = None,
    severity: Severity = Severity.BLOCKER,
) -> CheckResult:
    """A CheckResult with id '{id_prefix}.{key}' in the environment's deploy section."""
    return CheckResult(
        id=f"{params.id_prefix}.{key}",
        section=section or params.labels.section,
        title=title,
        severity=severity,
        status=status,
        observed=observed,
        threshold=threshold,
        explanation=explanation,
        evidence=evidence or {},
    )


def tls_verify(azure: AzureParams) -> ssl.SSLContext | bool:
    """What httpx verifies TLS with: the same CA bundle the Azure SDK clients trust."""
    return ssl.create_default_context(cafile=azure.ca_bundle) if azure.ca_bundle else True
