"""Say, in one line, why an Azure SDK call failed (auth, not found, throttled, TLS, ...)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from pydantic import BaseModel, ConfigDict

_MAX_MESSAGE = 400


class AzureFailure(BaseModel):
    """Why a call failed: a short reason code, the HTTP status if any, and a readable message."""

    model_config = ConfigDict(extra="forbid")

    reason: str  # auth | forbidden | not-found | throttled | unavailable | http-error | tls |
    #              non-https-endpoint | connection-refused | timeout | connection | unexpected
    status_code: int | None = None
    error_type: str
    message: str


CANNOT_LOOK = "auth"  # no credential, or one that is refused: the check could not look


def failure_is_blind(failure: AzureFailure | dict | None) -> bool:
    """True when the call failed for want of a usable Azure credential: the check could not
    look (INCONCLUSIVE, the run INCOMPLETE), which is not a finding about the target."""
    if isinstance(failure, dict):
        return failure.get("reason") == CANNOT_LOOK
    return getattr(failure, "reason", None) == CANNOT_LOOK


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]
        inner = getattr(item, "inner_exception", None)
        if isinstance(inner, BaseException):
            todo.append(inner)


def _first_line(exc: BaseException) -> str:
    error = getattr(exc, "error", None)  # ARM's {"error": {"code", "message"}}, parsed by the SDK
    if error is not None and getattr(error, "message", None):
        text = f"({error.code}) {error.message}"
    else:
        text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


def describe_azure_error(exc: BaseException) -> AzureFailure:
    """Classify an exception raised by an Azure SDK call (never includes a token)."""
    chain = list(_chain(exc))
    text = " | ".join(str(e) for e in chain)
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__

    def failure(reason: str, message: str) -> AzureFailure:
        return AzureFailure(reason=reason, status_code=status, error_type=kind, message=message)

    if isinstance(exc, ClientAuthenticationError):
        return failure(
            CANNOT_LOOK,
            "needs an Azure credential that is accepted (az login, a "
            "managed identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET):"
            f" {_first_line(exc)}",
        )
    if isinstance(exc, ResourceNotFoundError):
        return failure("not-found", f"not found (HTTP 404): {_first_line(exc)}")
    if isinstance(exc, HttpResponseError) and status is not None:
        if status == 403:
            return failure("forbidden", f"access denied (HTTP 403): {_first_line(exc)}")
        if status == 429:
            return failure("throttled", f"throttled (HTTP 429) after retries: {_first_line(exc)}")
        if status in (502, 503, 504):
            return failure(
                "unavailable",
                f"service unavailable (HTTP {status}) after retries: {_first_line(exc)}",
            )
        return failure("http-error", f"HTTP {status}: {_first_line(exc)}")
    if "non-TLS" in text or "non-https" in text.lower():
        return failure(
            "non-https-endpoint",
            f"the endpoint is not https: bearer tokens are only sent over TLS ({_first_line(exc)})",
        )
    if (
        any(isinstance(e, ssl.SSLError) for e in chain)
        or "CERTIFICATE_VERIFY_FAILED" in text
        or ("SSLError" in text)
    ):
        return failure(
            "tls", f"TLS handshake or certificate verification failed: {_first_line(exc)}"
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return failure("connection-refused", f"connection refused: {_first_line(exc)}")
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)) or any(
        isinstance(e, TimeoutError) for e in chain
    ):
        return failure("timeout", f"timed out: {_first_line(exc)}")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return failure("connection", f"could not reach the endpoint: {_first_line(exc)}")
    if isinstance(exc, AzureError):
        return failure("unexpected", f"Azure SDK error: {_first_line(exc)}")
    return failure("unexpected", f"{kind}: {_first_line(exc)}")
