"""Integration checks (checklist "Deployment Steps §2.3 Integration Tests", and §2.2's
"Background jobs execute successfully", "Storage operations work", "Export functionality works").

One line per notebook cell, e.g. `ctx.check(integration.frontend_checks(p, target))`, or keep
an `IntegrationSession` open for several cells. Every check cleans up what it created.
"""

from __future__ import annotations

from runbook.core.checks import CheckResult
from runbook.core.target import TargetParams
from runbook.phases.verify.integration.params import (
    BOTH_SECTIONS,
    INTEGRATION_SECTION,
    SMOKE_22_SECTION,
    CacheParams,
    CorsParams,
    ExportParams,
    FileTransferParams,
    FrontendParams,
    IntegrationParams,
    JobProcessingParams,
    RateLimitParams,
    Step,
)
from runbook.phases.verify.integration.session import IntegrationSession


def frontend_checks(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """Frontend page answers; CORS preflights echo allowed origins and refuse foreign ones."""
    with IntegrationSession(params, target, phase) as session:
        return session.frontend()


def job_processing_check(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """A crawl job on fresh test data completes within the wait; then the data is removed."""
    with IntegrationSession(params, target, phase) as session:
        return session.job_processing()


def rate_limit_check(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """A bounded burst is answered 429 with Retry-After (run it last: it spends a quota)."""
    with IntegrationSession(params, target, phase) as session:
        return session.rate_limiting()


def file_transfer_checks(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """Random bytes upload, download back with the same sha256, and are deleted."""
    with IntegrationSession(params, target, phase) as session:
        return session.file_transfer()


def cache_check(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """The detailed health reports Redis healthy."""
    with IntegrationSession(params, target, phase) as session:
        return session.cache()


def export_check(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """A fresh dataset exports to a valid archive with the expected manifest; then removed."""
    with IntegrationSession(params, target, phase) as session:
        return session.export()


def run_all(
    params: IntegrationParams, target: TargetParams, phase: str = "verify"
) -> list[CheckResult]:
    """Every integration check, the rate-limit burst last."""
    with IntegrationSession(params, target, phase) as session:
        return session.run_all()


__all__ = [
    "BOTH_SECTIONS",
    "INTEGRATION_SECTION",
    "SMOKE_22_SECTION",
    "CacheParams",
    "CorsParams",
    "ExportParams",
    "FileTransferParams",
    "FrontendParams",
    "IntegrationParams",
    "IntegrationSession",
    "JobProcessingParams",
    "RateLimitParams",
    "Step",
    "cache_check",
    "export_check",
    "file_transfer_checks",
    "frontend_checks",
    "job_processing_check",
    "rate_limit_check",
    "run_all",
]
