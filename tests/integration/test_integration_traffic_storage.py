"""Rate limiting, Redis health and file upload/download against real sandboxes."""

from __future__ import annotations

import httpx
from integration_support import api_listing, local_params, target_for

from runbook.core.checks import Status
from runbook.phases.verify import integration


def test_a_burst_gets_429_with_retry_after_and_spares_other_clients(sandbox, target, params, token):
    (check,) = integration.rate_limit_check(params, target)

    assert check.status is Status.PASS, check.explanation
    assert check.observed["limited_at_request"] == 41  # the sandbox allows 40 per minute
    assert check.observed["statuses"] == {"200": 40, "429": 1}
    assert 1 <= int(check.observed["retry_after"]) <= 60
    assert check.evidence["last"]["response"]["headers"]["retry-after"]
    assert check.evidence["client"] == {"auth": False, "token": None, "source_address": "127.0.0.2"}
    # the burst had its own client key: the token and 127.0.0.1 still get answers
    assert httpx.get(sandbox.url + "/health", timeout=5).status_code == 200
    assert api_listing(sandbox, token, "/api/v1/projects/") == []
    limited = [r for r in sandbox.requests() if r.status == 429]
    assert len(limited) == 1 and limited[0].faults == ["rate_limit"]


def test_no_429_within_the_bounds_fails(loose_sandbox, params):
    (check,) = integration.rate_limit_check(params, target_for(loose_sandbox.url))

    assert check.status is Status.FAIL
    assert check.explanation.startswith("no 429 in 100 requests")
    assert check.observed["statuses"] == {"200": 100}


def test_the_burst_stops_at_its_time_bound(loose_sandbox):
    params = local_params(rate_limit={"max_requests": 100_000, "max_seconds": 0.3})
    (check,) = integration.rate_limit_check(params, target_for(loose_sandbox.url))

    assert check.status is Status.FAIL
    assert 0.3 <= check.observed["elapsed_s"] < 2
    assert check.observed["requests"] < 100_000


def test_a_burst_that_never_gets_a_normal_answer_proves_nothing(sandbox, target):
    params = local_params(
        rate_limit={"request": {"path": "/api/v1/auth/me", "auth": False}, "max_requests": 20}
    )
    (check,) = integration.rate_limit_check(params, target)

    assert check.status is Status.ERROR
    assert "no request of the burst was answered 2xx" in check.explanation


def test_redis_healthy_passes_and_unhealthy_or_degraded_fails(sandbox, target, params):
    (healthy,) = integration.cache_check(params, target)
    assert healthy.status is Status.PASS
    assert healthy.observed == {"status": 200, "redis.status": "healthy"}

    for state in ("unhealthy", "degraded"):
        sandbox.set_faults(component_health={"redis": state})
        (check,) = integration.cache_check(params, target)
        assert check.status is Status.FAIL
        assert check.explanation == f"'redis.status' is '{state}'"


def test_a_health_body_without_the_redis_key_is_an_error(target):
    params = local_params(cache={"status_key": "services.redis.status"})
    (check,) = integration.cache_check(params, target)

    assert check.status is Status.ERROR
    assert "'services.redis.status' is missing" in check.explanation


def test_an_upload_downloads_identical_and_is_deleted(sandbox, target, params, token):
    upload, download, cleanup = integration.file_transfer_checks(params, target)

    assert upload.status is Status.PASS and download.status is Status.PASS
    sent = download.evidence["sent"]
    assert download.observed == {"status": 200, "bytes": 65536, "sha256": sent["sha256"]}
    assert sent["name"].startswith("runbook-integration-") and sent["name"].endswith(".bin")
    assert cleanup.status is Status.PASS and cleanup.observed["cleaned"] == 1
    assert api_listing(sandbox, token, "/api/v1/storage/files/") == []


def test_a_failing_upload_route_fails_and_the_download_is_not_claimed(
    sandbox, target, params, token
):
    sandbox.set_faults(fail_routes=["PUT /api/v1/storage/files/{name}"])

    upload, download, cleanup = integration.file_transfer_checks(params, target)

    assert upload.status is Status.FAIL and "answered 500" in upload.explanation
    assert download.status is Status.ERROR
    assert cleanup.observed["cleaned"] == 0
    assert api_listing(sandbox, token, "/api/v1/storage/files/") == []


def test_a_failing_download_route_fails_and_the_file_is_still_deleted(
    sandbox, target, params, token
):
    sandbox.set_faults(fail_routes=["GET /api/v1/storage/files/{name}"])

    upload, download, cleanup = integration.file_transfer_checks(params, target)

    assert upload.status is Status.PASS
    assert download.status is Status.FAIL and "answered 500" in download.explanation
    assert cleanup.status is Status.PASS
    assert api_listing(sandbox, token, "/api/v1/storage/files/") == []


def test_bytes_that_come_back_different_fail(sandbox, target, token):
    # the sandbox stores the raw body: a multipart upload comes back as its envelope
    params = local_params(files={"encoding": "multipart", "size_bytes": 1000})
    upload, download, _ = integration.file_transfer_checks(params, target)

    assert upload.status is Status.PASS
    assert download.status is Status.FAIL
    assert "uploaded 1000 with" in download.explanation
    assert download.observed["bytes"] > 1000
    assert api_listing(sandbox, token, "/api/v1/storage/files/") == []
