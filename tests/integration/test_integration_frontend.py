"""Frontend integration: the page answers, CORS preflights echo allowed origins only."""

from __future__ import annotations

from integration_support import ALLOWED, local_params, target_for

from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.core.target import TargetParams
from runbook.phases.verify import integration


def by_id(results):
    return {r.id: r for r in results}


def test_frontend_and_cors_pass_on_a_correctly_configured_sandbox(target, params):
    results = by_id(integration.frontend_checks(params, target))

    assert [r.status for r in results.values()] == [Status.PASS] * 3
    allowed = results["integration.cors.allowed"]
    assert allowed.observed == {o: {"status": 200, "allow_origin": o} for o in ALLOWED}
    foreign = results["integration.cors.foreign"]
    assert foreign.observed["https://runbook-foreign-origin.invalid"]["allow_origin"] is None
    page = results["integration.frontend"]
    assert page.observed["status"] == 200 and "text/html" in page.observed["content_type"]


def test_a_wildcard_cors_configuration_fails_the_foreign_origin_check(loose_sandbox, params):
    results = by_id(integration.frontend_checks(params, target_for(loose_sandbox.url)))

    assert results["integration.cors.allowed"].status is Status.PASS
    foreign = results["integration.cors.foreign"]
    assert foreign.status is Status.FAIL
    assert "runbook-foreign-origin.invalid" in foreign.explanation
    headers = foreign.evidence["preflights"]["https://runbook-foreign-origin.invalid"]["exchange"][
        "response"
    ]["headers"]
    assert headers["access-control-allow-origin"] == "https://runbook-foreign-origin.invalid"


def test_an_origin_missing_from_the_allowed_list_fails(target):
    params = local_params(cors={"allowed_origins": [*ALLOWED, "https://new.pixcrawler.test"]})
    results = by_id(integration.frontend_checks(params, target))

    allowed = results["integration.cors.allowed"]
    assert allowed.status is Status.FAIL
    assert "https://new.pixcrawler.test: answered 400" in allowed.explanation
    assert results["integration.cors.foreign"].status is Status.PASS  # others were accepted


def test_no_accepted_origin_makes_the_foreign_refusal_inconclusive(target):
    params = local_params(cors={"allowed_origins": ["https://nobody.pixcrawler.test"]})
    results = by_id(integration.frontend_checks(params, target))

    assert results["integration.cors.allowed"].status is Status.FAIL
    assert results["integration.cors.foreign"].status is Status.INCONCLUSIVE


def test_a_missing_frontend_page_fails(target):
    params = local_params(frontend={"path": "/no-such-page/"})
    page = by_id(integration.frontend_checks(params, target))["integration.frontend"]

    assert page.status is Status.FAIL
    assert "answered 404" in page.explanation


def test_a_down_target_is_an_error_not_a_refusal(
    sandbox: SandboxHandle, target: TargetParams, params
):
    sandbox.set_faults(fail_routes=["OPTIONS /api/v1/projects/"])
    results = by_id(integration.frontend_checks(params, target))

    assert results["integration.cors.allowed"].status is Status.FAIL
    assert results["integration.cors.foreign"].status is Status.ERROR
    assert "answered 500, not a CORS decision" in results["integration.cors.foreign"].explanation


def test_disabled_checks_are_skipped_without_a_request(sandbox, target):
    params = local_params(frontend={"enabled": False}, cors={"enabled": False})
    since = sandbox.requests()[-1].seq if sandbox.requests() else 0

    results = integration.frontend_checks(params, target)

    assert [r.status for r in results] == [Status.SKIP] * 3
    assert sandbox.requests(since) == []
