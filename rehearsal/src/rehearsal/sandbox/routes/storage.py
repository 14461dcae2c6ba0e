"""`/api/v1/storage/files`: named files kept in memory, up to `max_upload_bytes` each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, params

from rehearsal.sandbox.errors import not_found
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.store import StoredFile


def storage_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """List, upload (201 new, 200 replaced, 413 too large), download and delete files."""
    router = APIRouter(prefix="/api/v1/storage", tags=["Storage"], dependencies=list(authed))

    @router.get("/files/")
    async def list_files() -> dict[str, Any]:
        return listing([f.describe(name) for name, f in sorted(runtime.store.files.items())])

    @router.put("/files/{name}", status_code=201)
    async def upload_file(name: str, request: Request, response: Response) -> dict[str, Any]:
        content = await request.body()
        limit = runtime.config.max_upload_bytes
        if len(content) > limit:
            raise HTTPException(status_code=413, detail=f"File larger than {limit} bytes")
        replaced = name in runtime.store.files
        content_type = request.headers.get("content-type") or "application/octet-stream"
        stored = StoredFile(content, content_type)
        runtime.store.files[name] = stored
        if replaced:
            response.status_code = 200
        return stored.describe(name)

    @router.get("/files/{name}")
    async def download_file(name: str) -> Response:
        stored = runtime.store.files.get(name)
        if stored is None:
            raise not_found("File")
        return Response(stored.content, media_type=stored.content_type)

    @router.delete("/files/{name}")
    async def delete_file(name: str) -> dict[str, Any]:
        if runtime.store.files.pop(name, None) is None:
            raise not_found("File")
        return {"data": None}

    return router
