"""The response shape the resource routes share."""

from __future__ import annotations

from typing import Any


def listing(items: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    """The backend's list shape: {"data": items, "meta": {"total": N, **meta}}."""
    return {"data": items, "meta": {"total": len(items), **meta}}
