"""Redis and Celery health (checklist "Monitoring and Alerting" §3 Redis Monitoring, §4 Celery
Monitoring; Deployment Steps §3.3/§3.4 Redis and Celery boxes), plus real local Redis and
Celery worker processes for tests and the local rehearsal (`rehearsal.workers`).

Exports load lazily: importing the parameters does not import redis-py or Celery.
"""
