"""The whole session: everything passes on a healthy sandbox, an unreachable target is an
error everywhere, secrets stay out of results, and parameters are validated."""

from __future__ import annotations

import json
import socket

import pytest
import yaml
from integration_support import FIXTURES, api_listing, local_params, target_for
from pydantic import ValidationError

from rehearsal.sandbox.config import SandboxConfig
from runbook.core.checks import Severity, Status
from runbook.core.target import TargetParams
from runbook.phases.verify import integration
from runbook.phases.verify.integration import IntegrationParams

MAIN_IDS = [
    "integration.frontend",
    "integration.cors.allowed",
    "integration.cors.foreign",
    "integration.jobs",
    "integration.notifications",
    "integration.redis",
    "integration.files.upload",
    "integration.files.download",
    "integration.export",
    "integration.rate-limit",
]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_every_check_passes_on_a_healthy_sandbox_and_leaves_nothing(sandbox, target, params, token):
    results = integration.run_all(params, target)

    main = [r for r in results if not r.id.endswith(".cleanup")]
    assert [r.id for r in main] == MAIN_IDS
    assert {r.id: r.status for r in results} == {r.id: Status.PASS for r in results}
    assert all(r.severity is Severity.WARNING for r in results if r.id.endswith(".cleanup"))
    for path in (
        "/api/v1/projects/",
        "/api/v1/datasets/",
        "/api/v1/jobs/",
        "/api/v1/exports/",
        "/api/v1/storage/files/",
    ):
        assert api_listing(sandbox, token, path) == [], path
    text = json.dumps([r.to_payload() for r in results])
    assert token not in text


def test_an_unreachable_target_is_an_error_for_every_check(token):
    target = target_for(closed_port_url(), timeout_s=2)
    results = integration.run_all(local_params(), target)

    main = [r for r in results if not r.id.endswith(".cleanup")]
    assert [r.id for r in main] == MAIN_IDS
    assert {r.id: r.status for r in main} == {i: Status.ERROR for i in MAIN_IDS}
    assert "cannot connect" in main[0].explanation


def test_without_a_token_checks_that_need_it_are_inconclusive_naming_its_reference(sandbox, token):
    target = TargetParams(name="s", base_url=sandbox.url, token={"env": "RUNBOOK_NO_SUCH_TOKEN"})
    results = {r.id: r for r in integration.run_all(local_params(), target)}

    needs_token = [
        "integration.jobs",
        "integration.files.upload",
        "integration.files.download",
        "integration.export",
    ]
    for check_id in needs_token:
        check = results[check_id]
        assert check.status is Status.INCONCLUSIVE, check.summary_line()
        assert "needs a test-user token: $RUNBOOK_NO_SUCH_TOKEN is not set" in check.explanation
    # what needs no token (frontend, CORS, Redis health, the anonymous burst) still runs
    for check_id in (
        "integration.frontend",
        "integration.cors.allowed",
        "integration.cors.foreign",
        "integration.redis",
        "integration.rate-limit",
    ):
        assert results[check_id].status is Status.PASS, results[check_id].summary_line()
    # nothing was created, so there is nothing to clean up and no cleanup row
    assert not [i for i in results if i.endswith(".cleanup")]
    assert api_listing(sandbox, token, "/api/v1/projects/") == []
    assert token not in json.dumps([r.to_payload() for r in results.values()])


def test_a_burst_with_its_own_unset_token_is_inconclusive(sandbox, target, token):
    params = local_params(
        rate_limit={
            "request": {"method": "GET", "path": "/api/v1/auth/me"},
            "token": {"env": "RUNBOOK_NO_BURST_TOKEN"},
        }
    )
    [check] = integration.rate_limit_check(params, target)
    assert check.status is Status.INCONCLUSIVE
    assert "$RUNBOOK_NO_BURST_TOKEN is not set" in check.explanation


def test_the_authorization_header_is_redacted_in_evidence(target, params, token):
    check, *_ = integration.job_processing_check(params, target)

    headers = check.evidence["create"]["request"]["headers"]
    assert headers["Authorization"] == "<redacted>"
    assert token not in json.dumps(check.to_payload())


def test_each_session_marks_its_data_with_its_run_id(sandbox, target, params, token):
    with integration.IntegrationSession(params, target) as session:
        session.params.test_data[0].cleanup = None  # keep the project to look at it
        session.job_processing()
        run_id = session.run_id
    (project,) = api_listing(sandbox, token, "/api/v1/projects/")
    assert project["name"] == f"runbook-integration {run_id}"


def test_the_documented_fragments_are_valid_parameters():
    local = yaml.safe_load((FIXTURES / "params_local.yaml").read_text())
    IntegrationParams.model_validate(local["integration"])
    SandboxConfig.model_validate({"port": 0, **local["rehearsal"]["sandbox"]})
    staging = yaml.safe_load((FIXTURES / "params_staging.yaml").read_text())
    parsed = IntegrationParams.model_validate(staging["integration"])
    assert parsed.rate_limit.token is not None and parsed.rate_limit.token.env


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "Extra inputs are not permitted"),
        ({"jobs": {"timeout": 3}}, "Extra inputs are not permitted"),
        ({"jobs": {"poll": {"path": "/api/v1/jobs/{job}"}}}, "uses ['job']"),
        ({"cors": {"allowed_origins": []}}, "at least 1 item"),
        ({"cors": {"allowed_origins": ["https://a.test/path"]}}, "no path"),
        ({"export": {"download_url_key": None, "download": None}}, "download_url_key or download"),
        (
            {"files": {"upload": {"path": "/x", "json": {"a": 1}, "expect_status": 201}}},
            "the body is the file",
        ),
        ({"rate_limit": {"max_requests": 0}}, "greater than or equal to 1"),
    ],
)
def test_invalid_parameters_are_refused(change, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        local_params(**change)
