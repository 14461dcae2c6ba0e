"""The background worker standing in for Celery: moves jobs pending -> running -> completed
(or failed, under the jobs_fail fault), and tells its telemetry what it did: a trace per
step, an exception per failure, and the custom metrics crawl_jobs_started,
crawl_jobs_completed, crawl_jobs_failed, images_downloaded and notifications_sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from rehearsal.sandbox.store import Store, utc_now
from rehearsal.sandbox.telemetry import ERROR, TelemetryLog

TASK = "pixcrawler.crawl_job"  # the task name its traces carry


@dataclass
class WorkerTelemetry:
    """Where the worker reports, under which cloud role."""

    log: TelemetryLog
    role: str

    def started(self, job_id: int) -> None:
        self.log.trace(self.role, f"Task {TASK}[{job_id}] received and started", operation=TASK)
        self.log.metric(self.role, "crawl_jobs_started")

    def completed(self, job_id: int, images: int, seconds: float) -> None:
        self.log.trace(
            self.role, f"Task {TASK}[{job_id}] succeeded in {seconds:.3f}s", operation=TASK
        )
        self.log.metric(self.role, "crawl_jobs_completed")
        self.log.metric(self.role, "images_downloaded", float(images))

    def failed(self, job_id: int, error: str) -> None:
        self.log.trace(
            self.role,
            f"Task {TASK}[{job_id}] raised unexpected: CrawlError({error!r})",
            severity=ERROR,
            operation=TASK,
        )
        self.log.exception(self.role, "CrawlError", error, operation=TASK)
        self.log.metric(self.role, "crawl_jobs_failed")

    def notified(self) -> None:
        self.log.metric(self.role, "notifications_sent")


def advance_jobs(
    store: Store,
    step_seconds: float,
    now: float | None = None,
    notify: bool = True,
    telemetry: WorkerTelemetry | None = None,
    fail: bool = False,
) -> int:
    """Move each job that spent step_seconds in its state one state on; return how many moved.
    A job that completes notifies its owner (as the backend does), unless `notify` is off; with
    `fail` a running job fails instead (and notifies that). Each step is told to `telemetry`."""
    now = time.monotonic() if now is None else now
    moved = 0
    for job_id, job in list(store.jobs.items()):
        if job["status"] not in ("pending", "running"):
            continue
        since = store.job_state_since.get(job_id, now)
        if now - since < step_seconds:
            continue
        stamp = utc_now()
        if job["status"] == "pending":
            job.update(status="running", progress=50, started_at=stamp, updated_at=stamp)
            if telemetry:
                telemetry.started(job_id)
        elif fail:
            error = f"crawl of {job['name']!r} failed (sandbox fault: jobs_fail)"
            job.update(status="failed", error_message=error, completed_at=stamp, updated_at=stamp)
            if telemetry:
                telemetry.failed(job_id, error)
            if notify:
                store.notify(
                    "job_failed",
                    "Crawl job failed",
                    error,
                    {"job_id": job_id, "dataset_id": job["dataset_id"]},
                )
                if telemetry:
                    telemetry.notified()
        else:
            wanted = job["max_images"]
            job.update(
                status="completed",
                progress=100,
                total_images=wanted,
                downloaded_images=wanted,
                valid_images=wanted,
                completed_at=stamp,
                updated_at=stamp,
            )
            if telemetry:
                telemetry.completed(job_id, wanted, now - since)
            if notify:
                store.notify(
                    "job_completed",
                    "Crawl job completed",
                    f"Crawl job {job['name']!r} completed with {wanted} images.",
                    {"job_id": job_id, "dataset_id": job["dataset_id"]},
                )
                if telemetry:
                    telemetry.notified()
        store.job_state_since[job_id] = now
        moved += 1
    return moved


async def run_worker(
    get_store: Callable[[], Store],
    step_seconds: float,
    stalled: Callable[[], bool],
    notifications_lost: Callable[[], bool] = lambda: False,
    telemetry: WorkerTelemetry | None = None,
    failing: Callable[[], bool] = lambda: False,
) -> None:
    """Advance jobs forever (until cancelled), unless the worker_stalled fault is on; completed
    jobs notify unless the notifications_lost fault is on; jobs fail while `failing()`."""
    if telemetry:
        telemetry.log.trace(telemetry.role, "worker ready (sandbox stand-in for Celery)")
    tick = min(max(step_seconds / 4, 0.01), 0.25)
    while True:
        if not stalled():
            advance_jobs(
                get_store(),
                step_seconds,
                notify=not notifications_lost(),
                telemetry=telemetry,
                fail=failing(),
            )
        await asyncio.sleep(tick)
