"""The sandbox answers like the PixCrawler backend where the reference speaks (real HTTP)."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from sandbox_support import AUTH, AUTH_REQUIRED, VERSION, assert_envelope

from rehearsal.sandbox.server import SandboxHandle


def _wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def test_root_health_is_public_and_head_is_405(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "service": "PixCrawler API"}
    assert client.head("/health").status_code == 405


def test_api_health_reports_configured_version_and_environment(client: httpx.Client) -> None:
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "version", "environment"}
    assert (body["status"], body["version"], body["environment"]) == ("healthy", VERSION, "test")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/projects"),
        ("GET", "/api/v1/notifications"),
        ("GET", "/api/v1/jobs"),
    ],
)
def test_missing_trailing_slash_redirects_307(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 307
    assert response.headers["location"].endswith(path + "/")


def test_detailed_health_reports_each_component_with_timing(client: httpx.Client) -> None:
    response = client.get("/api/v1/health/detailed")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    for component in ("database", "redis", "celery"):
        assert body[component]["status"] == "healthy"
        assert isinstance(body[component]["response_time_ms"], float)
        assert body[component]["response_time_ms"] >= 0


def test_openapi_docs_and_redoc(client: httpx.Client) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path).status_code == 200, path
    spec = client.get("/openapi.json").json()
    assert spec["info"]["version"] == VERSION
    paths = spec["paths"]
    assert "post" in paths["/api/v1/jobs/datasets/{dataset_id}/jobs"]
    assert set(paths["/api/v1/jobs/"]) == {"get"}
    assert not any(p.startswith("/_sandbox") for p in paths)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}],
    ids=["none", "wrong", "not-bearer"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/auth/me"), ("POST", "/api/v1/projects/"), ("GET", "/api/v1/notifications/")],
)
def test_protected_routes_answer_401_envelope(
    client: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, headers=headers, json={"name": "x"})
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


def test_auth_me_with_token(client: httpx.Client) -> None:
    response = client.get("/api/v1/auth/me", headers=AUTH)
    assert response.status_code == 200
    assert {"id", "email"} <= set(response.json())


def test_post_jobs_root_is_405_with_envelope(client: httpx.Client) -> None:
    for headers in ({}, AUTH):
        response = client.post("/api/v1/jobs/", headers=headers, json={})
        assert response.status_code == 405
        assert_envelope(response.json(), 405)


def test_404_and_422_use_the_envelope(client: httpx.Client) -> None:
    unknown = client.get("/api/v1/no-such-route", headers=AUTH)
    assert unknown.status_code == 404
    assert_envelope(unknown.json(), 404)
    missing = client.get("/api/v1/projects/999999", headers=AUTH)
    assert missing.status_code == 404
    assert_envelope(missing.json(), 404)
    invalid = client.post("/api/v1/projects/", headers=AUTH, json={"description": "no name"})
    assert invalid.status_code == 422
    assert_envelope(invalid.json(), 422)
    assert "name" in invalid.json()["error"]["message"]


def test_projects_crud(client: httpx.Client) -> None:
    created = client.post("/api/v1/projects/", headers=AUTH, json={"name": "cats"})
    assert created.status_code == 201
    project = created.json()
    assert project["name"] == "cats" and isinstance(project["id"], int)
    url = f"/api/v1/projects/{project['id']}"

    listing = client.get("/api/v1/projects/", headers=AUTH).json()
    assert [p["id"] for p in listing["data"]] == [project["id"]]
    assert listing["meta"]["total"] == 1

    assert client.get(url, headers=AUTH).json()["name"] == "cats"
    patched = client.patch(url, headers=AUTH, json={"description": "felines"})
    assert patched.status_code == 200
    assert patched.json()["description"] == "felines" and patched.json()["name"] == "cats"

    assert client.delete(url, headers=AUTH).status_code == 200
    assert client.get(url, headers=AUTH).status_code == 404


def test_datasets_belong_to_an_existing_project(client: httpx.Client) -> None:
    orphan = client.post(
        "/api/v1/datasets/", headers=AUTH, json={"project_id": 424242, "name": "d"}
    )
    assert orphan.status_code == 404
    project = client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"}).json()
    created = client.post(
        "/api/v1/datasets/", headers=AUTH, json={"project_id": project["id"], "name": "d"}
    )
    assert created.status_code == 201
    dataset = created.json()
    assert dataset["project_id"] == project["id"]
    listed = client.get("/api/v1/datasets/", headers=AUTH).json()["data"]
    assert [d["id"] for d in listed] == [dataset["id"]]
    url = f"/api/v1/datasets/{dataset['id']}"
    assert client.get(url, headers=AUTH).json()["name"] == "d"
    assert client.delete(url, headers=AUTH).status_code == 200
    assert client.get(url, headers=AUTH).status_code == 404


def _dataset(client: httpx.Client) -> dict:
    project = client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"}).json()
    return client.post(
        "/api/v1/datasets/",
        headers=AUTH,
        json={"project_id": project["id"], "name": "d", "keywords": ["cat"], "max_images": 7},
    ).json()


def test_crawl_job_runs_to_completed_and_notifies(client: httpx.Client) -> None:
    dataset = _dataset(client)
    created = client.post(f"/api/v1/jobs/datasets/{dataset['id']}/jobs", headers=AUTH, json={})
    assert created.status_code == 201
    job = created.json()
    assert job["status"] == "pending" and job["dataset_id"] == dataset["id"]
    assert [j["id"] for j in client.get("/api/v1/jobs/", headers=AUTH).json()["data"]] == [
        job["id"]
    ]

    seen: list[str] = []

    def completed() -> dict | None:
        current = client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).json()
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        return current if current["status"] == "completed" else None

    final = _wait_for(completed)
    assert "running" in seen or final["started_at"] is not None
    assert final["progress"] == 100 and final["downloaded_images"] == 7

    notes = client.get("/api/v1/notifications/", headers=AUTH).json()
    assert notes["meta"]["total"] == 1
    assert notes["data"][0]["type"] == "job_completed"
    assert notes["data"][0]["data"]["job_id"] == job["id"]


def test_crawl_job_for_unknown_dataset_is_404_and_delete_removes(client: httpx.Client) -> None:
    assert client.post("/api/v1/jobs/datasets/31337/jobs", headers=AUTH).status_code == 404
    dataset = _dataset(client)
    job = client.post(f"/api/v1/jobs/datasets/{dataset['id']}/jobs", headers=AUTH).json()
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 200
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=AUTH).status_code == 404


def test_upload_then_download_returns_identical_bytes(client: httpx.Client) -> None:
    payload = os.urandom(300_000)
    url = "/api/v1/storage/files/sample.bin"
    uploaded = client.put(url, headers={**AUTH, "Content-Type": "image/webp"}, content=payload)
    assert uploaded.status_code == 201
    assert uploaded.json()["size"] == len(payload)
    downloaded = client.get(url, headers=AUTH)
    assert downloaded.status_code == 200
    assert downloaded.content == payload
    assert downloaded.headers["content-type"] == "image/webp"
    assert client.get(url).status_code == 401
    assert client.delete(url, headers=AUTH).status_code == 200
    assert client.get(url, headers=AUTH).status_code == 404


def test_slow_route_waits_its_configured_delay(client: httpx.Client) -> None:
    began = time.perf_counter()
    response = client.get("/api/v1/sandbox/slow")
    elapsed_ms = (time.perf_counter() - began) * 1000
    assert response.status_code == 200
    assert elapsed_ms >= 20


def test_request_log_records_each_request(sandbox: SandboxHandle, client: httpx.Client) -> None:
    project = client.post("/api/v1/projects/", headers=AUTH, json={"name": "p"}).json()
    client.get(f"/api/v1/projects/{project['id']}", headers=AUTH)
    client.get("/api/v1/auth/me")
    sandbox.faults()  # admin calls are not logged

    log = sandbox.requests()
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/api/v1/projects/", 201),
        ("GET", f"/api/v1/projects/{project['id']}", 200),
        ("GET", "/api/v1/auth/me", 401),
    ]
    assert log[1].route == "/api/v1/projects/{project_id}"
    assert all(r.duration_ms >= 0 and r.ts and r.faults == [] for r in log)
    assert [r.path for r in sandbox.requests(since=log[1].seq)] == ["/api/v1/auth/me"]


def test_round_trips_carry_no_artificial_delay(client: httpx.Client) -> None:
    # Without TCP_NODELAY on accepted sockets every answer waited ~40 ms for a delayed ACK,
    # which would distort every latency check rehearsed against the sandbox.
    timings = []
    for _ in range(30):
        began = time.perf_counter()
        assert client.get("/health").status_code == 200
        timings.append((time.perf_counter() - began) * 1000)
    assert sorted(timings)[len(timings) // 2] < 15
