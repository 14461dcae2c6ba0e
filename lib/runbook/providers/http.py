"""One HTTP exchange against the target, recorded as evidence.

`exchange` never raises for target problems: a refused connection, a timeout or a TLS
failure comes back as an `Exchange` with `error` set, so callers can fail closed.
Secrets are sent but never recorded: headers named in `redact` are stored as '<redacted>'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

REDACTED = "<redacted>"
BODY_EXCERPT = 2000


@dataclass
class Exchange:
    """What was asked and what came back (or why nothing came back)."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    body_text: str = ""
    json: Any = None
    elapsed_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def evidence(self) -> dict[str, Any]:
        """A JSON-able record for a check's evidence (body cut to an excerpt)."""
        return {
            "request": {"method": self.method, "url": self.url, "headers": self.request_headers},
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "headers": {
                    k: v
                    for k, v in self.response_headers.items()
                    if k.lower() in {"content-type", "location", "retry-after", "allow"}
                },
                "body_excerpt": self.body_text[:BODY_EXCERPT],
            },
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 2),
            "error": self.error,
        }


def _was_reset(exc: BaseException) -> bool:
    """True if the peer reset the connection (ECONNRESET) anywhere in the exception's chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionResetError) or "connection reset" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_error(exc: Exception) -> str:
    """A sentence a person understands for a transport-level failure."""
    if isinstance(exc, httpx.TransportError) and _was_reset(exc):
        return f"the connection was reset by the server (ECONNRESET), no HTTP answer: {exc}"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            return f"TLS failure: {text}"
        return f"cannot connect: {text or 'connection refused'}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server closed or broke the connection, no HTTP answer: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def exchange(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    content: bytes | None = None,
    redact: frozenset[str] = frozenset({"authorization"}),
) -> Exchange:
    """Send one request and record it; transport failures are returned, not raised."""
    headers = dict(headers or {})
    shown = {k: (REDACTED if k.lower() in redact else v) for k, v in headers.items()}
    record = Exchange(method=method.upper(), url=url, request_headers=shown)
    started = time.perf_counter()
    try:
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if content is not None:
            kwargs["content"] = content
        response = client.request(method.upper(), url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every transport failure becomes evidence
        record.elapsed_ms = (time.perf_counter() - started) * 1000
        record.error = describe_error(exc)
        return record
    record.elapsed_ms = (time.perf_counter() - started) * 1000
    record.status = response.status_code
    record.response_headers = dict(response.headers)
    record.body_text = response.text
    if "json" in response.headers.get("content-type", ""):
        try:
            record.json = response.json()
        except ValueError:
            record.json = None
    return record


def http_statuses(value: list[int]) -> list[int]:
    """One or more HTTP status codes (100–599); else ValueError (for parameter validators)."""
    if not value or any(not 100 <= s <= 599 for s in value):
        raise ValueError("must be one or more HTTP status codes between 100 and 599")
    return value
