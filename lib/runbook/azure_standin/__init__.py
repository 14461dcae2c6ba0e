"""A local HTTPS server speaking Azure Resource Manager REST for App Service (and, later, more).

The real Azure SDK clients talk to it over TLS with bearer auth, exactly as they would to
https://management.azure.com, so the runbook's Azure code runs unchanged in tests and rehearsals.
"""

from runbook.azure_standin.config import (
    DeploymentRecord,
    FaultKnobs,
    SiteSpec,
    SlotSpec,
    StandinConfig,
    ThrottleFault,
    load_standin_config,
)
from runbook.azure_standin.process import StandinHandle, StandinStartError, start_standin

__all__ = [
    "DeploymentRecord",
    "FaultKnobs",
    "SiteSpec",
    "SlotSpec",
    "StandinConfig",
    "StandinHandle",
    "StandinStartError",
    "ThrottleFault",
    "load_standin_config",
    "start_standin",
]
