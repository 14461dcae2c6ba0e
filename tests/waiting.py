"""Readiness waits for tests: poll with a generous bound, never a race on a busy machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], what: str, bound_s: float = 60.0) -> Any:
    """Poll until `predicate()` is truthy and return it; AssertionError naming `what` after
    `bound_s` seconds."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {bound_s} s: {what}")
