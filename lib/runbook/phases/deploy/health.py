"""Is the deployed app healthy? One answer judged, and a wait until healthy (fail closed)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.params import DeployParams, HealthParams
from runbook.phases.deploy.results import deploy_result
from runbook.providers.http import Exchange, exchange


def judge_health(answer: Exchange, health: HealthParams, expect_version: str | None) -> str | None:
    """None when the answer is healthy (status, JSON fields, version); else why it is not."""
    if answer.error is not None:
        return answer.error
    if answer.status != health.expected_status:
        return f"HTTP {answer.status} (expected {health.expected_status})"
    body = answer.json if isinstance(answer.json, dict) else None
    if health.expected_json or expect_version is not None:
        if body is None:
            return "the answer is not a JSON object"
        wrong = {k: body.get(k) for k, v in health.expected_json.items() if body.get(k) != v}
        if wrong:
            return f"unexpected JSON values {wrong} (expected {health.expected_json})"
    if expect_version is not None and health.version_field is not None:
        running = (body or {}).get(health.version_field)
        if running != expect_version:
            return f"version {running!r} is running, not {expect_version!r}"
    return None


def running_version(answer: Exchange, health: HealthParams) -> Any:
    """The version the health answer names (None if it names none)."""
    if health.version_field is None or not isinstance(answer.json, dict):
        return None
    return answer.json.get(health.version_field)


def wait_healthy(
    params: DeployParams,
    slot: str,
    *,
    expect_version: str | None = None,
    title: str | None = None,
) -> CheckResult:
    """Poll the slot's health route until healthy (PASS) or timeout (FAIL if it answered, ERROR)."""
    health = params.health
    title = title or params.labels.healthy
    key = f"health.{slot}"
    base = params.app_url(slot)
    threshold = {
        "route": health.route,
        "status": health.expected_status,
        "json": health.expected_json,
        "version": expect_version,
        "within_s": health.timeout,
    }
    if base is None:
        return deploy_result(
            params, key, title, Status.ERROR, threshold=threshold,
            explanation=f"no app URL configured for slot {slot!r} (app_urls)",
        )  # fmt: skip
    url = base + health.route
    began = time.monotonic()
    deadline = began + health.timeout
    attempts: list[dict[str, Any]] = []
    last: Exchange | None = None
    answered = False
    with httpx.Client(timeout=health.request_timeout) as http:
        while True:
            last = exchange(http, "GET", url)
            why = judge_health(last, health, expect_version)
            answered = answered or last.error is None
            attempts.append({
                "t": round(time.monotonic() - began, 3), "status": last.status,
                "version": running_version(last, health), "problem": why,
            })  # fmt: skip
            if why is None or time.monotonic() + health.interval > deadline:
                break
            time.sleep(health.interval)
    seconds = round(time.monotonic() - began, 3)
    evidence = {"url": url, "attempts": attempts[-50:], "attempt_count": len(attempts),
                "last": last.evidence()}  # fmt: skip
    observed = {"status": last.status, "version": running_version(last, health), "seconds": seconds}
    if why is None:
        status, text = Status.PASS, f"{url} healthy after {seconds} s ({len(attempts)} polls)"
    elif answered:
        status, text = Status.FAIL, f"{url} not healthy within {health.timeout:g} s: {why}"
    else:
        status, text = Status.ERROR, f"{url} never answered within {health.timeout:g} s: {why}"
    return deploy_result(
        params, key, title, status,
        observed=observed, threshold=threshold, explanation=text, evidence=evidence,
    )  # fmt: skip
