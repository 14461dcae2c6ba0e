"""`/api/v1/storage/files`: named files kept in memory, up to `max_upload_bytes` each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from rehearsal.sandbox.errors import not_found
from rehearsal.sandbox.routes.auth import AUTHED
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.runtime import Runtime
from rehearsal.sandbox.store import StoredFile

router = APIRouter(prefix="/api/v1/storage", tags=["Storage"], dependencies=AUTHED)


@router.get("/files/")
async def list_files(runtime: Runtime) -> dict[str, Any]:
    return listing([f.describe(name) for name, f in sorted(runtime.store.files.items())])


# 201 for a new file, 200 when it replaces one, 413 beyond max_upload_bytes.
@router.put("/files/{name}", status_code=201)
async def upload_file(
    runtime: Runtime, name: str, request: Request, response: Response
) -> dict[str, Any]:
    content = await request.body()
    limit = runtime.config.max_upload_bytes
    if len(content) > limit:
        raise HTTPException(status_code=413, detail=f"File larger than {limit} bytes")
    replaced = name in runtime.store.files
    stored = StoredFile(content, request.headers.get("content-type") or "application/octet-stream")
    runtime.store.files[name] = stored
    if replaced:
        response.status_code = 200
    return stored.describe(name)


@router.get("/files/{name}")
async def download_file(runtime: Runtime, name: str) -> Response:
    stored = runtime.store.files.get(name)
    if stored is None:
        raise not_found("File")
    return Response(stored.content, media_type=stored.content_type)


@router.delete("/files/{name}")
async def delete_file(runtime: Runtime, name: str) -> dict[str, Any]:
    if runtime.store.files.pop(name, None) is None:
        raise not_found("File")
    return {"data": None}
