"""A local, in-memory, PixCrawler-compatible API target with fault knobs, for rehearsals.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "DEFAULT_TOKEN_ENV": "runbook.sandbox.config",
    "RequestRecord": "runbook.sandbox.traffic",
    "SandboxConfig": "runbook.sandbox.config",
    "SandboxError": "runbook.sandbox.server",
    "SandboxFaults": "runbook.sandbox.config",
    "SandboxHandle": "runbook.sandbox.server",
    "get_faults": "runbook.sandbox.server",
    "get_requests": "runbook.sandbox.server",
    "reset_sandbox": "runbook.sandbox.server",
    "set_faults": "runbook.sandbox.server",
    "start_sandbox": "runbook.sandbox.server",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
