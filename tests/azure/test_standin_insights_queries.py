"""The stand-in's Logs answers to the 5xx, worker and custom-metric query shapes, over HTTPS as
a client sees them, computed from a real sandbox's request log and telemetry (its own
stand-in here: the session one of this folder plays no sandbox)."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rehearsal.azure_standin.config import SiteSpec, StandinConfig
from rehearsal.azure_standin.process import StandinHandle, start_standin
from rehearsal.sandbox.server import SandboxHandle
from runbook.phases.monitoring.params import LogQueries
from waiting import wait_for

SITE = "pixcrawler-prod"
ACCEPT_ENV = "INSIGHTS_QUERIES_STANDIN_TOKEN"
TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def standin_on_sandbox(
    tmp_path_factory: pytest.TempPathFactory, live_sandbox: SandboxHandle
) -> Iterator[StandinHandle]:
    config = StandinConfig(
        subscription_id="11111111-2222-3333-4444-555555555555",
        resource_group="pixcrawler-rg",
        accept_token_env=ACCEPT_ENV,
        sites={SITE: SiteSpec(sandbox_url=live_sandbox.url)},
    )
    with start_standin(
        config, tmp_path_factory.mktemp("insights-standin"), env={ACCEPT_ENV: TOKEN}
    ) as handle:
        yield handle


@pytest.fixture
def sandbox(live_sandbox: SandboxHandle) -> SandboxHandle:
    live_sandbox.reset()
    return live_sandbox


def _query(standin: StandinHandle, kql: str) -> tuple[int, Any]:
    trust = ssl.create_default_context(cafile=str(standin.ca_bundle))
    with httpx.Client(base_url=standin.url, verify=trust, timeout=10) as client:
        response = client.post(
            "/v1/workspaces/any-workspace/query",
            json={"query": kql, "timespan": "PT10M"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    return response.status_code, response.json()


def _rows(standin: StandinHandle, kql: str) -> list[dict[str, Any]]:
    status, body = _query(standin, kql)
    assert status == 200, body
    [table] = body["tables"]
    names = [c["name"] for c in table["columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["rows"]]


def _api(sandbox: SandboxHandle, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
    )


def _one_job(sandbox: SandboxHandle, token: str) -> str:
    """Run one crawl job through the sandbox's worker; its final status."""
    with _api(sandbox, token) as client:
        project = client.post("/api/v1/projects/", json={"name": "p"}).json()
        dataset = client.post(
            "/api/v1/datasets/", json={"project_id": project["id"], "name": "d", "max_images": 7}
        ).json()
        job = client.post(f"/api/v1/jobs/datasets/{dataset['id']}/jobs").json()
        return str(
            wait_for(
                lambda: (
                    {"completed", "failed"}
                    & {client.get(f"/api/v1/jobs/{job['id']}").json()["status"]}
                ),
                "the job finishing",
            ).pop()
        )


def test_server_errors_are_grouped_by_route_template_and_code(
    standin_on_sandbox: StandinHandle, sandbox: SandboxHandle, sandbox_token: str
) -> None:
    sandbox.set_faults(fail_routes=["GET /api/v1/projects/{project_id}"])
    with _api(sandbox, sandbox_token) as client:
        for project_id in (1, 2, 3):
            assert client.get(f"/api/v1/projects/{project_id}").status_code == 500
        assert client.get("/health").status_code == 200
    rows = _rows(standin_on_sandbox, LogQueries().server_errors)
    assert [(r["Name"], r["ResultCode"], r["count_"]) for r in rows] == [
        ("GET /api/v1/projects/{project_id}", "500", 3)
    ]
    assert rows[0]["first_seen"] <= rows[0]["last_seen"]


def test_worker_queries_answer_the_named_role_only_and_custom_metrics_by_name(
    standin_on_sandbox: StandinHandle, sandbox: SandboxHandle, sandbox_token: str
) -> None:
    sandbox.set_faults(jobs_fail=True)
    assert _one_job(sandbox, sandbox_token) == "failed"
    sandbox.set_faults(jobs_fail=False)
    assert _one_job(sandbox, sandbox_token) == "completed"
    q = LogQueries()

    def worker(kql: str, role: str) -> list[dict[str, Any]]:
        return _rows(
            standin_on_sandbox,
            kql.replace("{role}", role).replace("{severity}", "3").replace("{limit}", "1"),
        )

    [activity] = worker(q.worker_activity, "celery_core")
    # two start traces, one success trace; the failure: an error trace and a CrawlError exception
    assert activity["telemetry"] == 5 and activity["errors"] == 2
    [first] = worker(q.worker_errors, "celery_core")  # take 1
    assert first["ItemType"] == "AppTraces" and first["SeverityLevel"] == 3
    assert "CrawlError" in first["Message"] and first["OperationName"] == "pixcrawler.crawl_job"
    [other] = worker(q.worker_activity, "someone-else")
    assert other["telemetry"] == 0 and other["first_seen"] is None
    metrics = {r["Name"]: r for r in _rows(standin_on_sandbox, q.custom_metrics)}
    assert metrics["crawl_jobs_started"]["records"] == 2
    assert metrics["crawl_jobs_failed"]["records"] == 1
    assert metrics["images_downloaded"]["value_sum"] == 7.0
    assert metrics["notifications_sent"]["records"] == 2


@pytest.mark.parametrize(
    ("kql", "needs"),
    [
        (
            "// runbook:worker-activity\nunion AppTraces, AppExceptions | where SeverityLevel >= 3",
            "AppRoleName",
        ),
        (
            '// runbook:worker-errors\nunion AppTraces | where AppRoleName == "celery_core"',
            "SeverityLevel",
        ),
    ],
)
def test_a_worker_query_without_its_filter_is_refused_saying_which(
    standin_on_sandbox: StandinHandle, sandbox: SandboxHandle, kql: str, needs: str
) -> None:
    status, body = _query(standin_on_sandbox, kql)
    assert status == 400
    assert body["error"]["code"] == "UnsupportedQuery" and needs in body["error"]["message"]
