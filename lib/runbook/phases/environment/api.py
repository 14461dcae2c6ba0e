"""The public face of phase environment (Environment Configuration): everything its notebook
`runbooks/02_environment.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.orchestration.notebook import start
from runbook.phases.environment.app_settings import check_app_settings
from runbook.phases.environment.envconfig.backend import backend_checks
from runbook.phases.environment.envconfig.drift import environment_drift
from runbook.phases.environment.envconfig.sources import collect_variables
from runbook.phases.environment.envconfig.utility import utility_checks
from runbook.phases.pre_deployment.gates.migrations import migration_check

__all__ = [
    "backend_checks",
    "check_app_settings",
    "collect_variables",
    "environment_drift",
    "migration_check",
    "start",
    "utility_checks",
]
