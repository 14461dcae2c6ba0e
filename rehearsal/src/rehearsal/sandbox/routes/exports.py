"""Dataset export in the sandbox: start an export, poll it, download a zip with a manifest.

    POST   /api/v1/datasets/{dataset_id}/export   -> 202 {"id", "status": "pending", ...}
    GET    /api/v1/exports/{export_id}            -> {"status": "pending" | "completed",
                                                      "download_url": ... once completed}
    GET    /api/v1/exports/{export_id}/download   -> application/zip (409 while pending)
    DELETE /api/v1/exports/{export_id}            -> {"data": null}
    GET    /api/v1/exports/                       -> the listing

An export completes `export_seconds` after it was requested, unless the worker_stalled fault
is on. The zip holds `manifest.json` (dataset, its jobs, image count) and `README.txt`.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Response, params
from pydantic import BaseModel, ConfigDict

from rehearsal.sandbox.runtime import SandboxRuntime
from rehearsal.sandbox.store import Store, utc_now

MANIFEST_NAME = "manifest.json"


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["zip"] = "zip"


@dataclass
class ExportJob:
    """One export: its public record, when it may complete, and its bytes once built."""

    record: dict[str, Any]
    ready_at: float
    content: bytes | None = None


def build_archive(store: Store, record: dict[str, Any]) -> bytes:
    """The export's zip: manifest.json describing the dataset and its jobs, and a README."""
    dataset = store.datasets.get(record["dataset_id"], {})
    jobs = [j for j in store.jobs.values() if j["dataset_id"] == record["dataset_id"]]
    manifest = {
        "format_version": 1,
        "export_id": record["id"],
        "dataset_id": record["dataset_id"],
        "dataset_name": dataset.get("name"),
        "keywords": dataset.get("keywords", []),
        "jobs": [{"id": j["id"], "status": j["status"]} for j in jobs],
        "image_count": sum(j["valid_images"] for j in jobs),
        "created_at": record["created_at"],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2))
        archive.writestr("README.txt", "PixCrawler sandbox export (no real images).\n")
    return buffer.getvalue()


def current_export(runtime: SandboxRuntime, export_id: int) -> ExportJob:
    """The export, completed (archive built) once due unless the worker is stalled; else 404."""
    job = runtime.store.exports.get(export_id)
    if job is None:
        raise HTTPException(status_code=404, detail="Export not found")
    if (
        job.content is None
        and not runtime.injector.faults.worker_stalled
        and time.monotonic() >= job.ready_at
    ):
        job.content = build_archive(runtime.store, job.record)
        job.record.update(
            status="completed",
            completed_at=utc_now(),
            download_url=f"/api/v1/exports/{export_id}/download",
            size_bytes=len(job.content),
            sha256=hashlib.sha256(job.content).hexdigest(),
        )
    return job


def exports_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """Start, poll, download, list and delete dataset exports."""
    router = APIRouter(prefix="/api/v1", tags=["Exports"], dependencies=list(authed))

    @router.post("/datasets/{dataset_id}/export", status_code=202)
    async def create_export(
        dataset_id: int, body: Annotated[ExportCreate | None, Body()] = None
    ) -> dict[str, Any]:
        store = runtime.store
        if dataset_id not in store.datasets:
            raise HTTPException(status_code=404, detail="Dataset not found")
        export_id = store.next_id()
        record: dict[str, Any] = {
            "id": export_id,
            "dataset_id": dataset_id,
            "format": (body or ExportCreate()).format,
            "status": "pending",
            "created_at": utc_now(),
            "completed_at": None,
            "download_url": None,
        }
        ready_at = time.monotonic() + runtime.config.export_seconds
        store.exports[export_id] = ExportJob(record, ready_at)
        return record

    @router.get("/exports/")
    async def list_exports() -> dict[str, Any]:
        records = [current_export(runtime, i).record for i in list(runtime.store.exports)]
        return {"data": records, "meta": {"total": len(records)}}

    @router.get("/exports/{export_id}")
    async def get_export(export_id: int) -> dict[str, Any]:
        return current_export(runtime, export_id).record

    # The zip; 409 while the export is pending.
    @router.get("/exports/{export_id}/download")
    async def download_export(export_id: int) -> Response:
        job = current_export(runtime, export_id)
        if job.content is None:
            raise HTTPException(status_code=409, detail="Export not ready")
        return Response(
            job.content,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="export-{export_id}.zip"'},
        )

    @router.delete("/exports/{export_id}")
    async def delete_export(export_id: int) -> dict[str, Any]:
        if runtime.store.exports.pop(export_id, None) is None:
            raise HTTPException(status_code=404, detail="Export not found")
        return {"data": None}

    return router
