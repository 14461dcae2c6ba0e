"""What happens to every request before the API sees it: down, rate limit, faults, and the log."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import time
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rehearsal.sandbox.faults import FaultInjector

ADMIN_PREFIX = "/_sandbox"
NO_ANSWER = 0  # the status logged for a request whose connection was reset unanswered


def error_envelope(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The backend's error shape: {"error": {"type", "message", "status_code"}}."""
    body = {"error": {"type": kind, "message": message, "status_code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """True if an Authorization header carries exactly the sandbox bearer token."""
    if not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return False
    return secrets.compare_digest(value.strip().encode(), token.encode())


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The route template a request resolves to (a method mismatch still names it), else None."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "path", None)
        if match is Match.PARTIAL and partial is None:
            partial = getattr(route, "path", None)
    return partial


def echoing(send: Send, authorization: str) -> Send:
    """A `send` that reflects `authorization` in the answer (fault echo_authorization): the
    X-Echo-Authorization header, Location (URL-encoded, unless the route set one), a field
    `authorization` of a JSON object body and the message of an error envelope."""
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def echo(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        headers = [(k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"]
        names = {k.lower() for k, _ in headers}
        body = b"".join(chunks)
        if any(k.lower() == b"content-type" and b"json" in v for k, v in headers):
            body = _echoed_json(body, authorization)
        headers.append((b"x-echo-authorization", authorization.encode("latin-1")))
        if b"location" not in names:
            location = "/echo?authorization=" + quote(authorization, safe="")
            headers.append((b"location", location.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**started, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return echo


def _echoed_json(body: bytes, authorization: str) -> bytes:
    """A JSON object body with `authorization` added (and in an error envelope's message)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        error["message"] += f" (request Authorization: {authorization})"
    data["authorization"] = authorization
    return json.dumps(data).encode()


class RequestRecord(BaseModel):
    """One request the sandbox answered (admin routes excluded)."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    ts: str
    method: str
    path: str
    route: str | None
    status: int  # NO_ANSWER (0): the connection was reset, nothing was answered
    duration_ms: float
    faults: list[str]


class RequestLog:
    """Bounded log of the latest requests, numbered from 1 for the life of the process."""

    def __init__(self, size: int) -> None:
        self._entries: deque[RequestRecord] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def add(self, **fields: Any) -> None:
        """Append one record (the oldest falls off when full)."""
        self._entries.append(RequestRecord(seq=next(self._seq), **fields))

    def since(self, seq: int = 0) -> list[RequestRecord]:
        """Records with a sequence number above seq, oldest first."""
        return [r for r in self._entries if r.seq > seq]

    def clear(self) -> None:
        """Forget every record (numbering continues)."""
        self._entries.clear()


class FixedWindowRateLimiter:
    """Counts requests per client key in fixed windows; refuses beyond the limit."""

    def __init__(
        self, limit: int, window_seconds: float = 60.0, per_key: dict[str, int] | None = None
    ) -> None:
        self.limit = limit
        self.per_key = dict(per_key or {})  # e.g. {"token": N}: another limit for that client
        self.window = window_seconds
        self.reset()

    def reset(self) -> None:
        """Forget all counts and start a new window now."""
        self._origin = time.monotonic()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> tuple[bool, int]:
        """Count one request for key; return (allowed, seconds until the window ends)."""
        elapsed = time.monotonic() - self._origin
        window = int(elapsed // self.window)
        retry_after = max(1, math.ceil((window + 1) * self.window - elapsed))
        current, count = self._counts.get(key, (window, 0))
        if current != window:
            count = 0
        count += 1
        self._counts[key] = (window, count)
        return count <= self.per_key.get(key, self.limit), retry_after


class SandboxMiddleware:
    """ASGI middleware: down -> rate limit -> latency -> resets / failures -> API; logs each
    request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        injector: FaultInjector,
        limiter: FixedWindowRateLimiter,
        log: RequestLog,
        token: str,
    ) -> None:
        self.app = app
        self.routes = routes
        self.injector = injector
        self.limiter = limiter
        self.log = log
        self._token = token

    def _client_key(self, scope: Scope) -> str:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1") or None
        if bearer_matches(auth, self._token):
            return "token"  # one valid token: keyed by its role, never by its value
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        method = scope["method"]
        template = route_template(self.routes, scope)
        status = {"code": 500}
        applied: list[str] = []

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        send_logged: Send = logged
        authorization = dict(scope.get("headers") or []).get(b"authorization")
        if self.injector.faults.echo_authorization and authorization:
            send_logged = echoing(logged, authorization.decode("latin-1"))

        try:
            if self.injector.faults.down:
                applied.append("down")
                response = error_envelope(
                    503, "ServiceUnavailable", "Service unavailable (sandbox fault: down)"
                )
                await response(scope, receive, send_logged)
                return
            allowed, retry_after = self.limiter.hit(self._client_key(scope))
            if not allowed:
                applied.append("rate_limit")
                response = error_envelope(
                    429, "HTTPException", "Too Many Requests", {"Retry-After": str(retry_after)}
                )
                await response(scope, receive, send_logged)
                return
            decision = self.injector.decide(method, template, path)
            if decision.latency_ms:
                applied.append("latency")
                await asyncio.sleep(decision.latency_ms / 1000)
            if decision.reset:
                from rehearsal.sandbox.resets import reset_connection  # uvicorn: server side only

                applied.append(decision.reason or "reset")
                if await reset_connection(scope, receive):
                    status["code"] = NO_ANSWER
                    return
                response = error_envelope(  # not served by ResettableH11Protocol: say so
                    500,
                    "InternalServerError",
                    f"Internal server error (sandbox fault: {decision.reason}; this server "
                    "cannot reset connections)",
                )
                await response(scope, receive, send_logged)
                return
            if decision.status is not None:
                applied.append(decision.reason or "fault")
                response = error_envelope(
                    decision.status,
                    "InternalServerError",
                    f"Internal server error (sandbox fault: {decision.reason})",
                )
                await response(scope, receive, send_logged)
                return
            await self.app(scope, receive, send_logged)
        finally:
            self.log.add(
                ts=datetime.now(UTC).isoformat(timespec="milliseconds"),
                method=method,
                path=path,
                route=template,
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                faults=applied,
            )
