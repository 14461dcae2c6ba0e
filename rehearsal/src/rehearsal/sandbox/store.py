"""In-memory state of one sandbox process: projects, datasets, crawl jobs, notifications, files."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """Current UTC time as an ISO-8601 string."""
    return datetime.now(UTC).isoformat()


@dataclass
class StoredFile:
    content: bytes
    content_type: str
    uploaded_at: str = field(default_factory=utc_now)

    def describe(self, name: str) -> dict[str, Any]:
        """JSON description of the file (never its content)."""
        return {
            "name": name,
            "size": len(self.content),
            "content_type": self.content_type,
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "uploaded_at": self.uploaded_at,
        }


@dataclass
class Store:
    """Everything the sandbox API keeps; one per process, emptied by POST /_sandbox/reset."""

    user_id: str
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    job_state_since: dict[int, float] = field(default_factory=dict)  # monotonic time of last move
    notifications: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    exports: dict[int, Any] = field(default_factory=dict)  # export id -> export.ExportJob
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        """A fresh id, unique across all kinds of records in this process."""
        return next(self._ids)

    def add_job(self, job: dict[str, Any]) -> None:
        """Store a new pending job; the worker picks it up."""
        self.jobs[job["id"]] = job
        self.job_state_since[job["id"]] = time.monotonic()

    def remove_job(self, job_id: int) -> None:
        """Forget a job (the worker stops moving it)."""
        self.jobs.pop(job_id, None)
        self.job_state_since.pop(job_id, None)

    def remove_dataset(self, dataset_id: int) -> None:
        """Forget a dataset and its jobs."""
        for job_id in [j for j, job in self.jobs.items() if job["dataset_id"] == dataset_id]:
            self.remove_job(job_id)
        self.datasets.pop(dataset_id, None)

    def notify(self, kind: str, title: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create an unread notification for the sandbox user."""
        note: dict[str, Any] = {
            "id": self.next_id(),
            "user_id": self.user_id,
            "type": kind,
            "title": title,
            "message": message,
            "data": data,
            "is_read": False,
            "created_at": utc_now(),
        }
        self.notifications[note["id"]] = note
        return note
