"""Without a token the authenticated routes are not loaded (INCONCLUSIVE, saying why) and the
figures draw an empty state; a database the target reports unhealthy fails quoting its reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from perf_support import ME, SLOW, TOKEN_ENV, short_params

from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.core.target import TargetParams
from runbook.phases.performance.figures import error_rate_figure, latency_figure
from runbook.phases.performance.target import database_check, run_target_load
from runbook.phases.performance.verdicts import database_time_check, load_checks

UNSET = "PERF_TEST_TOKEN_NEVER_SET"


def by_id(checks: list) -> dict:
    return {c.id: c for c in checks}


def target(url: str, env: str = UNSET) -> TargetParams:
    return TargetParams(name="t", base_url=url, token={"env": env})


def test_without_a_token_only_unauthenticated_routes_run_and_the_others_say_why(
    perf_sandbox: SandboxHandle,
) -> None:
    params = short_params()
    load = run_target_load(params, target(perf_sandbox.url))
    assert load.routes == [f"GET {SLOW}"]
    assert load.header_names == []  # nothing secret was sent
    checks = by_id(load_checks(load, params))
    assert checks[f"perf.p95.GET {SLOW}"].status is Status.PASS
    me = checks[f"perf.p95.GET {ME}"]
    assert me.status is Status.INCONCLUSIVE
    assert me.explanation == f"GET {ME} not loaded: needs a test-user token: ${UNSET} is not set"
    assert checks["perf.error_rate"].status is Status.PASS
    assert f"not loaded: GET {ME}" in checks["perf.error_rate"].explanation
    assert not any(c.status in (Status.FAIL, Status.ERROR) for c in checks.values())


def test_with_only_authenticated_routes_and_no_token_nothing_runs_and_nothing_crashes(
    perf_sandbox: SandboxHandle, tmp_path
) -> None:
    params = short_params(routes=[{"path": ME}])
    load = run_target_load(params, target(perf_sandbox.url))
    checks = load_checks(load, params)
    assert {c.status for c in checks} == {Status.INCONCLUSIVE}
    assert {c.id for c in checks} == {
        "perf.probe",
        f"perf.p95.GET {ME}",
        "perf.error_rate",
        "perf.rollback_lines",
    }
    assert all("needs a test-user token" in c.explanation for c in checks)
    for figure in (latency_figure(load, params), error_rate_figure(load, params)):
        texts = [t.get_text() for t in figure.axes[0].texts]
        assert texts and texts[0].startswith("nothing to plot: needs a test-user token")
        figure.savefig(tmp_path / "f.png")  # renders
    load.save(tmp_path / "evidence")


def test_with_the_token_every_route_runs(
    perf_sandbox: SandboxHandle, perf_token: str, monkeypatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, perf_token)
    load = run_target_load(short_params(), target(perf_sandbox.url, TOKEN_ENV))
    assert load.routes == [f"GET {SLOW}", f"GET {ME}"]
    assert "skipped_routes" not in load.probe


def test_a_database_the_sandbox_reports_unhealthy_fails_quoting_its_reason(
    perf_sandbox: SandboxHandle,
) -> None:
    perf_sandbox.set_faults(component_health={"database": "unhealthy"})
    result = database_check(short_params(), target(perf_sandbox.url))
    assert result.status is Status.FAIL
    assert result.explanation == (
        "GET /api/v1/health/detailed reports the database unhealthy: database unhealthy (sandbox)"
    )
    perf_sandbox.set_faults(component_health={"database": "degraded"})
    assert database_check(short_params(), target(perf_sandbox.url)).status is Status.FAIL


class _Health(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, Any]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers[self.path]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def health_server() -> Iterator[str]:
    _Health.answers = {
        "/down": (
            503,
            {
                "status": "unhealthy",
                "database": {
                    "status": "unhealthy",
                    "error": "connection refused: db.internal:5432",
                },
            },
        ),
        "/silent": (200, {"status": "healthy", "redis": {"status": "healthy"}}),
        "/noreason": (200, {"database": {"status": "degraded"}}),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_unhealthy_database_behind_a_503_fails_with_the_targets_reason(health_server) -> None:
    result = database_time_check(health_server, "/down", samples=1)
    assert result.status is Status.FAIL
    assert "reports the database unhealthy: connection refused: db.internal:5432" in (
        result.explanation
    )
    assert "no number" not in result.explanation


def test_only_a_body_silent_about_the_database_is_inconclusive(health_server) -> None:
    silent = database_time_check(health_server, "/silent", samples=1)
    assert silent.status is Status.INCONCLUSIVE
    assert "says nothing about the database" in silent.explanation
    degraded = database_time_check(health_server, "/noreason", samples=1)
    assert degraded.status is Status.FAIL
    assert "degraded: the target gives no reason" in degraded.explanation
