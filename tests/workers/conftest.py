"""Real processes for the workers tests: redis-server on a free 127.0.0.1 port (no
persistence, files in a tmp dir, stopped after) and a Celery worker subprocess running
`workers_celery_app` on it, waited for with ping. A missing redis-server fails loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from workers_support import redis_or_fail, worker_on

from rehearsal.workers import RedisHandle, WorkerHandle


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisHandle]:
    """A fresh redis-server for one test."""
    with redis_or_fail(tmp_path / "redis") as handle:
        yield handle


@pytest.fixture(scope="module")
def broker_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisHandle]:
    """The module's redis-server: broker on db 0, result backend on db 1."""
    with redis_or_fail(tmp_path_factory.mktemp("broker")) as handle:
        yield handle


@pytest.fixture(scope="module")
def backend_url(broker_redis: RedisHandle) -> str:
    return broker_redis.url.rsplit("/", 1)[0] + "/1"


@pytest.fixture(scope="module")
def celery_worker(
    broker_redis: RedisHandle, backend_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerHandle]:
    """One real worker on the module's broker, storing results in the Redis backend."""
    with worker_on(broker_redis.url, tmp_path_factory.mktemp("worker"), backend_url) as handle:
        yield handle
