"""Real HTTP servers on 127.0.0.1 for the contract tests (uvicorn in a thread, port 0)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from contract_specs import PRIVATE_TOKEN
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse


def target_app() -> FastAPI:
    """A FastAPI app with the stock docs, plus routes that misbehave on purpose."""
    app = FastAPI(title="contract target", version="9.9.9")

    @app.get("/api/v1/items/{item_id}")
    def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/broken/openapi.json", include_in_schema=False)
    def not_openapi() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/text/openapi.json", include_in_schema=False)
    def not_json() -> PlainTextResponse:
        return PlainTextResponse("this is not json")

    @app.get("/invalid/openapi.json", include_in_schema=False)
    def invalid_openapi() -> dict:
        return {"openapi": "3.1.0", "paths": {}}  # no 'info'

    @app.get("/broken/docs", include_in_schema=False)
    def docs_as_json() -> JSONResponse:
        return JSONResponse({"docs": "nope"})

    @app.get("/spa/docs", include_in_schema=False)
    def spa_fallback() -> HTMLResponse:
        return HTMLResponse("<html><body>frontend</body></html>")

    @app.get("/slow/openapi.json", include_in_schema=False)
    async def slow() -> dict:
        await asyncio.sleep(1)
        return {}

    @app.get("/private/openapi.json", include_in_schema=False)
    def private(x_docs_token: str | None = Header(default=None)) -> JSONResponse:
        if x_docs_token is None or x_docs_token != PRIVATE_TOKEN:
            raise HTTPException(status_code=401, detail="token required")
        return JSONResponse(app.openapi())

    return app


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """Base URL of the target app served by a real uvicorn on an ephemeral port."""
    config = uvicorn.Config(target_app(), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def unreachable_url() -> str:
    """A 127.0.0.1 URL on a port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
