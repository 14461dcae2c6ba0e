"""A local HTTPS server speaking Azure Resource Manager REST for App Service (and, later, more).

The real Azure SDK clients talk to it over TLS with bearer auth, exactly as they would to
https://management.azure.com, so the runbook's Azure code runs unchanged in tests and rehearsals.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "DeploymentRecord": "runbook.azure_standin.config",
    "FaultKnobs": "runbook.azure_standin.config",
    "SiteSpec": "runbook.azure_standin.config",
    "SlotSpec": "runbook.azure_standin.config",
    "StandinConfig": "runbook.azure_standin.config",
    "StandinHandle": "runbook.azure_standin.process",
    "StandinStartError": "runbook.azure_standin.process",
    "ThrottleFault": "runbook.azure_standin.config",
    "load_standin_config": "runbook.azure_standin.config",
    "start_standin": "runbook.azure_standin.process",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
