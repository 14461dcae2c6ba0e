"""Helpers of the workers tests: real redis-server and Celery worker processes (the test app
`workers_celery_app` from this folder) and a Celery client to send tasks by name. A missing
redis-server fails loudly with what to install; it never skips."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery  # type: ignore[import-untyped]

from rehearsal.workers import (
    RedisHandle,
    RedisServerMissing,
    WorkerHandle,
    start_redis,
    start_worker,
)

HERE = Path(__file__).resolve().parent
TEST_APP = "workers_celery_app"


def redis_or_fail(workdir: Path, **options: object) -> RedisHandle:
    """start_redis, turning a missing binary into a failure that says what to install."""
    try:
        return start_redis(workdir, **options)  # type: ignore[arg-type]
    except RedisServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def worker_on(broker_url: str, workdir: Path, result_backend: str | None = None) -> WorkerHandle:
    """A real worker of the test app on `broker_url` (answers ping when returned)."""
    return start_worker(
        broker_url, workdir, app=TEST_APP, result_backend=result_backend, pythonpath=[HERE]
    )


def client_app(broker_url: str, backend_url: str | None = None) -> Celery:
    """A Celery client to send the test tasks by name (and wait on their results)."""
    app = Celery(
        "workers-tests-client", broker=broker_url, backend=backend_url, set_as_current=False
    )
    app.conf.update(broker_connection_retry_on_startup=False)
    return app
