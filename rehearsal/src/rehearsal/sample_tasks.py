"""A tiny Celery app for local rehearsals (`celery -A rehearsal.sample_tasks worker`):
broker and result backend come from the environment (`BROKER_ENV`, `BACKEND_ENV`), workers
send task events, results are extended (they record the task name)."""

from __future__ import annotations

import os
import time

from celery import Celery

from rehearsal.workers import BACKEND_ENV, BROKER_ENV

app = Celery(
    "runbook-sample",
    broker=os.environ.get(BROKER_ENV),
    backend=os.environ.get(BACKEND_ENV) or None,
    set_as_current=False,
)
app.conf.update(
    worker_send_task_events=True,
    task_send_sent_event=True,
    result_extended=True,
    broker_connection_retry_on_startup=True,
)


@app.task(name="runbook.sample.add")
def add(x: int, y: int) -> int:
    """Succeeds: x + y."""
    return x + y


@app.task(name="runbook.sample.sleep")
def sleep(seconds: float) -> float:
    """Succeeds after `seconds`."""
    time.sleep(seconds)
    return seconds


@app.task(name="runbook.sample.fail")
def fail(message: str) -> None:
    """Fails with RuntimeError(message)."""
    raise RuntimeError(message)
