"""fetch_schema and schema_checks against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from contract_specs import PRIVATE_TOKEN, PRIVATE_TOKEN_ENV

from runbook.core.checks import Status
from runbook.phases.pre_deployment.contract.checks import schema_checks
from runbook.phases.pre_deployment.contract.errors import (
    ContractError,
    InvalidSchema,
    SchemaUnreachable,
)
from runbook.phases.pre_deployment.contract.params import ContractParams
from runbook.phases.pre_deployment.contract.schema_source import fetch_schema


def by_id(results):
    return {r.id: r for r in results}


def test_fetch_schema_returns_the_valid_document(base_url):
    document = fetch_schema(base_url)
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/items/{item_id}" in document["paths"]


def test_schema_checks_pass_on_stock_fastapi(base_url):
    results = by_id(schema_checks(ContractParams(), base_url))
    assert {k: r.status for k, r in results.items()} == {
        "docs.openapi_schema": Status.PASS,
        "docs.swagger_ui": Status.PASS,
        "docs.redoc": Status.PASS,
    }
    schema = results["docs.openapi_schema"]
    assert schema.observed == {"openapi": schema.observed["openapi"], "paths": 1, "operations": 1}
    assert schema.evidence["info"]["version"] == "9.9.9"
    assert results["docs.swagger_ui"].evidence["status_code"] == 200
    assert results["docs.redoc"].evidence["references_schema"] is True
    for r in results.values():
        assert r.section.startswith("Pre-Deployment §3 Documentation Review")
        json.dumps(r.to_payload())


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/missing/openapi.json", "answered 404, expected 200"),
        ("/text/openapi.json", "did not return JSON"),
        ("/broken/openapi.json", "no 'openapi' version field"),
        ("/invalid/openapi.json", "'info' is a required property"),
    ],
)
def test_bad_schema_documents_fail_naming_the_problem(base_url, path, fragment):
    params = ContractParams(openapi_path=path)
    with pytest.raises(InvalidSchema, match=fragment.replace("(", r"\(")):
        fetch_schema(base_url, params)
    result = by_id(schema_checks(params, base_url))["docs.openapi_schema"]
    assert result.status is Status.FAIL
    assert fragment in result.explanation and path in result.explanation


def test_docs_pages_that_are_not_swagger_fail(base_url):
    params = ContractParams(docs_path="/broken/docs", redoc_path="/spa/docs")
    results = by_id(schema_checks(params, base_url))
    assert results["docs.swagger_ui"].status is Status.FAIL
    assert "expected text/html" in results["docs.swagger_ui"].explanation
    assert results["docs.redoc"].status is Status.FAIL
    assert "does not reference /openapi.json" in results["docs.redoc"].explanation
    missing = by_id(schema_checks(ContractParams(docs_path="/nowhere"), base_url))
    assert missing["docs.swagger_ui"].status is Status.FAIL
    assert "answered 404" in missing["docs.swagger_ui"].explanation


def test_unreachable_target_is_error_for_every_box(unreachable_url):
    with pytest.raises(SchemaUnreachable, match="ConnectError"):
        fetch_schema(unreachable_url)
    results = schema_checks(ContractParams(timeout_s=2), unreachable_url)
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert all(unreachable_url in r.explanation for r in results)


def test_timeout_is_error(base_url):
    params = ContractParams(openapi_path="/slow/openapi.json", timeout_s=0.2)
    result = by_id(schema_checks(params, base_url))["docs.openapi_schema"]
    assert result.status is Status.ERROR
    assert "Timeout" in result.explanation


def test_secret_header_comes_from_its_environment_variable(base_url, monkeypatch):
    secret = PRIVATE_TOKEN
    params = ContractParams(
        openapi_path="/private/openapi.json",
        header_secrets={"X-Docs-Token": {"env": PRIVATE_TOKEN_ENV}},
    )
    monkeypatch.delenv(PRIVATE_TOKEN_ENV, raising=False)
    with pytest.raises(ContractError, match=PRIVATE_TOKEN_ENV):
        fetch_schema(base_url, params)
    missing = by_id(schema_checks(params, base_url))["docs.openapi_schema"]
    assert missing.status is Status.ERROR

    monkeypatch.setenv(PRIVATE_TOKEN_ENV, secret)
    result = by_id(schema_checks(params, base_url))["docs.openapi_schema"]
    assert result.status is Status.PASS
    assert secret not in json.dumps(result.to_payload())
    assert secret not in repr(params)

    monkeypatch.setenv(PRIVATE_TOKEN_ENV, "wrong-token-value")
    assert by_id(schema_checks(params, base_url))["docs.openapi_schema"].status is Status.FAIL
