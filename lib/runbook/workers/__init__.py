"""Redis and Celery health (checklist "Monitoring and Alerting" §3 Redis Monitoring, §4 Celery
Monitoring; Deployment Steps §3.3/§3.4 Redis and Celery boxes), plus real local Redis and
Celery worker processes for tests and the local rehearsal (`runbook.workers.local`).

Exports load lazily: importing the parameters does not import redis-py or Celery.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "CeleryParams": "runbook.workers.params",
    "RedisParams": "runbook.workers.params",
    "ServiceUrl": "runbook.workers.params",
    "WorkersParams": "runbook.workers.params",
    "WorkerLogParams": "runbook.workers.params",
    "celery_checks": "runbook.workers.celery_health",
    "celery_log_check": "runbook.workers.celery_log",
    "redis_checks": "runbook.workers.redis_health",
    "start_redis": "runbook.workers.local",
    "start_rehearsal_workers": "runbook.workers.local",
    "start_worker": "runbook.workers.local",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
