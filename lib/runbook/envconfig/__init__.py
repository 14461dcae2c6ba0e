"""Environment Configuration checks (checklist §1): validate the utility package's and the
backend's variables of an environment, and show drift between environments.

Pure functions over a `Mapping[str, str]` of variables (from a `.env` file, the process
environment, or App Settings read elsewhere); no Azure access here.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "BackendParams": "runbook.envconfig.params",
    "CHECKLIST_PRODUCTION_UTILITY": "runbook.envconfig.params",
    "DEFAULT_LEFTOVERS": "runbook.envconfig.params",
    "DriftParams": "runbook.envconfig.params",
    "DriftTable": "runbook.envconfig.drift",
    "EnvFileError": "runbook.envconfig.sources",
    "EnvironmentConfigParams": "runbook.envconfig.params",
    "FileSource": "runbook.envconfig.params",
    "ProcessEnvSource": "runbook.envconfig.params",
    "RedisUse": "runbook.envconfig.params",
    "SecretPolicy": "runbook.envconfig.params",
    "UtilityParams": "runbook.envconfig.params",
    "backend_checks": "runbook.envconfig.backend",
    "collect_variables": "runbook.envconfig.sources",
    "drift_check": "runbook.envconfig.drift",
    "drift_frame": "runbook.envconfig.drift",
    "drift_table": "runbook.envconfig.drift",
    "environment_drift": "runbook.envconfig.drift",
    "load_env_file": "runbook.envconfig.sources",
    "load_environments": "runbook.envconfig.sources",
    "load_variables": "runbook.envconfig.sources",
    "parse_utility": "runbook.envconfig.utility",
    "utility_checks": "runbook.envconfig.utility",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
