"""`/api/v1/datasets`: datasets of a project, kept in the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, params
from pydantic import BaseModel, Field

from rehearsal.sandbox.errors import not_found
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.routes.projects import project_or_404
from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.store import Store, utc_now


class DatasetCreate(BaseModel):
    project_id: int
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    max_images: int = Field(default=100, ge=1, le=10_000)


class DatasetUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None
    keywords: list[str] | None = None
    max_images: int | None = Field(default=None, ge=1, le=10_000)


def dataset_or_404(store: Store, dataset_id: int) -> dict[str, Any]:
    """The stored dataset, or the 404 `Dataset not found`."""
    dataset = store.datasets.get(dataset_id)
    if dataset is None:
        raise not_found("Dataset")
    return dataset


def datasets_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """List, create, read, update and delete datasets (a delete takes their jobs along)."""
    router = APIRouter(prefix="/api/v1/datasets", tags=["Datasets"], dependencies=list(authed))

    @router.get("/")
    async def list_datasets() -> dict[str, Any]:
        return listing(list(runtime.store.datasets.values()))

    @router.post("/", status_code=201)
    async def create_dataset(body: DatasetCreate) -> dict[str, Any]:
        project_or_404(runtime.store, body.project_id)
        stamp = utc_now()
        dataset = {
            "id": runtime.store.next_id(),
            **body.model_dump(),
            "created_at": stamp,
            "updated_at": stamp,
        }
        runtime.store.datasets[dataset["id"]] = dataset
        return dataset

    @router.get("/{dataset_id}")
    async def get_dataset(dataset_id: int) -> dict[str, Any]:
        return dataset_or_404(runtime.store, dataset_id)

    @router.patch("/{dataset_id}")
    async def update_dataset(dataset_id: int, body: DatasetUpdate) -> dict[str, Any]:
        dataset = dataset_or_404(runtime.store, dataset_id)
        dataset.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        return dataset

    @router.delete("/{dataset_id}")
    async def delete_dataset(dataset_id: int) -> dict[str, Any]:
        dataset_or_404(runtime.store, dataset_id)
        runtime.store.remove_dataset(dataset_id)
        return {"data": None}

    return router
