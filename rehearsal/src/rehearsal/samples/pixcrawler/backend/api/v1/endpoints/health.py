"""Health endpoints: `GET /health` and `GET /api/v1/health/`."""

from datetime import datetime, timezone

from fastapi import APIRouter

from backend.config import settings

root_router = APIRouter()
router = APIRouter()


@root_router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "healthy", "service": "PixCrawler API"}


@router.get("/")
def health_v1() -> dict[str, str]:
    """Liveness with version and environment."""
    return {
        "status": "healthy",
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "version": settings.version,
        "environment": settings.environment,
    }
