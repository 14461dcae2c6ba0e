"""Two versions of a small FastAPI jobs API, to diff schemas exactly as FastAPI emits them.

No `from __future__ import annotations` here: FastAPI resolves endpoint annotations in the
module's globals, which locally defined models are not part of.
"""

from enum import Enum
from typing import Any

from fastapi import FastAPI, Query
from pydantic import BaseModel


def jobs_api_schema(v2: bool) -> dict[str, Any]:
    """v2 adds a required request field, drops a response field and an enum value."""
    members = {"pending": "pending", "running": "running"}
    if not v2:
        members["cancelled"] = "cancelled"
    Status = Enum("Status", members, type=str)

    class Owner(BaseModel):
        name: str
        email: str | None = None

    class JobIn(BaseModel):
        name: str
        keywords: list[str] = []
        if v2:
            priority: int

    class Job(BaseModel):
        id: int
        name: str
        status: Status  # type: ignore[valid-type]
        owner: Owner | None = None
        children: list["Job"] = []
        if not v2:
            legacy: str = ""

    Job.model_rebuild()
    app = FastAPI()

    @app.post("/jobs", status_code=201)
    def create(job: JobIn, dry_run: bool = False, limit: int | None = Query(None)) -> Job: ...

    @app.get("/jobs/{job_id}")
    def get(job_id: int, status: Status | None = None) -> Job: ...  # type: ignore[valid-type]

    return app.openapi()
