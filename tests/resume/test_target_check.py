"""The re-check a resume makes before it continues and before deploy or rollback: the slot
the stopped run's deploy last proved healthy must answer healthy with the same version (a real
HTTP server on 127.0.0.1 plays the target)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runbook.core.checks import CheckResult, Status
from runbook.core.parameters import Parameters, load
from runbook.orchestration.resume import TARGET_CHANGING, TARGET_CHECK_ID, target_check

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def target(version: str | None, status: int = 200) -> Iterator[str]:
    """A health route answering `status` and {"status": "healthy", "version": version}."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "healthy", "version": version}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def params_at(url: str) -> Parameters:
    """The shipped local parameters with production at `url` and a short health wait."""
    params = load("local", [], ROOT).params
    assert params.deploy is not None
    health = params.deploy.health.model_copy(update={"timeout": 1.0, "interval": 0.2})
    deploy = params.deploy.model_copy(update={"app_urls": {"production": url}, "health": health})
    return params.model_copy(update={"deploy": deploy})


def proved(version: str | None) -> CheckResult:
    """What a deploy phase's last health check recorded."""
    return CheckResult(
        id="deploy.health.production", section="Deployment Steps", title="Health check passes",
        status=Status.PASS, observed={"status": 200, "version": version},
    )  # fmt: skip


def test_the_same_version_answering_healthy_passes() -> None:
    with target("1.1.0") as url:
        check = target_check(proved("1.1.0"), params_at(url))
    assert check.id == TARGET_CHECK_ID and check.phase == "run"
    assert check.status is Status.PASS, check.explanation


def test_another_version_running_is_not_the_state_the_deploy_proved() -> None:
    with target("1.0.0") as url:
        check = target_check(proved("1.1.0"), params_at(url))
    assert check.status is not Status.PASS
    assert "'1.0.0' is running, not '1.1.0'" in check.explanation


def test_a_target_that_does_not_answer_fails_closed() -> None:
    with target("1.1.0") as url:
        pass  # stopped: nothing listens there any more
    check = target_check(proved("1.1.0"), params_at(url))
    assert check.status is Status.ERROR, check.explanation


def test_deploy_and_rollback_are_rechecked() -> None:
    assert {"deploy", "rollback"} == set(TARGET_CHANGING)
