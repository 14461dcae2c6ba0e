"""`/api/v1/notifications`: what the worker told the sandbox user, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from rehearsal.sandbox.routes.auth import AUTHED
from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.runtime import Runtime

router = APIRouter(prefix="/api/v1/notifications", tags=["Notifications"], dependencies=AUTHED)


@router.get("/")
async def list_notifications(runtime: Runtime) -> dict[str, Any]:
    notes = sorted(runtime.store.notifications.values(), key=lambda n: n["id"], reverse=True)
    return listing(notes, unread=sum(1 for n in notes if not n["is_read"]))
