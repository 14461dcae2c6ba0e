"""The unauthenticated sweep against real FastAPI apps on 127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from unauth_apps import secured_app, serve, undeclared_app

from runbook.core.checks import Status
from runbook.core.target import TargetParams
from runbook.phases.verify.smoke import SmokeParams
from runbook.phases.verify.unauth_sweep import (
    UnauthSweepParams,
    placeholder,
    select_operations,
    sweep,
)


@pytest.fixture(scope="module")
def secured_url() -> Iterator[str]:
    with serve(secured_app()) as url:
        yield url


@pytest.fixture(scope="module")
def undeclared_url() -> Iterator[str]:
    with serve(undeclared_app()) as url:
        yield url


def target(url: str) -> TargetParams:
    # the token's variable is deliberately never set: the sweep must not need it
    return TargetParams(name="t", base_url=url, token={"env": "RUNBOOK_SWEEP_TEST_UNSET"})


def by_id(results):
    return {r.id: r for r in results}


def test_every_schema_secured_operation_is_swept_and_offenders_are_named(secured_url) -> None:
    results = by_id(sweep(UnauthSweepParams(), target(secured_url)))
    summary = results["auth.sweep"]
    assert summary.status is Status.FAIL
    assert summary.observed["selected_by"] == "the schema's security marks"
    # 4 items + 2 reports + broken + plain; the public health routes are not secured
    assert summary.observed["operations"] == 8
    swept = {line.split(" -> ")[0] for line in summary.evidence["swept"]}
    assert "GET /health" not in swept and "GET /api/v1/health/" not in swept
    offenders = {o["route"]: o["outcome"] for o in summary.evidence["offenders"]}
    assert offenders == {
        "GET /api/v1/reports/{report_id}": "open",
        "GET /api/v1/broken/": "server error",
        "GET /api/v1/plain/": "no envelope",
    }
    assert "GET /api/v1/reports/{report_id} answered 200 without credentials" in (
        summary.explanation
    )
    # one result per route group: Items all refused, Reports has the open one
    assert results["auth.sweep.items"].status is Status.PASS
    assert results["auth.sweep.items"].observed == {"refused": 4}
    assert results["auth.sweep.reports"].status is Status.FAIL
    assert results["auth.sweep.broken"].status is Status.FAIL
    # path parameters were filled by type (a zero UUID, 0), the body was {}
    urls = {
        o["route"]: o["url"]
        for r in results.values()
        if r.id != "auth.sweep"
        for o in r.evidence["operations"]
    }
    assert urls["GET /api/v1/items/{item_id}"].endswith(
        "/api/v1/items/00000000-0000-0000-0000-000000000000"
    )
    assert urls["DELETE /api/v1/items/{item_id}"].endswith("/api/v1/items/0")


def test_a_foreign_target_without_the_envelope_passes_when_the_envelope_is_off(secured_url) -> None:
    params = UnauthSweepParams(
        envelope=None,
        expect_status=[401, 403],
        public=["/health", "/api/v1/health/", "/api/v1/reports/*", "GET /api/v1/broken/"],
    )
    summary = by_id(sweep(params, target(secured_url)))["auth.sweep"]
    assert summary.status is Status.PASS, summary.explanation
    assert summary.observed["operations"] == 5  # 4 items (401 + envelope) + plain (401 + detail)
    only_plain = UnauthSweepParams(public=["/api/v1/[!p]*", "/health"])
    summary = by_id(sweep(only_plain, target(secured_url)))["auth.sweep"]
    assert summary.status is Status.FAIL and summary.observed["operations"] == 1
    assert "set verify.unauthenticated.envelope: null" in summary.explanation


def test_without_declared_security_the_protected_prefixes_are_swept(undeclared_url) -> None:
    results = by_id(sweep(UnauthSweepParams(envelope=None), target(undeclared_url)))
    summary = results["auth.sweep"]
    assert summary.observed["selected_by"] == "the protected prefixes /api/v1/"
    swept = {line.split(" -> ")[0] for line in summary.evidence["swept"]}
    assert swept == {"GET /api/v1/things/", "PUT /api/v1/things/{name}", "GET /api/v1/open/"}
    assert summary.status is Status.FAIL
    assert [o["route"] for o in summary.evidence["offenders"]] == ["GET /api/v1/open/"]
    assert results["auth.sweep.things"].status is Status.PASS


def test_explanation_lists_the_first_few_and_evidence_all(secured_url) -> None:
    params = UnauthSweepParams(expect_status=[403], show=2)
    summary = by_id(sweep(params, target(secured_url)))["auth.sweep"]
    assert summary.status is Status.FAIL
    assert len(summary.evidence["offenders"]) == 8
    assert "and 6 more (all in the evidence)" in summary.explanation


def test_max_operations_bounds_the_sweep_and_says_what_was_left(secured_url) -> None:
    params = UnauthSweepParams(
        max_operations=2,
        public=["/health", "/api/v1/health/", "/api/v1/reports/*", "/api/v1/b*", "/api/v1/plain/"],
    )
    summary = by_id(sweep(params, target(secured_url)))["auth.sweep"]
    assert summary.observed["operations"] == 2 and summary.observed["not_swept"] == 2
    assert summary.status is Status.INCONCLUSIVE
    assert "beyond max_operations (2) not swept" in summary.explanation


def test_unreachable_or_schemaless_target_says_why(secured_url) -> None:
    down = sweep(UnauthSweepParams(timeout_s=2), target("http://127.0.0.1:9"))
    assert [r.status for r in down] == [Status.ERROR]
    assert "needs the target's OpenAPI schema" in down[0].explanation
    missing = sweep(
        UnauthSweepParams(schema_path="/nope.json", docs_path=None), target(secured_url)
    )
    assert [r.status for r in missing] == [Status.INCONCLUSIVE]
    assert "answered 404" in missing[0].explanation


def test_disabled_sweep_is_a_skip() -> None:
    [result] = sweep(UnauthSweepParams(enabled=False), target("http://127.0.0.1:9"))
    assert result.status is Status.SKIP


def test_schema_without_matching_operations_is_inconclusive(undeclared_url) -> None:
    params = UnauthSweepParams(protected_prefixes=["/admin/"])
    [result] = sweep(params, target(undeclared_url))
    assert result.status is Status.INCONCLUSIVE and "nothing to sweep" in result.explanation


def test_selection_rules_on_a_schema() -> None:
    schema = {
        "security": [{"bearer": []}],
        "paths": {
            "/a/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "schema": {"$ref": "#/components/schemas/Kind"}}
                ],
                "get": {},
                "post": {"security": []},
            },
            "/b": {
                "get": {"security": [{}, {"bearer": []}]},
                "delete": {
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ]
                },
            },
        },
        "components": {"schemas": {"Kind": {"enum": ["cat", "dog"]}}},
    }
    ops, how = select_operations(schema, UnauthSweepParams(protected_prefixes=[]))
    assert how == "the schema's security marks"
    # global security applies; `security: []` and an anonymous alternative ({}) are public
    assert [(o.route, o.url_path) for o in ops] == [
        ("GET /a/{id}", "/a/cat"),
        ("DELETE /b", "/b?q=0"),
    ]
    assert placeholder({}, {"anyOf": [{"type": "null"}, {"type": "string", "format": "uuid"}]}) == (
        "00000000-0000-0000-0000-000000000000"
    )


def test_sweep_parameters_live_in_the_verify_section() -> None:
    params = SmokeParams.model_validate(
        {"steps": [], "unauthenticated": {"expect_status": [401, 403], "envelope": None}}
    )
    assert params.unauthenticated.expect_status == [401, 403]
    assert params.unauthenticated.envelope is None
    with pytest.raises(ValueError, match="between 100 and 599"):
        UnauthSweepParams(expect_status=[42])


def test_a_schema_served_elsewhere_is_found_through_the_apps_own_swagger_page() -> None:
    """full-stack-fastapi-template serves /api/v1/openapi.json: the default /openapi.json is
    404, and the sweep reads the schema URL off /docs instead of giving up."""
    from fastapi import Depends, FastAPI
    from fastapi.security import HTTPBearer

    app = FastAPI(openapi_url="/api/v1/openapi.json")

    @app.get("/api/v1/items/", dependencies=[Depends(HTTPBearer())])
    def items() -> list[str]:
        return []

    params = UnauthSweepParams(expect_status=[401, 403], envelope=None)
    with serve(app) as url:
        summary = by_id(sweep(params, target(url)))["auth.sweep"]
        blind = by_id(sweep(params.model_copy(update={"docs_path": None}), target(url)))
    assert summary.status is Status.PASS, summary.explanation
    assert summary.observed["operations"] == 1
    assert blind["auth.sweep"].status is Status.INCONCLUSIVE  # 404, and no page to ask
