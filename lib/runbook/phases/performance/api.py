"""The public face of phase performance (performance tests): everything its notebook
`runbooks/05_performance.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.orchestration.notebook import start
from runbook.phases.monitoring.database.figures import pool_figure
from runbook.phases.monitoring.database.pool_window import pool_stability_check
from runbook.phases.performance.figures import error_rate_figure, latency_figure
from runbook.phases.performance.target import database_check, memory_check, run_target_load
from runbook.phases.performance.verdicts import load_checks

__all__ = [
    "database_check",
    "error_rate_figure",
    "latency_figure",
    "load_checks",
    "memory_check",
    "pool_figure",
    "pool_stability_check",
    "run_target_load",
    "start",
]
