"""`/api/v1/projects`: kept in the store, and in PostgreSQL when the sandbox has a database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, params
from pydantic import BaseModel, Field

from rehearsal.sandbox.errors import not_found
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.runtime import SANDBOX_USER_ID, SandboxRuntime
from rehearsal.sandbox.store import Store, utc_now


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None


class ProjectUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None


def project_or_404(store: Store, project_id: int) -> dict[str, Any]:
    """The stored project, or the 404 `Project not found`."""
    project = store.projects.get(project_id)
    if project is None:
        raise not_found("Project")
    return project


def projects_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """List, create, read, update and delete projects (a delete takes their datasets along)."""
    router = APIRouter(prefix="/api/v1/projects", tags=["Projects"], dependencies=list(authed))

    @router.get("/")
    async def list_projects() -> dict[str, Any]:
        if runtime.db is not None:
            return listing(await runtime.db.list())
        return listing(list(runtime.store.projects.values()))

    @router.post("/", status_code=201)
    async def create_project(body: ProjectCreate) -> dict[str, Any]:
        stamp = utc_now()
        project: dict[str, Any] = {
            "id": runtime.store.next_id(),
            "name": body.name,
            "description": body.description,
            "user_id": SANDBOX_USER_ID,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if runtime.db is not None:
            await runtime.db.insert(project)
        runtime.store.projects[project["id"]] = project
        return project

    @router.get("/{project_id}")
    async def get_project(project_id: int) -> dict[str, Any]:
        if runtime.db is not None:
            stored = await runtime.db.get(project_id)
            if stored is None:
                raise not_found("Project")
            return stored
        return project_or_404(runtime.store, project_id)

    @router.patch("/{project_id}")
    async def update_project(project_id: int, body: ProjectUpdate) -> dict[str, Any]:
        project = project_or_404(runtime.store, project_id)
        project.update(body.model_dump(exclude_unset=True), updated_at=utc_now())
        if runtime.db is not None:
            await runtime.db.save(project)
        return project

    @router.delete("/{project_id}")
    async def delete_project(project_id: int) -> dict[str, Any]:
        project_or_404(runtime.store, project_id)
        if runtime.db is not None:
            await runtime.db.delete(project_id)
        store = runtime.store  # read after the await: a reset may have replaced it
        for dataset_id in [d for d, ds in store.datasets.items() if ds["project_id"] == project_id]:
            store.remove_dataset(dataset_id)
        del store.projects[project_id]
        return {"data": None}

    return router
