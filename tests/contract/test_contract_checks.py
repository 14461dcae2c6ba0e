"""contract_checks: blockers on unaccepted breaking changes, accepted changes, deprecations."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from contract_specs import document, obj, operation

from runbook.core.checks import Severity, Status
from runbook.core.verdict import Verdict, judge
from runbook.phases.pre_deployment.contract.checks import (
    check_compatibility,
    contract_checks,
    contract_error_checks,
)
from runbook.phases.pre_deployment.contract.diff import diff_schemas
from runbook.phases.pre_deployment.contract.params import (
    AcceptedChange,
    BaselineSource,
    ContractParams,
)

FIXTURES = Path(__file__).parent / "fixtures"
REMOVED = [  # in the diff's order: by path, then method
    "POST /api/v1/jobs/",
    "GET /api/v1/notifications/notifications",
    "PUT /api/v1/users/{user_id}",
]


def pixcrawler_diff():
    baseline = yaml.safe_load((FIXTURES / "pixcrawler_baseline.yaml").read_text())
    candidate = json.loads((FIXTURES / "pixcrawler_candidate.json").read_text())
    return diff_schemas(baseline, candidate)


def accept(operation: str) -> AcceptedChange:
    return AcceptedChange(
        operation=operation,
        kind="operation-removed",
        reason="route renamed",
        announced="https://example.invalid/changelog#2025-12",
    )


def by_id(results):
    return {r.id: r for r in results}


def test_unaccepted_breaking_changes_fail_both_blockers_listing_each():
    results = by_id(contract_checks(pixcrawler_diff(), ContractParams()))
    for check_id in ("compat.api_contracts", "compat.no_breaking_public_api"):
        result = results[check_id]
        assert result.status is Status.FAIL
        assert result.severity is Severity.BLOCKER
        assert result.section == "Pre-Deployment §4 Backward Compatibility Verification"
        assert result.observed == {
            "unaccepted": 3,
            "by_kind": {"operation-renamed": 2, "operation-removed": 1},
        }
        for op in REMOVED:
            assert op in result.explanation
        assert "to POST /api/v1/jobs/datasets/{dataset_id}/jobs" in result.explanation
        assert result.evidence["compatible_count"] == 1
        json.dumps(result.to_payload())
    assert judge(results.values()).verdict is Verdict.NO_GO


def test_accepted_changes_are_reported_and_do_not_fail():
    params = ContractParams(accepted_changes=[accept(op) for op in REMOVED])
    results = by_id(contract_checks(pixcrawler_diff(), params))
    contracts = results["compat.api_contracts"]
    assert contracts.status is Status.PASS
    assert "3 accepted as announced" in contracts.explanation
    # an accepted removal also covers the operation reported as moved elsewhere
    assert [a["difference"]["operation"] for a in contracts.evidence["accepted_first"]] == REMOVED
    assert contracts.evidence["accepted_first"][0]["announced"].startswith("https://")
    assert results["compat.no_breaking_public_api"].status is Status.PASS
    # accepted or not, these were removed without a deprecation period
    assert results["compat.deprecation_warnings"].status is Status.WARN
    assert judge(results.values()).verdict is Verdict.GO


def test_partially_accepted_fails_on_the_rest_and_lists_unused_acceptances():
    params = ContractParams(
        accepted_changes=[
            accept("POST /api/v1/jobs/"),
            accept("PUT /api/v1/users/{user_id}"),
            accept("DELETE /api/v1/never/existed"),
        ]
    )
    result = by_id(contract_checks(pixcrawler_diff(), params))["compat.api_contracts"]
    assert result.status is Status.FAIL
    assert result.observed == {"unaccepted": 1, "by_kind": {"operation-renamed": 1}}
    assert result.explanation.endswith(
        "GET /api/v1/notifications/notifications: operation-renamed to GET /api/v1/notifications/"
    )
    assert [u["operation"] for u in result.evidence["unused_acceptances"]] == [
        "DELETE /api/v1/never/existed"
    ]


def test_acceptance_must_match_kind_and_location():
    before = document(
        {
            "/a": {
                "post": operation(
                    params=[{"name": "q", "in": "query", "schema": {"type": "string"}}]
                )
            }
        }
    )
    after = document(
        {
            "/a": {
                "post": operation(
                    params=[
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
                    ]
                )
            }
        }
    )
    diff = diff_schemas(before, after)
    wrong_kind = AcceptedChange(
        operation="POST /a", kind="operation-removed", reason="r", announced="d"
    )
    wrong_location = AcceptedChange(
        operation="POST /a",
        kind="parameter-became-required",
        location="parameter 'x' (query)",
        reason="r",
        announced="d",
    )
    right = AcceptedChange(
        operation="POST /a",
        kind="parameter-became-required",
        location="parameter 'q' (query)",
        reason="r",
        announced="d",
    )
    for accepted, status in (
        (wrong_kind, Status.FAIL),
        (wrong_location, Status.FAIL),
        (right, Status.PASS),
    ):
        params = ContractParams(accepted_changes=[accepted])
        assert contract_checks(diff, params)[0].status is status


def test_public_prefixes_scope_the_public_api_box_but_a_removal_always_counts():
    before = document(
        {
            "/api/v1/a": {"get": operation(responses={"200": obj(["x"], x={"type": "string"})})},
            "/internal/b": {"get": operation()},
            "/api/v1/c": {"get": operation()},
        }
    )
    after = document({"/api/v1/a": {"get": operation(responses={"200": obj()})}})
    diff = diff_schemas(before, after)
    # a field removed outside the public prefixes is not a public change...
    params = ContractParams(public_path_prefixes=["/api/v2/"])
    public = by_id(contract_checks(diff, params))["compat.no_breaking_public_api"]
    assert by_id(contract_checks(diff, params))["compat.api_contracts"].status is Status.FAIL
    assert public.status is Status.FAIL  # ...but an operation that disappears always is
    assert public.observed == {"unaccepted": 2, "by_kind": {"operation-removed": 2}}
    assert "/api/v2/" in public.explanation and "every removed or moved" in public.explanation
    # only a path declared private escapes
    params = ContractParams(public_path_prefixes=["/api/v2/"], private_path_prefixes=["/internal/"])
    public = by_id(contract_checks(diff, params))["compat.no_breaking_public_api"]
    assert public.observed == {"unaccepted": 1, "by_kind": {"operation-removed": 1}}
    assert "GET /api/v1/c" in public.explanation and "/internal/b" not in public.explanation
    params = ContractParams(public_path_prefixes=["/api/v1/"], private_path_prefixes=["/internal/"])
    public = by_id(contract_checks(diff, params))["compat.no_breaking_public_api"]
    assert public.observed["by_kind"] == {"operation-removed": 1, "response-field-removed": 1}


def test_compatible_only_changes_pass():
    before = document({"/a": {"get": operation()}})
    after = document({"/a": {"get": operation()}, "/b": {"get": operation()}})
    results = contract_checks(diff_schemas(before, after), ContractParams())
    assert [r.status for r in results] == [Status.PASS, Status.PASS, Status.PASS]


def test_deprecation_box_warns_on_removal_without_deprecation_and_lists_new_ones():
    before = document(
        {
            "/old": {"get": operation(deprecated=True)},
            "/gone": {"get": operation()},
            "/aging": {"get": operation()},
        }
    )
    after = document({"/aging": {"get": operation(deprecated=True)}})
    deprecation = by_id(contract_checks(diff_schemas(before, after), ContractParams()))[
        "compat.deprecation_warnings"
    ]
    assert deprecation.status is Status.WARN
    assert deprecation.severity is Severity.WARNING
    assert deprecation.observed == {"removed_without_deprecation": 1, "newly_deprecated": 1}
    assert deprecation.evidence["removed_without_deprecation_first"] == ["GET /gone"]
    assert deprecation.evidence["newly_deprecated"] == ["GET /aging"]
    assert deprecation.evidence["removed_first"] == ["GET /gone", "GET /old"]
    assert "GET /gone" in deprecation.explanation


def test_deprecation_box_passes_when_removed_operations_were_deprecated_first():
    before = document({"/old": {"get": operation(deprecated=True)}, "/b": {"get": operation()}})
    after = document({"/b": {"get": operation(deprecated=True)}})
    deprecation = contract_checks(diff_schemas(before, after), ContractParams())[2]
    assert deprecation.status is Status.PASS
    assert "GET /b" in deprecation.explanation


def test_error_boxes_are_errors_and_block():
    results = contract_error_checks("baseline file x.json cannot be read")
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert judge(results).verdict is Verdict.NO_GO


def test_check_compatibility_with_a_stored_baseline_file():
    candidate = json.loads((FIXTURES / "pixcrawler_candidate.json").read_text())
    params = ContractParams(baseline=BaselineSource(file=FIXTURES / "pixcrawler_baseline.yaml"))
    diff, results = check_compatibility(params, candidate)
    assert diff is not None and len(diff.breaking) == 3 and len(diff.gone) == 3
    assert [r.status for r in results] == [Status.FAIL, Status.FAIL, Status.WARN]
