"""The deployment target: where the API answers and how the runbook authenticates to it."""

from __future__ import annotations

import re

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.core.secret_refs import SecretRef

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def validate_http_url(value: str) -> str:
    """An absolute http(s) URL with a host and no whitespace or control characters."""
    if _CONTROL.search(value):
        raise ValueError("must not contain spaces, newlines or control characters")
    try:
        url = httpx.URL(value)
    except Exception as exc:  # noqa: BLE001 - httpx raises several types for bad URLs
        raise ValueError(f"is not a URL ({exc})") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    return value


class TargetParams(BaseModel):
    """The PixCrawler API under test."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="e.g. the App Service name, pixcrawler-staging")
    base_url: str = Field(description="e.g. https://api.pixcrawler.com")
    token: SecretRef = Field(description="the bearer token's secret reference")
    timeout_s: float = Field(10.0, gt=0, le=600)
    verify_tls: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if _CONTROL.sub("", name) != name or any(c in item for c in "\r\n\0"):
                raise ValueError(f"header {name!r} contains whitespace, a newline or NUL")
        return value
