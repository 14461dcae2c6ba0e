"""The tiny Celery app the workers tests run in a real worker subprocess
(`python -m celery -A workers_celery_app worker`, with this folder on PYTHONPATH)."""

from __future__ import annotations

import os
import time

from celery import Celery  # type: ignore[import-untyped]

from rehearsal.workers import BACKEND_ENV, BROKER_ENV

SUCCEED = "tests.workers.succeed"
EXPLODE = "tests.workers.explode"

app = Celery(
    "runbook-workers-tests",
    broker=os.environ.get(BROKER_ENV),
    backend=os.environ.get(BACKEND_ENV) or None,
    set_as_current=False,
)
app.conf.update(
    worker_send_task_events=True, result_extended=True, broker_connection_retry_on_startup=True
)


@app.task(name=SUCCEED)
def succeed(seconds: float) -> str:
    """Succeeds after sleeping `seconds`."""
    time.sleep(seconds)
    return "ok"


@app.task(name=EXPLODE)
def explode() -> None:
    """Fails with ValueError."""
    raise ValueError("deliberate failure")
