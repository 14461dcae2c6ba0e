"""Smoke steps against the real sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.core import parameters as P
from runbook.core.checks import Status
from runbook.core.target import TargetParams
from runbook.phases.verify.smoke import SmokeSession, SmokeStep


@pytest.fixture()
def session(repo_root: Path, live_sandbox, sandbox_token: str, monkeypatch):
    monkeypatch.setenv("PIXCRAWLER_SANDBOX_TOKEN", sandbox_token)
    live_sandbox.set_faults(fail_routes=[], down=False, latency_ms=0)
    loaded = P.load("local", [f"target.base_url={live_sandbox.url}"], root=repo_root)
    s = SmokeSession(loaded.params.verify, loaded.params.target)
    yield s
    s.close()


def test_every_configured_step_passes_and_cleans_up(session, live_sandbox) -> None:
    results = session.remaining()
    assert [r.status for r in results] == [Status.PASS] * len(results)
    assert {"project_id", "dataset_id", "job_id"} <= set(session.captures)
    cleanup = session.cleanup()
    assert cleanup.status is Status.PASS and cleanup.observed["cleaned"] == 3
    # the project is really gone
    import httpx

    r = httpx.get(
        f"{live_sandbox.url}/api/v1/projects/{session.captures['project_id']}",
        headers={"Authorization": f"Bearer {session_token(session)}"},
    )
    assert r.status_code == 404


def session_token(session: SmokeSession) -> str:
    import os

    return os.environ[session.target.token.env]


def test_failing_route_fails_its_step_with_the_reason(session, live_sandbox) -> None:
    live_sandbox.set_faults(fail_routes=["POST /api/v1/projects/"])
    result = session.step("smoke.create-project")
    assert result.status is Status.FAIL
    assert "answered 500" in result.explanation and "expected 201" in result.explanation
    # the dependent step cannot pass: it errors naming the missing capture
    dependent = session.step("smoke.create-dataset")
    assert dependent.status is Status.ERROR and "project_id" in dependent.explanation


def test_down_target_fails_health(session, live_sandbox) -> None:
    live_sandbox.set_faults(down=True)
    result = session.step("smoke.health")
    assert result.status is Status.FAIL and "503" in result.explanation


def test_unreachable_target_is_an_error_not_a_pass(repo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIXCRAWLER_SANDBOX_TOKEN", "x")
    loaded = P.load(
        "local", ["target.base_url=http://127.0.0.1:9", "target.timeout_s=2"], root=repo_root
    )
    s = SmokeSession(loaded.params.verify, loaded.params.target)
    result = s.step("smoke.health")
    assert result.status is Status.ERROR and "cannot connect" in result.explanation


def test_without_a_token_authenticated_steps_are_inconclusive_never_failed(
    session, monkeypatch
) -> None:
    monkeypatch.delenv("PIXCRAWLER_SANDBOX_TOKEN")
    results = {r.id: r for r in session.run_all()}
    # what needs no token still runs and passes
    for step_id in ("smoke.health", "smoke.auth-required", "smoke.openapi"):
        assert results[step_id].status is Status.PASS, results[step_id].explanation
    me = results["smoke.auth-me"]
    assert me.status is Status.INCONCLUSIVE
    assert "needs a test-user token: $PIXCRAWLER_SANDBOX_TOKEN is not set" in me.explanation
    # chained steps are inconclusive too, naming the step they depend on
    dataset = results["smoke.create-dataset"]
    assert dataset.status is Status.INCONCLUSIVE
    assert "'project_id' from smoke.create-project" in dataset.explanation
    job = results["smoke.create-job"]
    assert job.status is Status.INCONCLUSIVE
    assert "'dataset_id' from smoke.create-dataset" in job.explanation
    assert "needs a test-user token" in job.explanation
    assert not any(r.status in (Status.FAIL, Status.ERROR) for r in results.values())
    cleanup = session.cleanup()
    assert cleanup.status is Status.SKIP and "nothing to clean up" in cleanup.explanation


def test_steps_come_from_the_parameters_alone(session) -> None:
    kept = [s for s in session.params.steps if s.id in ("smoke.health", "smoke.openapi")]
    session.params.steps[:] = kept
    results = list(session.run_all())
    assert [r.id for r in results] == ["smoke.health", "smoke.openapi"]
    assert all(r.status is Status.PASS for r in results)
    assert list(session.run_all()) == []  # each step runs once
    assert session.params.unknown_ids(["smoke.health", "smoke.auth-me"]) == ["smoke.auth-me"]


def test_checklist_route_the_app_no_longer_serves_is_drift_naming_the_route_to_use(session) -> None:
    steps = session.params.steps
    i = next(i for i, s in enumerate(steps) if s.id == "smoke.create-job")
    steps[i] = steps[i].model_copy(update={"checklist_route": "POST /api/v1/jobs/"})
    drift = session.checklist_drift()
    assert drift.status is Status.WARN and drift.severity.value == "warning"
    assert (
        "checklist drift: POST /api/v1/jobs/ answers 405; the route to use is "
        "POST /api/v1/jobs/datasets/{dataset_id}/jobs"
    ) in drift.explanation
    assert drift.observed["GET /api/v1/notifications/"] == 401  # served (secured)
    # a step whose own route is gone is drift with no route to use
    steps.append(steps[0].model_copy(update={"id": "smoke.gone", "path": "/api/v1/gone/"}))
    drift = session.checklist_drift()
    assert "GET /api/v1/gone/ answers 404; no other route is configured" in drift.explanation


def test_checklist_drift_passes_when_every_named_route_is_served_and_can_be_off(session) -> None:
    steps = session.params.steps
    steps[:] = [s.model_copy(update={"checklist_route": None}) for s in steps]
    drift = session.checklist_drift()
    assert drift.status is Status.PASS, drift.explanation
    session.params.checklist_drift.enabled = False
    assert session.checklist_drift().status is Status.SKIP


def test_checklist_route_must_be_method_and_path() -> None:
    with pytest.raises(ValueError, match="METHOD /path"):
        SmokeStep(id="s", title="t", path="/x", expect_status=200, checklist_route="/x")


def test_wrong_json_fails_naming_the_key(session) -> None:
    step = session.params.steps[0].model_copy(update={"expect_json": {"status": "ecstatic"}})
    session.params.steps[0] = step
    result = session.step("smoke.health")
    assert result.status is Status.FAIL and "'status' is 'healthy'" in result.explanation


def test_unknown_step_id_is_an_error_naming_the_configured_ones(session) -> None:
    result = session.step("smoke.nope")
    assert result.status is Status.ERROR and "smoke.health" in result.explanation


def test_token_is_never_recorded(session, sandbox_token: str) -> None:
    result = session.step("smoke.auth-me")
    assert result.status is Status.PASS
    assert sandbox_token not in result.model_dump_json()
    assert result.evidence["exchange"]["request"]["headers"]["Authorization"] == "<redacted>"


def test_target_headers_reject_newlines() -> None:
    with pytest.raises(ValueError):
        TargetParams(
            name="t",
            base_url="https://x.test",
            token={"env": "T"},
            headers={"X-A": "ok\r\nInjected: yes"},
        )


def test_rollback_verify_steps_naming_an_unconfigured_step_is_a_clear_parameter_error(
    session,
) -> None:
    from runbook.phases.rollback.execute import verify_functionality

    [result] = verify_functionality(
        ["smoke.health", "smoke.removed"], session.params, session.target
    )
    assert result.id == "rollback.functionality_restored" and result.status is Status.ERROR
    assert result.explanation.startswith(
        "parameter error: rollback.verify_steps names smoke.removed, which verify.steps does "
        "not configure (it has: smoke.health,"
    )


def test_rollback_verify_steps_without_a_token_are_inconclusive(session, monkeypatch) -> None:
    from runbook.phases.rollback.execute import verify_functionality

    monkeypatch.delenv("PIXCRAWLER_SANDBOX_TOKEN")
    results = {
        r.id: r
        for r in verify_functionality(
            ["smoke.health", "smoke.auth-me"], session.params, session.target
        )
    }
    assert results["rollback.verify.smoke.health"].status is Status.PASS
    assert results["rollback.verify.smoke.auth-me"].status is Status.INCONCLUSIVE
    summary = results["rollback.functionality_restored"]
    assert summary.status is Status.INCONCLUSIVE and "needs a test-user token" in (
        summary.explanation
    )


def test_docs_after_the_deploy_is_html_from_swagger_ui(session, live_sandbox) -> None:
    docs = session.step("smoke.docs")
    assert docs.status is Status.PASS, docs.explanation
    assert docs.threshold == {"status": [200], "content_type": "text/html", "text": "swagger-ui"}
    live_sandbox.set_faults(fail_routes=["GET /docs"])
    failed = session.step("smoke.docs")
    assert failed.status is Status.FAIL and "answered 500" in failed.explanation


def test_a_page_of_another_kind_fails_naming_what_it_got(session) -> None:
    json_page = SmokeStep.model_validate(
        {
            "id": "smoke.docs-json",
            "title": "t",
            "method": "GET",
            "path": "/openapi.json",
            "auth": False,
            "expect_status": 200,
            "expect_content_type": "text/html",
            "expect_text": "swagger-ui",
        }
    )
    session.params.steps.append(json_page)
    result = session.step("smoke.docs-json")
    assert result.status is Status.FAIL
    assert "Content-Type is 'application/json', expected 'text/html'" in result.explanation
    assert "'swagger-ui' not in the body" in result.explanation
