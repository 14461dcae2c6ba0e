"""Environment Configuration checks (checklist §1): validate the utility package's and the
backend's variables of an environment, and show drift between environments.

Pure functions over a `Mapping[str, str]` of variables (from a `.env` file, the process
environment, or App Settings read elsewhere); no Azure access here.
"""

from runbook.envconfig.backend import backend_checks
from runbook.envconfig.drift import DriftTable, drift_check, drift_frame, drift_table
from runbook.envconfig.params import (
    CHECKLIST_PRODUCTION_UTILITY,
    DEFAULT_LEFTOVERS,
    BackendParams,
    DriftParams,
    EnvironmentConfigParams,
    FileSource,
    ProcessEnvSource,
    SecretPolicy,
    UtilityParams,
)
from runbook.envconfig.sources import (
    EnvFileError,
    collect_variables,
    load_env_file,
    load_environments,
    load_variables,
)
from runbook.envconfig.utility import parse_utility, utility_checks

__all__ = [
    "CHECKLIST_PRODUCTION_UTILITY",
    "DEFAULT_LEFTOVERS",
    "BackendParams",
    "DriftParams",
    "DriftTable",
    "EnvFileError",
    "EnvironmentConfigParams",
    "FileSource",
    "ProcessEnvSource",
    "SecretPolicy",
    "UtilityParams",
    "backend_checks",
    "collect_variables",
    "drift_check",
    "drift_frame",
    "drift_table",
    "load_env_file",
    "load_environments",
    "load_variables",
    "parse_utility",
    "utility_checks",
]
