"""Application factory: `backend.main:create_app` builds the app, `backend.main:app` serves it."""

from fastapi import FastAPI

from backend.api.v1.endpoints import health
from backend.api.v1.router import api_router

SERVICE_NAME = "PixCrawler API"


def create_app() -> FastAPI:
    """Build the FastAPI application with every router mounted."""
    app = FastAPI(title=SERVICE_NAME, version="1.0.0")
    app.include_router(health.root_router)
    app.include_router(api_router, prefix="/api/v1")
    return app


app = create_app()
