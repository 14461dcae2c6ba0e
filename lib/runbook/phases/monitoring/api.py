"""The public face of phase monitoring (Monitoring and Alerting): everything its notebook
`runbooks/06_monitor.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.core.secret_refs import resolved_values
from runbook.orchestration.notebook import start
from runbook.phases.monitoring import schedule
from runbook.phases.monitoring.alerts import alert_rule_checks
from runbook.phases.monitoring.applogs import app_log_check
from runbook.phases.monitoring.database.azure_metrics import azure_database_checks
from runbook.phases.monitoring.database.checks import database_checks
from runbook.phases.monitoring.logs import log_checks
from runbook.phases.monitoring.metrics import metric_checks
from runbook.phases.monitoring.workers.celery_health import celery_checks
from runbook.phases.monitoring.workers.celery_log import celery_log_check
from runbook.phases.monitoring.workers.params import WorkersParams
from runbook.phases.monitoring.workers.redis_health import redis_checks

__all__ = [
    "WorkersParams",
    "alert_rule_checks",
    "app_log_check",
    "azure_database_checks",
    "celery_checks",
    "celery_log_check",
    "database_checks",
    "log_checks",
    "metric_checks",
    "redis_checks",
    "resolved_values",
    "schedule",
    "start",
]
