"""Real FastAPI apps for the unauthenticated sweep, served by uvicorn on 127.0.0.1."""

# no `from __future__ import annotations`: FastAPI reads the closures' annotations at runtime
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from uuid import UUID

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

GOOD_TOKEN = "sweep-test-token"


class Item(BaseModel):
    name: str


def _envelope(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": "HTTPException", "message": message, "status_code": status}},
        status_code=status,
    )


def secured_app() -> FastAPI:
    """Declares HTTPBearer per operation (as FastAPI does); one secured route is left open, one
    crashes, one answers 401 without the envelope; public health routes."""
    app = FastAPI()
    bearer = HTTPBearer(auto_error=False)

    @app.exception_handler(HTTPException)
    async def _errors(_: Request, exc: HTTPException) -> JSONResponse:
        return _envelope(exc.status_code, str(exc.detail))

    def user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        if creds is None or creds.credentials != GOOD_TOKEN:
            raise HTTPException(status_code=401, detail="Authentication required")
        return "user"

    def optional_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str | None:
        return creds.credentials if creds else None

    def crash(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        raise RuntimeError("database down")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/api/v1/health/")
    def api_health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/api/v1/items/", tags=["Items"])
    def list_items(_: Annotated[str, Depends(user)]) -> list[Item]:
        return []

    @app.post("/api/v1/items/", tags=["Items"], status_code=201)
    def create_item(item: Item, _: Annotated[str, Depends(user)]) -> Item:
        return item

    @app.get("/api/v1/items/{item_id}", tags=["Items"])
    def get_item(item_id: UUID, _: Annotated[str, Depends(user)]) -> Item:
        raise HTTPException(status_code=404, detail="not found")

    @app.delete("/api/v1/items/{item_id}", tags=["Items"])
    def delete_item(item_id: int, _: Annotated[str, Depends(user)]) -> dict[str, Any]:
        raise HTTPException(status_code=404, detail="not found")

    @app.get("/api/v1/reports/{report_id}", tags=["Reports"])
    def leaky_report(
        report_id: int, who: Annotated[str | None, Depends(optional_user)]
    ) -> dict[str, Any]:
        return {"id": report_id, "secret": "visible to anyone"}

    @app.get("/api/v1/reports/", tags=["Reports"])
    def list_reports(_: Annotated[str, Depends(user)]) -> list[dict[str, Any]]:
        return []

    @app.get("/api/v1/broken/", tags=["Broken"])
    def broken(_: Annotated[None, Depends(crash)]) -> dict[str, Any]:
        return {}

    @app.get("/api/v1/plain/", tags=["Plain"])
    def plain(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> JSONResponse:
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)

    return app


def undeclared_app() -> FastAPI:
    """Checks a header by hand: the schema declares no security at all."""
    app = FastAPI()

    def user(authorization: Annotated[str | None, Header()] = None) -> str:
        if authorization != f"Bearer {GOOD_TOKEN}":
            raise HTTPException(status_code=401, detail="Not authenticated")
        return "user"

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/api/v1/things/")
    def things(_: Annotated[str, Depends(user)]) -> list[str]:
        return []

    @app.put("/api/v1/things/{name}")
    def put_thing(name: str, _: Annotated[str, Depends(user)]) -> dict[str, str]:
        return {"name": name}

    @app.get("/api/v1/open/")
    def open_route() -> list[str]:
        return ["anyone"]

    @app.get("/public/info")
    def info() -> dict[str, str]:
        return {"info": "outside the protected prefix"}

    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
