"""Development starts the app in its deploy phase: pre-deployment then skips the running
target's doc pages, saying where they are proved, instead of erroring on a closed port."""

from __future__ import annotations

import socket

from runbook.core.checks import Status
from runbook.phases.pre_deployment.contract.checks import schema_checks
from runbook.phases.pre_deployment.contract.params import ContractParams


def _closed() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_after_deploy_skips_each_page_naming_the_deploy_check() -> None:
    results = schema_checks(ContractParams(live_docs="after-deploy"), _closed())
    assert [r.id for r in results] == ["docs.openapi_schema", "docs.swagger_ui", "docs.redoc"]
    assert all(r.status is Status.SKIP and "deploy.docs" in r.explanation for r in results)


def test_before_deploy_a_closed_port_is_an_error_never_a_pass() -> None:
    results = schema_checks(ContractParams(), _closed())
    assert {r.status for r in results} == {Status.ERROR}
