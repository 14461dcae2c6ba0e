"""`/api/v1/notifications`: what the worker told the sandbox user, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, params

from rehearsal.sandbox.routes.common import listing
from rehearsal.sandbox.runtime import SandboxRuntime


def notifications_router(runtime: SandboxRuntime, authed: Sequence[params.Depends]) -> APIRouter:
    """GET /api/v1/notifications/: the listing, with the unread count in its meta."""
    router = APIRouter(
        prefix="/api/v1/notifications", tags=["Notifications"], dependencies=list(authed)
    )

    @router.get("/")
    async def list_notifications() -> dict[str, Any]:
        notes = sorted(runtime.store.notifications.values(), key=lambda n: n["id"], reverse=True)
        return listing(notes, unread=sum(1 for n in notes if not n["is_read"]))

    return router
