"""The API token check every resource route depends on, and `GET /api/v1/auth/me`.

No `from __future__ import annotations` here: FastAPI must see `Depends(current_user)`, a
local name, when it reads the route's signature.
"""

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rehearsal.sandbox.runtime import SANDBOX_USER_ID, SandboxRuntime

bearer = HTTPBearer(auto_error=False)

CurrentUser = Callable[..., dict[str, Any]]  # the dependency current_user_check builds


def current_user_check(runtime: SandboxRuntime) -> CurrentUser:
    """The dependency answering the sandbox user for `Bearer <token>`, 401 otherwise."""
    token = runtime.token.encode()

    def current_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> dict[str, Any]:
        if creds is None or not secrets.compare_digest(creds.credentials.encode(), token):
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

    return current_user


def token_required(current_user: CurrentUser) -> list[params.Depends]:
    """A router's dependencies when every route needs the API token."""
    return [Depends(current_user)]


def auth_router(current_user: CurrentUser) -> APIRouter:
    """GET /api/v1/auth/me: the user the token belongs to."""
    router = APIRouter(prefix="/api/v1/auth", tags=["Auth"])

    @router.get("/me")
    async def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return user

    return router
