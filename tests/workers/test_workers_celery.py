"""Celery checks through a real Redis broker and real worker subprocesses."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from workers_celery_app import EXPLODE, SUCCEED
from workers_support import client_app, redis_or_fail, worker_on

from rehearsal.workers import RedisHandle, WorkerHandle, free_port
from runbook.core.checks import CheckResult, Status
from runbook.phases.monitoring.workers.celery_health import celery_checks
from runbook.phases.monitoring.workers.params import CeleryParams, WorkersParams


def run(broker: dict[str, Any], **options: Any) -> dict[str, CheckResult]:
    params = WorkersParams(
        celery=CeleryParams.model_validate(
            {"broker": broker, "timeout_s": 1.0, "connect_timeout_s": 2.0, **options}
        )
    )
    return {r.id: r for r in celery_checks(params)}


def test_one_worker_answers_ping(broker_redis: RedisHandle, celery_worker: WorkerHandle) -> None:
    results = run({"url": broker_redis.url}, expected_workers=["runbook-"])
    workers = results["celery.active_workers"]
    assert workers.status is Status.PASS and workers.observed == 1
    seen = workers.evidence["workers"][celery_worker.hostname]
    assert seen["ping"] == "pong"
    assert seen["pool"]["implementation"].endswith("solo:TaskPool")
    assert results["celery.worker_failures"].status is Status.PASS
    assert results["celery.queue_length"].status is Status.PASS
    assert results["celery.queue_length"].observed == {"celery": 0}
    assert workers.section.startswith("Monitoring and Alerting §4 Celery Monitoring — ")
    # no result backend and no event window: rates cannot be known from the broker alone
    for check in (
        "celery.task_success_rate",
        "celery.task_failure_rate",
        "celery.average_task_duration",
    ):
        assert results[check].status is Status.INCONCLUSIVE
    missing = run({"url": broker_redis.url}, expected_workers=["nightly-worker@"])
    assert missing["celery.active_workers"].status is Status.FAIL
    assert missing["celery.worker_failures"].status is Status.FAIL
    assert "nightly-worker@" in missing["celery.worker_failures"].explanation


def test_task_outcomes_and_durations_are_seen(
    broker_redis: RedisHandle, backend_url: str, celery_worker: WorkerHandle
) -> None:
    client = client_app(broker_redis.url, backend_url)
    listened: dict[str, CheckResult] = {}

    def listen() -> None:  # events only: no result backend in these parameters
        listened.update(run({"url": broker_redis.url}, events_window_s=4.0))

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(1.0)  # the check subscribes to events first (within ~0.1 s), then pings
    sent = [
        client.send_task(SUCCEED, args=[0.3]),
        client.send_task(SUCCEED, args=[0.3]),
        client.send_task(EXPLODE),
    ]
    assert sent[0].get(timeout=15) == "ok" and sent[1].get(timeout=15) == "ok"
    with pytest.raises(ValueError, match="deliberate failure"):
        sent[2].get(timeout=15)
    thread.join(20)
    assert not thread.is_alive()
    client.close()

    duration = listened["celery.average_task_duration"]
    assert duration.status is Status.PASS, duration.explanation
    per_task = duration.evidence["outcomes"]["durations"]
    assert per_task[SUCCEED]["count"] == 2 and per_task[SUCCEED]["mean_s"] >= 0.3
    assert listened["celery.task_failure_rate"].evidence["outcomes"]["source"] == "task events"
    assert listened["celery.task_failure_rate"].observed == round(1 / 3, 4)

    stored = run({"url": broker_redis.url}, result_backend={"url": backend_url})
    success, failure = stored["celery.task_success_rate"], stored["celery.task_failure_rate"]
    outcomes = success.evidence["outcomes"]
    assert outcomes["source"] == "redis result backend"
    assert outcomes["succeeded"] == 2 and outcomes["failed"] == 1
    assert outcomes["failure_types"] == {"ValueError": 1}
    assert outcomes["by_task"] == {SUCCEED: {"SUCCESS": 2}, EXPLODE: {"FAILURE": 1}}
    assert success.observed == round(2 / 3, 4) and success.status is Status.FAIL
    assert failure.observed == round(1 / 3, 4) and failure.status is Status.FAIL
    # the result backend holds no start times: durations need events
    assert stored["celery.average_task_duration"].status is Status.INCONCLUSIVE
    # a ValueError is the task's failure, not the worker's
    assert stored["celery.worker_failures"].status is Status.PASS
    lenient = run(
        {"url": broker_redis.url},
        result_backend={"url": backend_url},
        min_success_rate=0.5,
        failure_rate_warn=0.3,
        failure_rate_max=0.5,
    )
    assert lenient["celery.task_success_rate"].status is Status.PASS
    assert lenient["celery.task_failure_rate"].status is Status.WARN
    old = run({"url": broker_redis.url}, result_backend={"url": backend_url}, window_s=0.001)
    assert old["celery.task_success_rate"].status is Status.INCONCLUSIVE


def test_queue_grows_and_no_worker_fails_with_a_password_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pw-" + secrets.token_urlsafe(16)
    with redis_or_fail(tmp_path / "redis", password=password) as server:
        monkeypatch.setenv("RUNBOOK_TEST_BROKER_URL", server.url)
        broker = {"secret": {"env": "RUNBOOK_TEST_BROKER_URL"}}
        with worker_on(server.url, tmp_path / "worker") as worker:
            up = run(broker)
        assert worker.process.poll() is not None  # stopped, not orphaned
        client = client_app(server.url)
        for _ in range(5):
            client.send_task(SUCCEED, args=[0])
        client.close()
        down = run(broker, queue_length_warn=2, max_queue_length=4)
        warn_only = run(broker, queue_length_warn=2, max_queue_length=10)
    assert up["celery.active_workers"].status is Status.PASS
    assert up["celery.queue_length"].observed == {"celery": 0}
    assert down["celery.queue_length"].observed == {"celery": 5}
    assert down["celery.queue_length"].status is Status.FAIL
    assert warn_only["celery.queue_length"].status is Status.WARN
    assert down["celery.active_workers"].status is Status.FAIL
    assert down["celery.active_workers"].observed == 0
    failures = down["celery.worker_failures"]
    assert failures.status is Status.FAIL and "no worker answered ping" in failures.explanation
    assert up["celery.active_workers"].evidence["broker"]["source"] == "$RUNBOOK_TEST_BROKER_URL"
    for result in [*up.values(), *down.values()]:
        text = json.dumps(result.to_payload()) + result.to_html() + result.summary_line()
        assert password not in text


def test_unreachable_broker_is_error() -> None:
    results = run(
        {"url": f"redis://127.0.0.1:{free_port()}/0"},
        result_backend={"url": f"redis://127.0.0.1:{free_port()}/1"},
        events_window_s=1.0,
    )
    assert {r.status for r in results.values()} == {Status.ERROR}
    assert "broker unreachable" in results["celery.worker_failures"].explanation


def test_unreadable_result_backend_is_error(
    broker_redis: RedisHandle, celery_worker: WorkerHandle
) -> None:
    results = run(
        {"url": broker_redis.url}, result_backend={"url": f"redis://127.0.0.1:{free_port()}/1"}
    )
    assert results["celery.active_workers"].status is Status.PASS
    assert results["celery.task_success_rate"].status is Status.ERROR
    assert "result backend" in results["celery.task_success_rate"].explanation


def test_no_broker_configured_skips_saying_why() -> None:
    results = celery_checks(WorkersParams(redis=None, celery=None))
    assert len(results) == 6 and {r.status for r in results} == {Status.SKIP}
    assert all("no Celery broker configured" in r.explanation for r in results)
