"""Job processing and dataset export: they pass on the sandbox, fail on its faults, and leave
no project, dataset, job or export behind."""

from __future__ import annotations

import httpx
from integration_support import api_listing, local_params

from runbook.core.checks import Severity, Status
from runbook.phases.verify import integration


def assert_nothing_left(sandbox, token):
    for path in ("/api/v1/projects/", "/api/v1/datasets/", "/api/v1/jobs/", "/api/v1/exports/"):
        assert api_listing(sandbox, token, path) == [], path


def test_a_job_runs_to_completion_and_its_data_is_removed(sandbox, target, params, token):
    check, note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.PASS, check.explanation
    assert note.id == "integration.notifications" and note.status is Status.PASS, note.explanation
    assert note.evidence["notification"]["data"]["job_id"] == check.evidence["last_json"]["id"]
    assert check.observed["status"] == "completed"
    assert [t["value"] for t in check.evidence["transitions"]][-1] == "completed"
    assert check.evidence["create"]["response"]["status"] == 201
    assert cleanup.status is Status.PASS and cleanup.severity is Severity.WARNING
    assert cleanup.observed == {"cleaned": 3, "failed": 0}  # job, dataset, project
    assert_nothing_left(sandbox, token)
    created = [r for r in sandbox.requests() if r.method == "POST"]
    assert [r.route for r in created] == [
        "/api/v1/projects/",
        "/api/v1/datasets/",
        "/api/v1/jobs/datasets/{dataset_id}/jobs",
    ]


def test_a_stalled_worker_fails_naming_the_last_status(sandbox, target, token):
    sandbox.set_faults(worker_stalled=True)
    params = local_params(jobs={"wait_s": 0.6})

    check, note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.FAIL
    assert note.status is Status.INCONCLUSIVE and "did not complete" in note.explanation
    assert "still 'pending'" in check.explanation
    assert check.observed["status"] == "pending" and check.observed["elapsed_s"] >= 0.5
    assert cleanup.status is Status.PASS
    assert_nothing_left(sandbox, token)


def test_a_failing_job_route_fails_and_still_cleans_up(sandbox, target, params, token):
    sandbox.set_faults(fail_routes=["POST /api/v1/jobs/datasets/{dataset_id}/jobs"])

    check, note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.FAIL
    assert note.status is Status.INCONCLUSIVE
    assert "answered 500" in check.explanation
    assert cleanup.observed == {"cleaned": 2, "failed": 0}
    assert_nothing_left(sandbox, token)


def test_failing_test_data_is_an_error(sandbox, target, params, token):
    sandbox.set_faults(fail_routes=["POST /api/v1/datasets/"])

    check, _note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.ERROR
    assert check.explanation.startswith("could not create the test data")
    assert cleanup.observed["cleaned"] == 1  # the project made before the failure
    assert_nothing_left(sandbox, token)


def test_a_cleanup_the_target_refuses_is_reported(sandbox, target, params, token):
    sandbox.set_faults(fail_routes=["DELETE /api/v1/projects/{project_id}"])

    check, _note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.PASS
    assert cleanup.status is Status.FAIL
    assert "DELETE /api/v1/projects/{project_id}: answered 500" in cleanup.explanation
    assert len(api_listing(sandbox, token, "/api/v1/projects/")) == 1


def test_a_completed_job_that_notifies_nobody_fails_notifications_delivered(sandbox, target, token):
    sandbox.set_faults(notifications_lost=True)
    params = local_params(jobs={"notification": {"wait_s": 1.0, "interval_s": 0.2}})

    check, note, cleanup = integration.job_processing_check(params, target)

    assert check.status is Status.PASS  # the job itself completed
    assert note.status is Status.FAIL and note.observed["reads"] >= 2
    assert "no notification of the completed job within 1 s" in note.explanation
    assert cleanup.status is Status.PASS
    assert_nothing_left(sandbox, token)


def test_an_export_downloads_as_a_zip_with_the_dataset_manifest(sandbox, target, params, token):
    check, cleanup = integration.export_check(params, target)

    assert check.status is Status.PASS, check.explanation
    assert check.observed["members"] == ["manifest.json", "README.txt"]
    dataset_id = check.observed["manifest"]["dataset_id"]
    assert isinstance(dataset_id, int)
    assert check.evidence["download"]["response"]["headers"]["content-type"] == "application/zip"
    assert check.evidence["download"]["response"]["body_excerpt"].startswith(
        f"<{check.observed['bytes']} bytes, sha256 "
    )
    assert cleanup.status is Status.PASS and cleanup.observed["cleaned"] == 3
    assert_nothing_left(sandbox, token)


def test_a_failing_export_route_fails(sandbox, target, params, token):
    sandbox.set_faults(fail_routes=["POST /api/v1/datasets/{dataset_id}/export"])

    check, _ = integration.export_check(params, target)

    assert check.status is Status.FAIL
    assert "starting the export" in check.explanation and "answered 500" in check.explanation
    assert_nothing_left(sandbox, token)


def test_a_failing_export_download_fails(sandbox, target, params, token):
    sandbox.set_faults(fail_routes=["GET /api/v1/exports/{export_id}/download"])

    check, _ = integration.export_check(params, target)

    assert check.status is Status.FAIL
    assert check.explanation == "downloading the export answered 500"
    assert_nothing_left(sandbox, token)


def test_an_export_that_never_completes_fails(sandbox, target, token):
    sandbox.set_faults(worker_stalled=True)
    params = local_params(export={"wait_s": 0.4})

    check, _ = integration.export_check(params, target)

    assert check.status is Status.FAIL
    assert "the export is still 'pending'" in check.explanation
    assert_nothing_left(sandbox, token)


def test_a_manifest_that_does_not_match_fails(target):
    params = local_params(
        export={"manifest_expect": {"dataset_id": "{dataset_id}", "format_version": 2}}
    )

    check, _ = integration.export_check(params, target)

    assert check.status is Status.FAIL
    assert check.explanation == "manifest 'format_version' is 1, expected 2"


def test_the_sandbox_refuses_a_download_before_the_export_is_ready(sandbox, token):
    sandbox.set_faults(worker_stalled=True)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sandbox.url, headers=auth, timeout=5) as client:
        project = client.post("/api/v1/projects/", json={"name": "p"}).json()
        dataset = client.post(
            "/api/v1/datasets/", json={"project_id": project["id"], "name": "d"}
        ).json()
        export = client.post(f"/api/v1/datasets/{dataset['id']}/export")
        assert export.status_code == 202 and export.json()["status"] == "pending"
        download = client.get(f"/api/v1/exports/{export.json()['id']}/download")
        assert download.status_code == 409
        assert download.json()["error"]["message"] == "Export not ready"
        assert client.get("/api/v1/exports/999999").status_code == 404
        assert client.post("/api/v1/datasets/999999/export").status_code == 404
