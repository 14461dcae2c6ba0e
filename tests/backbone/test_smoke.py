"""Smoke steps against the real sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook import params as P
from runbook.checks import Status
from runbook.smoke import SmokeSession
from runbook.target import TargetParams


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
    r = httpx.get(f"{live_sandbox.url}/api/v1/projects/{session.captures['project_id']}",
                  headers={"Authorization": f"Bearer {session_token(session)}"})
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
    loaded = P.load("local", ["target.base_url=http://127.0.0.1:9", "target.timeout_s=2"],
                    root=repo_root)
    s = SmokeSession(loaded.params.verify, loaded.params.target)
    result = s.step("smoke.health")
    assert result.status is Status.ERROR and "cannot connect" in result.explanation


def test_unset_secret_is_an_error_naming_the_reference(session, monkeypatch) -> None:
    monkeypatch.delenv("PIXCRAWLER_SANDBOX_TOKEN")
    result = session.step("smoke.auth-me")
    assert result.status is Status.ERROR and "$PIXCRAWLER_SANDBOX_TOKEN" in result.explanation


def test_wrong_json_fails_naming_the_key(session) -> None:
    step = session.params.steps[0].model_copy(update={"expect_json": {"status": "ecstatic"}})
    session.params.steps[0] = step
    result = session.step("smoke.health")
    assert result.status is Status.FAIL and "'status' is 'healthy'" in result.explanation


def test_unknown_step_id_is_an_error(session) -> None:
    assert session.step("smoke.nope").status is Status.ERROR


def test_token_is_never_recorded(session, sandbox_token: str) -> None:
    result = session.step("smoke.auth-me")
    assert result.status is Status.PASS
    assert sandbox_token not in result.model_dump_json()
    assert result.evidence["exchange"]["request"]["headers"]["Authorization"] == "<redacted>"


def test_target_headers_reject_newlines() -> None:
    with pytest.raises(ValueError):
        TargetParams(name="t", base_url="https://x.test", token={"env": "T"},
                     headers={"X-A": "ok\r\nInjected: yes"})
