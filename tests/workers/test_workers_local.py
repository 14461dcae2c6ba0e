"""The local rehearsal helpers: real Redis server and worker processes, and no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from workers_support import client_app, redis_or_fail

from rehearsal.workers import (
    RedisServerMissing,
    start_redis,
    start_rehearsal_workers,
    start_worker,
)
from runbook.core.checks import Status
from runbook.phases.monitoring.workers.celery_health import celery_checks
from runbook.phases.monitoring.workers.params import WorkersParams
from runbook.phases.monitoring.workers.redis_health import redis_checks


def test_a_missing_explicit_binary_is_named(tmp_path: Path) -> None:
    with pytest.raises(RedisServerMissing, match="redis-server-not-installed"):
        start_redis(tmp_path, binary="redis-server-not-installed")


def test_builtin_sample_worker_runs_its_tasks_and_stops(tmp_path: Path) -> None:
    with redis_or_fail(tmp_path / "redis") as server:
        backend = server.url.rsplit("/", 1)[0] + "/1"
        with start_worker(server.url, tmp_path / "worker", result_backend=backend) as worker:
            client = client_app(server.url, backend)
            assert client.send_task("runbook.sample.add", args=[2, 3]).get(timeout=15) == 5
            with pytest.raises(RuntimeError, match="boom"):
                client.send_task("runbook.sample.fail", args=["boom"]).get(timeout=15)
            client.close()
            assert worker.process.poll() is None
        assert worker.process.poll() is not None
        assert redis.Redis.from_url(server.url).ping()
    assert server.process.poll() is not None


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux-only")
def test_redis_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; "
        "from rehearsal.workers import start_redis; "
        "h = start_redis(Path(sys.argv[1])); print(h.process.pid, flush=True); "
        "time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child, 0.2)  # running while its parent lives
        parent.send_signal(signal.SIGKILL)  # no atexit, no context manager: only the kernel
        parent.wait(5)
        assert _gone(child, 5.0), "redis-server outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)


def test_rehearsal_starts_redis_and_a_worker_behind_secret_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ("RUNBOOK_TEST_R_REDIS", "RUNBOOK_TEST_R_BROKER", "RUNBOOK_TEST_R_RESULTS")
    for name in names:
        monkeypatch.delenv(name, raising=False)  # restored (unset) after the test
    params = WorkersParams.model_validate(
        {
            "redis": {"url": {"secret": {"env": names[0]}}, "min_hit_rate": 0.0},
            "celery": {
                "broker": {"secret": {"env": names[1]}},
                "result_backend": {"secret": {"env": names[2]}},
                "timeout_s": 1.0,
            },
        }
    )
    with ExitStack() as stack:
        started = start_rehearsal_workers(params, stack, tmp_path, exercise_tasks=3)
        assert sorted(started.exported) == sorted(names) and started.tasks_run == 3
        password = urlsplit(os.environ[names[0]]).password
        assert password
        results = {r.id: r for r in redis_checks(params) + celery_checks(params)}
    assert started.redis.process.poll() is not None
    assert started.worker is not None and started.worker.process.poll() is not None
    assert results["redis.connection"].status is Status.PASS
    assert results["celery.active_workers"].status is Status.PASS
    assert results["celery.task_success_rate"].observed == 1.0
    assert results["celery.task_success_rate"].status is Status.PASS
    for result in results.values():
        assert password not in json.dumps(result.to_payload())
    inline = WorkersParams.model_validate({"redis": {"url": {"url": "redis://h:6379/0"}}})
    with ExitStack() as stack, pytest.raises(ValueError, match="secret references"):
        start_rehearsal_workers(inline, stack, tmp_path / "inline")
