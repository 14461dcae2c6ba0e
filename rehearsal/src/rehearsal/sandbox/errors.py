"""Errors in the backend's envelope: the app's exception handlers and the messages they share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rehearsal.sandbox.traffic import error_envelope


def not_found(what: str) -> HTTPException:
    """The 404 for a missing record, e.g. `Project not found`."""
    return HTTPException(status_code=404, detail=f"{what} not found")


def validation_message(errors: Sequence[Any]) -> str:
    """Pydantic errors as one line: `loc.path: message; ...`."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Validation error"


async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
    return error_envelope(exc.status_code, "HTTPException", str(exc.detail), exc.headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
    return error_envelope(422, "RequestValidationError", validation_message(exc.errors()))


async def _unexpected(_: Request, exc: Exception) -> Response:
    return error_envelope(500, "InternalServerError", f"{type(exc).__name__}")


def install_error_envelopes(app: FastAPI) -> None:
    """Answer HTTP errors, validation errors and unexpected exceptions in the error envelope."""
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(Exception)(_unexpected)
