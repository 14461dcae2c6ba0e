"""ContractParams: strict models, and the example environments in fixtures/ are valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from runbook.phases.pre_deployment.contract.params import (
    AcceptedChange,
    BaselineSource,
    ChangeKind,
    ContractParams,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_defaults_follow_the_checklist():
    params = ContractParams()
    assert (params.openapi_path, params.docs_path, params.redoc_path) == (
        "/openapi.json",
        "/docs",
        "/redoc",
    )
    assert params.app == "backend.main:app"
    assert params.baseline is None and params.accepted_changes == []


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra_forbidden"):
        ContractParams(openapi_url="/openapi.json")
    with pytest.raises(ValidationError, match="extra_forbidden"):
        AcceptedChange(
            operation="GET /a", kind="operation-removed", reason="r", announced="d", ticket="X-1"
        )


def test_baseline_needs_exactly_one_source():
    with pytest.raises(ValidationError, match="exactly one"):
        BaselineSource()
    with pytest.raises(ValidationError, match="exactly one"):
        BaselineSource(file="a.json", git_ref="v1")
    assert BaselineSource(git_ref="v1").git_ref == "v1"


def test_accepted_change_is_normalised_and_validated():
    change = AcceptedChange(
        operation="post   /api/v1/jobs/",
        kind="operation-removed",
        reason="moved",
        announced="2025-12-01",
    )
    assert change.operation == "POST /api/v1/jobs/"
    assert change.kind is ChangeKind.OPERATION_REMOVED
    with pytest.raises(ValidationError, match="METHOD /path"):
        AcceptedChange(
            operation="/api/v1/jobs/", kind="operation-removed", reason="r", announced="d"
        )
    with pytest.raises(ValidationError):
        AcceptedChange(operation="GET /a", kind="route-gone", reason="r", announced="d")
    with pytest.raises(ValidationError):
        AcceptedChange(operation="GET /a", kind="operation-removed", reason="", announced="d")


def test_app_must_be_module_colon_attribute():
    assert ContractParams(app="backend.main:create_app").app == "backend.main:create_app"
    with pytest.raises(ValidationError, match=r"package\.module:attribute"):
        ContractParams(app="backend.main")


@pytest.mark.parametrize("environment", ["local", "staging", "production"])
def test_example_environment_fragments_are_valid(environment):
    examples = yaml.safe_load((FIXTURES / "contract_params_examples.yaml").read_text())
    params = ContractParams.model_validate(examples[environment]["contract"])
    assert params.baseline is not None
    assert all(ref.env.isupper() for ref in params.header_secrets.values())  # names only
