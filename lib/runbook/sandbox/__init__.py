"""A local, in-memory, PixCrawler-compatible API target with fault knobs, for rehearsals."""

from runbook.sandbox.config import DEFAULT_TOKEN_ENV, SandboxConfig, SandboxFaults
from runbook.sandbox.server import (
    SandboxError,
    SandboxHandle,
    get_faults,
    get_requests,
    reset_sandbox,
    set_faults,
    start_sandbox,
)
from runbook.sandbox.traffic import RequestRecord

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "RequestRecord",
    "SandboxConfig",
    "SandboxError",
    "SandboxFaults",
    "SandboxHandle",
    "get_faults",
    "get_requests",
    "reset_sandbox",
    "set_faults",
    "start_sandbox",
]
