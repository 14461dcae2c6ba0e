"""Connection resets (reset_routes, reset_rate): a real TCP RST, no HTTP answer, logged."""

from __future__ import annotations

import socket

import httpx
import pytest

from rehearsal.sandbox.server import SandboxError, SandboxHandle


def _raw_get(url: str, path: str) -> bytes:
    """Send one HTTP/1.1 GET on a fresh socket; the bytes answered (ECONNRESET propagates)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_reset_route_gets_a_tcp_reset_and_no_answer(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(reset_routes=["GET /api/v1/health/"])
    with pytest.raises(ConnectionResetError):  # a RST (SO_LINGER 0), not a clean close
        _raw_get(sandbox.url, "/api/v1/health/")
    assert _raw_get(sandbox.url, "/health").startswith(b"HTTP/1.1 200")  # others answer
    log = sandbox.requests()
    reset = [r for r in log if r.path == "/api/v1/health/"]
    assert [(r.status, r.faults) for r in reset] == [(0, ["reset_routes"])]


def test_reset_rate_resets_a_share_and_spares_admin_routes(
    sandbox: SandboxHandle, client: httpx.Client
) -> None:
    sandbox.set_faults(reset_rate=0.5)
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(client.get("/health").status_code)
        except httpx.ReadError as exc:
            assert "reset" in str(exc).lower()
            outcomes.append("reset")
    assert "reset" in outcomes and 200 in outcomes
    assert sandbox.faults().reset_rate == 0.5  # admin routes are never reset
    logged = [r for r in sandbox.requests() if r.path == "/health"]
    assert sum(r.status == 0 for r in logged) == outcomes.count("reset")


def test_a_malformed_reset_route_is_refused(sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxError, match="422"):
        sandbox.set_faults(reset_routes=["/no-method"])
    assert sandbox.faults().reset_routes == []
