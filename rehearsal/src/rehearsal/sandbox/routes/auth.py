"""The API token check every resource route depends on, and `GET /api/v1/auth/me`."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rehearsal.sandbox.runtime import SANDBOX_USER_ID, Runtime

bearer = HTTPBearer(auto_error=False)


def current_user(
    runtime: Runtime,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> dict[str, Any]:
    """The sandbox user if the request carries `Bearer <token>`, else 401."""
    if creds is None or not secrets.compare_digest(
        creds.credentials.encode(), runtime.token.encode()
    ):
        raise HTTPException(
            status_code=401,
            detail="Authentication required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return {
        "id": SANDBOX_USER_ID,
        "email": runtime.config.user_email,
        "full_name": "Sandbox User",
        "role": "user",
        "is_active": True,
    }


AUTHED = [Depends(current_user)]  # a router's dependencies: every route needs the token

router = APIRouter(prefix="/api/v1/auth", tags=["Auth"])


# The user the token belongs to.
@router.get("/me")
async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
    return user
