"""What stands between a client and the ARM routes: the bearer check and injected faults."""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rehearsal.azure_standin.state import StandinState

ADMIN_PREFIX = "/_standin"


def arm_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An ARM-shaped error answer."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _bearer_refusal(request: Request, state: StandinState) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return arm_error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        )
    env = state.config.accept_token_env
    if env is not None:
        accepted = os.environ.get(env, "")
        if not accepted or not hmac.compare_digest(token.strip().encode(), accepted.encode()):
            return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
    return None


def _fault(state: StandinState) -> JSONResponse | None:
    faults = state.faults
    if faults.unavailable:
        return arm_error(503, "ServiceUnavailable", "The service is unavailable (stand-in fault).")
    if faults.throttle.count > 0:
        faults.throttle.count -= 1
        after = faults.throttle.retry_after
        text = str(int(after)) if float(after).is_integer() else str(after)
        code, message = _THROTTLE_ANSWERS[faults.throttle.status]
        return arm_error(faults.throttle.status, code, message, headers={"Retry-After": text})
    return None


_THROTTLE_ANSWERS = {  # status -> (ARM error code, message) of a throttling answer
    429: ("TooManyRequests", "The request is being throttled (stand-in fault)."),
    503: (
        "ServiceUnavailable",
        "The service is temporarily unavailable; retry after the "
        "Retry-After interval (stand-in fault).",
    ),
}


async def arm_gate(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: log every request; ARM requests need a bearer token and meet the faults."""
    state: StandinState = request.app.state.standin
    path = request.url.path
    response: Response | None = None
    if not path.startswith(ADMIN_PREFIX):
        response = _bearer_refusal(request, state) or _fault(state)
    if response is None:
        response = await call_next(request)
    if not path.startswith(ADMIN_PREFIX):
        state.requests.append(
            {"method": request.method, "path": path, "status": response.status_code}
        )
    return response
