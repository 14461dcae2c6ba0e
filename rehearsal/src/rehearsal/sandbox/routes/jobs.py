"""`/api/v1/jobs`: crawl jobs, created under a dataset (POST /api/v1/jobs/ is 405 like the
backend) and moved along by the background worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, params
from pydantic import BaseModel, ConfigDict, Field

from rehearsal.sandbox.errors import not_found
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.routes.datasets import dataset_or_404
from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.store import Store, utc_now


class CrawlJobUpdate(BaseModel):
    """What a client may change on a crawl job (its progress is the worker's)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


class CrawlJobCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


def job_or_404(store: Store, job_id: int) -> dict[str, Any]:
    """The stored job, or the 404 `Crawl job not found`."""
    job = store.jobs.get(job_id)
    if job is None:
        raise not_found("Crawl job")
    return job


def new_job(
    job_id: int, dataset_id: int, dataset: dict[str, Any], body: CrawlJobCreate
) -> dict[str, Any]:
    """A pending job for the dataset; what the body leaves out comes from the dataset."""
    stamp = utc_now()
    return {
        "id": job_id,
        "dataset_id": dataset_id,
        "project_id": dataset["project_id"],
        "name": body.name or f"{dataset['name']} crawl {job_id}",
        "keywords": body.keywords if body.keywords is not None else dataset["keywords"],
        "max_images": body.max_images or dataset["max_images"],
        "status": "pending",
        "progress": 0,
        "total_images": 0,
        "downloaded_images": 0,
        "valid_images": 0,
        "created_at": stamp,
        "updated_at": stamp,
        "started_at": None,
        "completed_at": None,
    }


def jobs_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """List, create (under a dataset), read, update and delete crawl jobs."""
    router = APIRouter(prefix="/api/v1/jobs", tags=["Crawl Jobs"], dependencies=list(authed))

    @router.get("/")
    async def list_jobs() -> dict[str, Any]:
        return listing(list(runtime.store.jobs.values()))

    @router.post("/datasets/{dataset_id}/jobs", status_code=201)
    async def create_job(
        dataset_id: int, body: Annotated[CrawlJobCreate | None, Body()] = None
    ) -> dict[str, Any]:
        dataset = dataset_or_404(runtime.store, dataset_id)
        body = body or CrawlJobCreate.model_validate({})
        job = new_job(runtime.store.next_id(), dataset_id, dataset, body)
        runtime.store.add_job(job)
        return job

    @router.get("/{job_id}")
    async def get_job(job_id: int) -> dict[str, Any]:
        return job_or_404(runtime.store, job_id)

    @router.patch("/{job_id}")
    async def update_job(job_id: int, body: CrawlJobUpdate) -> dict[str, Any]:
        job = job_or_404(runtime.store, job_id)
        job.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        return job

    @router.delete("/{job_id}")
    async def delete_job(job_id: int) -> dict[str, Any]:
        job_or_404(runtime.store, job_id)
        runtime.store.remove_job(job_id)
        return {"data": None}

    return router
