"""'No 500 errors in logs', the Celery worker's errors and 'Custom metrics configured' from
Application Insights, through the real Logs SDK against the real stand-in, which answers from
a real sandbox's request log and the telemetry its background worker really wrote."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from monitor_support import FAILING, SANDBOX_TOKEN, traffic

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.phases.monitoring.logs import log_checks
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams
from waiting import wait_for

EXPECTED = ["crawl_jobs_started", "crawl_jobs_completed", "images_downloaded"]
NEW = ("monitor.logs.server-errors", "monitor.logs.worker-errors", "monitor.logs.custom-metrics")


def _with(params: MonitorParams, **insights: Any) -> MonitorParams:
    """The fixture's parameters with the worker role and the expected custom metrics."""
    merged = {"worker_role": "celery_core", "custom_metrics": EXPECTED, **insights}
    return params.model_copy(update={"insights": params.insights.model_validate(merged)})


def _results(params: MonitorParams, azure: AzureParams, **kwargs: Any) -> dict[str, Any]:
    return {r.id: r for r in log_checks(params, azure, **kwargs).results}


def _crawl(url: str, name: str = "cats") -> dict[str, Any]:
    """Create a project, a dataset and a crawl job; return the job once the worker is done."""
    auth = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    with httpx.Client(base_url=url, headers=auth, timeout=10) as client:
        project = client.post("/api/v1/projects/", json={"name": "p"}).json()
        dataset = client.post(
            "/api/v1/datasets/", json={"project_id": project["id"], "name": "d", "max_images": 12}
        ).json()
        job = client.post(f"/api/v1/jobs/datasets/{dataset['id']}/jobs", json={"name": name}).json()
        done: dict[str, Any] = {}

        def finished() -> bool:
            done.update(client.get(f"/api/v1/jobs/{job['id']}").json())
            return done["status"] in ("completed", "failed")

        wait_for(finished, "the sandbox's worker finishing the crawl job")
    return done


def test_a_healthy_rehearsal_passes_all_three(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=20)
    assert _crawl(sandbox.url)["status"] == "completed"
    results = _results(_with(params), azure)
    assert {results[i].status for i in NEW} == {Status.PASS}, [results[i].explanation for i in NEW]
    assert results["monitor.logs.server-errors"].observed["server_errors"] == 0
    worker = results["monitor.logs.worker-errors"]
    assert worker.observed == {"errors": 0, "telemetry": worker.observed["telemetry"]}
    assert worker.observed["telemetry"] >= 2  # the job's start and success traces
    received = results["monitor.logs.custom-metrics"].observed["received"]
    assert received["crawl_jobs_completed"] == 1 and received["crawl_jobs_started"] == 1
    assert "notifications_sent" in results["monitor.logs.custom-metrics"].observed["unexpected"]
    json.dumps([r.to_payload() for r in results.values()])


def test_5xx_answers_fail_no_500_errors_and_are_quoted(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    sandbox.set_faults(fail_routes=[f"GET {FAILING}"])
    traffic(sandbox.url, ok=30, failing=3)
    result = _results(_with(params), azure)["monitor.logs.server-errors"]
    assert result.status is Status.FAIL
    assert result.observed["server_errors"] == 3 and result.observed["requests"] == 33
    assert result.observed["by_operation"] == {f"GET {FAILING} 500": 3}
    [quoted] = result.evidence["quoted"]
    assert f"GET {FAILING} → 500 × 3" in quoted

    loose = _with(params)
    assert loose.logs is not None
    loose.logs.thresholds.max_server_errors = 3
    assert _results(loose, azure)["monitor.logs.server-errors"].status is Status.PASS


def test_no_requests_at_all_is_inconclusive_not_zero_errors(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    result = _results(_with(params), azure)["monitor.logs.server-errors"]
    assert result.status is Status.INCONCLUSIVE and "no requests" in result.explanation


def test_a_failing_task_fails_the_worker_check_quoting_it_with_secrets_masked(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    secret = "s3cr3t-value-Zq81"
    sandbox.set_faults(jobs_fail=True)
    job = _crawl(sandbox.url, name=f"cats {secret}")
    assert job["status"] == "failed"
    report = log_checks(_with(params), azure, secrets=[secret])
    results = {r.id: r for r in report.results}
    worker = results["monitor.logs.worker-errors"]
    assert worker.status is Status.FAIL
    assert worker.observed["errors"] == 2  # the error trace and the CrawlError exception
    quoted = worker.evidence["quoted"]
    assert any("CrawlError" in q for q in quoted)
    assert all(secret not in q for q in quoted) and any("***" in q for q in quoted)
    assert secret not in json.dumps([r.to_payload() for r in report.results])
    # the worker's exception is in the workspace's exceptions table too
    assert results["monitor.logs.exceptions"].observed["by_type"] == {"CrawlError": 1}
    received = results["monitor.logs.custom-metrics"].observed["received"]
    assert received["crawl_jobs_failed"] == 1


def test_a_silent_role_is_inconclusive_and_no_role_is_skipped(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=5)
    _crawl(sandbox.url)
    silent = _results(_with(params, worker_role="celery-other"), azure)
    result = silent["monitor.logs.worker-errors"]
    assert result.status is Status.INCONCLUSIVE
    assert "no trace or exception of cloud role 'celery-other'" in result.explanation
    skipped = _results(_with(params, worker_role=None), azure)["monitor.logs.worker-errors"]
    assert skipped.status is Status.SKIP and "worker_role" in skipped.explanation


def test_a_missing_custom_metric_fails_and_no_expected_names_is_inconclusive(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=5)
    _crawl(sandbox.url)
    expected = [*EXPECTED, "dataset_exports_completed"]
    result = _results(_with(params, custom_metrics=expected), azure)["monitor.logs.custom-metrics"]
    assert result.status is Status.FAIL
    assert result.observed["missing"] == ["dataset_exports_completed"]
    assert "missing: dataset_exports_completed" in result.explanation
    empty = _results(_with(params, custom_metrics=[]), azure)["monitor.logs.custom-metrics"]
    assert empty.status is Status.INCONCLUSIVE
    assert "nothing to compare" in empty.explanation
    assert "crawl_jobs_completed" in empty.observed["received"]


@pytest.mark.parametrize("role", ['x" or 1==1', "celery\ncore"])
def test_a_role_that_would_change_the_query_is_refused(role: str) -> None:
    with pytest.raises(ValueError, match="role name"):
        MonitorParams.model_validate({"insights": {"worker_role": role}})
