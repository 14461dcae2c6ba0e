"""Constants and helpers shared by the sandbox tests."""

from __future__ import annotations

import random

TOKEN = "sandbox-test-token-not-a-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = 1234
VERSION = "9.8.7-sandbox-test"
AUTH_REQUIRED = {
    "error": {"type": "HTTPException", "message": "Authentication required", "status_code": 401}
}


def expected_failures(seed: int | None, rate: float, n: int) -> int:
    """How many of n requests a seeded error_rate fails (the sandbox draws one number each)."""
    rng = random.Random(seed)
    return sum(rng.random() < rate for _ in range(n))


def assert_envelope(body: dict, status: int) -> None:
    """The backend's error envelope, with exactly its three fields."""
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "status_code"}
    assert body["error"]["status_code"] == status
    assert isinstance(body["error"]["type"], str) and body["error"]["type"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
