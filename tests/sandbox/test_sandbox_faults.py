"""Fault knobs and rate limiting, set at start and changed while running (real subprocesses)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
from sandbox_support import AUTH, SEED, TOKEN, assert_envelope, expected_failures

from rehearsal.sandbox.config import SandboxConfig, SandboxFaults
from rehearsal.sandbox.server import SandboxError, SandboxHandle, start_sandbox


def _timed_get(client: httpx.Client, path: str, **kwargs) -> tuple[int, float]:
    began = time.perf_counter()
    response = client.get(path, **kwargs)
    return response.status_code, (time.perf_counter() - began) * 1000


# -- knobs set at start ---------------------------------------------------------------------------
START_FAULTS = SandboxFaults(
    error_rate=0.25,
    error_routes=["GET /health"],
    latency_ms=300,
    latency_routes=["GET /api/v1/health/"],
    fail_routes=["get /api/v1/auth/me"],
)


@pytest.fixture(scope="module")
def faulty() -> Iterator[SandboxHandle]:
    config = SandboxConfig(port=0, seed=7, faults=START_FAULTS)
    with start_sandbox(config, TOKEN) as handle:
        yield handle


def test_start_knobs_are_reported(faulty: SandboxHandle) -> None:
    assert faulty.faults() == START_FAULTS.model_copy(
        update={"fail_routes": ["GET /api/v1/auth/me"]}
    )


def test_error_rate_from_start_fails_the_seeded_share_of_chosen_routes(
    faulty: SandboxHandle,
) -> None:
    n = 200
    with httpx.Client(base_url=faulty.url) as client:
        statuses = [client.get("/health").status_code for _ in range(n)]
        untouched = client.get("/openapi.json").status_code
    failures = statuses.count(500)
    assert failures == expected_failures(7, 0.25, n)
    assert 0.15 <= failures / n <= 0.35
    assert set(statuses) == {200, 500}
    assert untouched == 200  # not in error_routes
    errors = [r for r in faulty.requests() if r.status == 500 and r.path == "/health"]
    assert len(errors) == failures and all(r.faults == ["error_rate"] for r in errors)


def test_latency_from_start_slows_only_chosen_routes(faulty: SandboxHandle) -> None:
    with httpx.Client(base_url=faulty.url) as client:
        slow = [_timed_get(client, "/api/v1/health/") for _ in range(2)]
        fast = [_timed_get(client, "/openapi.json") for _ in range(3)]
    assert all(status == 200 and ms >= 300 for status, ms in slow)
    assert statistics.median(ms for _, ms in fast) < 250


def test_fail_route_from_start_always_answers_500_envelope(faulty: SandboxHandle) -> None:
    with httpx.Client(base_url=faulty.url) as client:
        responses = [client.get("/api/v1/auth/me", headers=AUTH) for _ in range(3)]
    for response in responses:
        assert response.status_code == 500
        assert_envelope(response.json(), 500)
    assert faulty.requests()[-1].faults == ["fail_routes"]


def test_down_from_start_then_up_while_running() -> None:
    config = SandboxConfig(port=0, faults=SandboxFaults(down=True))
    with start_sandbox(config, TOKEN) as handle, httpx.Client(base_url=handle.url) as client:
        for path in ("/health", "/api/v1/health/", "/openapi.json", "/api/v1/auth/me"):
            response = client.get(path, headers=AUTH)
            assert response.status_code == 503, path
            assert_envelope(response.json(), 503)
        assert handle.faults().down is True  # admin routes still answer
        assert handle.set_faults(down=False).down is False
        assert client.get("/health").status_code == 200


# -- knobs changed while running (shared sandbox, reset before each test) ------------------------
def test_error_rate_while_running_is_seeded_and_route_scoped(
    sandbox: SandboxHandle, client: httpx.Client
) -> None:
    assert client.get("/api/v1/health/").status_code == 200
    sandbox.set_faults(error_rate=0.5, error_routes=["GET /api/v1/health/"])
    n = 150
    statuses = [client.get("/api/v1/health/").status_code for _ in range(n)]
    assert statuses.count(500) == expected_failures(SEED, 0.5, n)
    assert client.get("/health").status_code == 200
    # Setting knobs restarts the random stream from the seed: same knobs, same outcome.
    sandbox.set_faults(error_rate=0.5)
    again = [client.get("/api/v1/health/").status_code for _ in range(n)]
    assert again == statuses
    sandbox.set_faults(error_rate=0.0)
    assert {client.get("/api/v1/health/").status_code for _ in range(20)} == {200}


def test_error_rate_with_no_routes_applies_to_every_route(
    sandbox: SandboxHandle, client: httpx.Client
) -> None:
    sandbox.set_faults(error_rate=1.0)
    for path in ("/health", "/openapi.json", "/api/v1/projects/"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 500, path
        assert_envelope(response.json(), 500)


def test_latency_while_running(sandbox: SandboxHandle, client: httpx.Client) -> None:
    status, before = _timed_get(client, "/health")
    assert status == 200 and before < 250
    sandbox.set_faults(latency_ms=300)  # no routes: every route
    for path in ("/health", "/api/v1/health/"):
        status, ms = _timed_get(client, path)
        assert status == 200 and ms >= 300, path
    assert sandbox.requests()[-1].faults == ["latency"]
    sandbox.set_faults(latency_ms=0)
    status, after = _timed_get(client, "/health")
    assert status == 200 and after < 250


def test_fail_route_by_template_while_running(sandbox: SandboxHandle, client: httpx.Client) -> None:
    project = client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"}).json()
    url = f"/api/v1/projects/{project['id']}"
    assert client.get(url, headers=AUTH).status_code == 200
    sandbox.set_faults(fail_routes=["GET /api/v1/projects/{project_id}"])
    failed = client.get(url, headers=AUTH)
    assert failed.status_code == 500
    assert_envelope(failed.json(), 500)
    assert client.get("/api/v1/projects/", headers=AUTH).status_code == 200
    assert client.patch(url, headers=AUTH, json={"name": "q"}).status_code == 200
    sandbox.set_faults(fail_routes=[])
    assert client.get(url, headers=AUTH).status_code == 200


def test_down_while_running(sandbox: SandboxHandle, client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    sandbox.set_faults(down=True)
    response = client.get("/health")
    assert response.status_code == 503
    assert_envelope(response.json(), 503)
    assert client.get("/api/v1/jobs/", headers=AUTH).status_code == 503
    last = sandbox.requests()[-1]
    assert (last.status, last.faults) == (503, ["down"])
    sandbox.set_faults(down=False)
    assert client.get("/health").status_code == 200


def test_stalled_worker_and_component_health(sandbox: SandboxHandle, client: httpx.Client) -> None:
    sandbox.set_faults(worker_stalled=True)
    project = client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"}).json()
    dataset = client.post(
        "/api/v1/datasets/", headers=AUTH, json={"project_id": project["id"], "name": "d"}
    ).json()
    job = client.post(f"/api/v1/jobs/datasets/{dataset['id']}/jobs", headers=AUTH).json()
    time.sleep(0.3)  # six job steps
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()["status"] == "pending"
    detailed = client.get("/api/v1/health/detailed").json()
    assert (detailed["status"], detailed["celery"]["status"]) == ("degraded", "degraded")

    sandbox.set_faults(component_health={"database": "unhealthy"})
    detailed = client.get("/api/v1/health/detailed").json()
    assert (detailed["status"], detailed["database"]["status"]) == ("unhealthy", "unhealthy")


def test_invalid_fault_changes_are_refused_and_change_nothing(sandbox: SandboxHandle) -> None:
    before = sandbox.faults()
    for bad in ({"error_rate": 1.5}, {"no_such_knob": 1}, {"fail_routes": ["/health"]}):
        response = httpx.put(f"{sandbox.url}/_sandbox/faults", json=bad)
        assert response.status_code == 422, bad
        assert_envelope(response.json(), 422)
        with pytest.raises(SandboxError):
            sandbox.set_faults(**bad)
    assert sandbox.faults() == before


def test_reset_restores_configured_faults(sandbox: SandboxHandle, client: httpx.Client) -> None:
    sandbox.set_faults(down=True, latency_ms=5)
    client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"})
    sandbox.reset()
    assert sandbox.faults() == SandboxFaults()
    assert sandbox.requests() == []
    assert client.get("/api/v1/projects/", headers=AUTH).json()["meta"]["total"] == 0


# -- rate limiting ---------------------------------------------------------------------------------
def test_burst_over_the_limit_gets_429_with_retry_after_per_client() -> None:
    config = SandboxConfig(port=0, rate_limit_per_minute=5)
    with start_sandbox(config, TOKEN) as handle, httpx.Client(base_url=handle.url) as client:
        anonymous = [client.get("/health").status_code for _ in range(8)]
        assert anonymous == [200] * 5 + [429] * 3
        limited = client.get("/health")
        assert_envelope(limited.json(), 429)
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # The token is its own client: its budget is untouched by the anonymous burst.
        with_token = [client.get("/health", headers=AUTH).status_code for _ in range(6)]
        assert with_token == [200] * 5 + [429]
        # Admin routes are never rate limited.
        assert all(handle.faults() == SandboxFaults() for _ in range(10))
        assert handle.requests()[-1].faults == ["rate_limit"]


def test_default_limit_does_not_bite_a_smoke_run(client: httpx.Client) -> None:
    statuses = {client.get("/health").status_code for _ in range(100)}
    assert statuses == {200}
