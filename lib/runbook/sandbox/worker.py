"""The background worker standing in for Celery: moves jobs pending -> running -> completed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from runbook.sandbox.store import Store, utc_now


def advance_jobs(store: Store, step_seconds: float, now: float | None = None,
                 notify: bool = True) -> int:
    """Move each job that spent step_seconds in its state one state on; return how many moved.
    A job that completes notifies its owner (as the backend does), unless `notify` is off."""
    now = time.monotonic() if now is None else now
    moved = 0
    for job_id, job in list(store.jobs.items()):
        if job["status"] not in ("pending", "running"):
            continue
        if now - store.job_state_since.get(job_id, now) < step_seconds:
            continue
        stamp = utc_now()
        if job["status"] == "pending":
            job.update(status="running", progress=50, started_at=stamp, updated_at=stamp)
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
            if notify:
                store.notify(
                    "job_completed",
                    "Crawl job completed",
                    f"Crawl job {job['name']!r} completed with {wanted} images.",
                    {"job_id": job_id, "dataset_id": job["dataset_id"]},
                )
        store.job_state_since[job_id] = now
        moved += 1
    return moved


async def run_worker(
    get_store: Callable[[], Store], step_seconds: float, stalled: Callable[[], bool],
    notifications_lost: Callable[[], bool] = lambda: False,
) -> None:
    """Advance jobs forever (until cancelled), unless the worker_stalled fault is on; completed
    jobs notify unless the notifications_lost fault is on."""
    tick = min(max(step_seconds / 4, 0.01), 0.25)
    while True:
        if not stalled():
            advance_jobs(get_store(), step_seconds, notify=not notifications_lost())
        await asyncio.sleep(tick)
