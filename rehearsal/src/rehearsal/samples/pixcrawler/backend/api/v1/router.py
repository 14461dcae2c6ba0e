"""The v1 router: every endpoint module mounted under its prefix."""

from fastapi import APIRouter

from backend.api.v1.endpoints import health, projects

api_router = APIRouter()
api_router.include_router(health.router, prefix="/health", tags=["health"])
api_router.include_router(projects.router, prefix="/projects", tags=["projects"])
