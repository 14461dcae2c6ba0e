"""The sandbox's browser-facing side: real CORS (like the backend's) and a tiny frontend page."""

from __future__ import annotations

import html

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware

from rehearsal.sandbox.config import SandboxConfig


def frontend_page(config: SandboxConfig) -> str:
    """The HTML the sandbox serves at `frontend_page_path`, standing in for the web frontend."""
    name = html.escape(config.service_name)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>PixCrawler (sandbox frontend)</title></head><body>"
        f'<div id="root" data-api="{name}">PixCrawler sandbox frontend</div></body></html>'
    )


def install_frontend(app: FastAPI, config: SandboxConfig) -> None:
    """Add CORS from `config.allowed_origins` and, if configured, the frontend page route."""
    # The backend uses FastAPI's CORS middleware with SECURITY_ALLOWED_ORIGINS and credentials.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.allowed_origins),
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    if config.frontend_page_path is None:
        return
    page = frontend_page(config)

    @app.get(config.frontend_page_path, include_in_schema=False, response_class=HTMLResponse)
    async def frontend() -> HTMLResponse:
        return HTMLResponse(page)
