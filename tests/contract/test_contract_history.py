"""The contract diff on real history: path rewrites, renames, removals that always fail the
public box, long diffs summarised — and the sample whose base release had a doubled prefix."""

from __future__ import annotations

import json

import pytest
from contract_specs import document, obj, operation, ref

from rehearsal.sample_repo import materialize_sample
from runbook.core.checks import Status
from runbook.phases.pre_deployment.contract.checks import check_compatibility, contract_checks
from runbook.phases.pre_deployment.contract.diff import diff_schemas
from runbook.phases.pre_deployment.contract.errors import ContractError
from runbook.phases.pre_deployment.contract.params import (
    AcceptedChange,
    BaselineSource,
    ChangeKind,
    ContractParams,
    PathRewrite,
)
from runbook.phases.pre_deployment.contract.schema_source import generate_schema

K = ChangeKind
DOUBLED = PathRewrite.model_validate({"from": "^/api/api/v1/", "to": "/api/v1/"})


def by_id(results):
    return {r.id: r for r in results}


def kinds(diff) -> list[tuple[ChangeKind, str, object]]:
    return [(d.kind, d.operation, d.after) for d in diff.differences]


# -- the sample: its base release served /api/api/v1, this release /api/v1 ------------------


@pytest.fixture(scope="module")
def doubled_sample(tmp_path_factory):
    return materialize_sample(tmp_path_factory.mktemp("sample") / "repo", ["doubled-prefix-base"])


def sample_params(**overrides) -> ContractParams:
    return ContractParams(
        app="backend.main:app",
        python=None,
        baseline=BaselineSource(git_ref="base"),
        public_path_prefixes=["/api/v1/", "/health"],
        **overrides,
    )


def test_doubled_prefix_base_without_a_rule_is_a_prefix_move_that_fails(doubled_sample, tmp_path):
    params = sample_params()
    candidate = generate_schema(doubled_sample.path, params)
    diff, results = check_compatibility(params, candidate, doubled_sample.path, tmp_path)
    assert diff is not None
    assert {d.kind for d in diff.differences} == {K.OPERATION_RENAMED}
    first = diff.differences[0]
    assert (first.operation, first.after) == (
        "GET /api/api/v1/health/",
        "GET /api/v1/health/",
    )
    assert [(m.from_prefix, m.to_prefix, m.operations) for m in diff.prefix_moves] == [
        ("/api/api/v1/", "/api/v1/", 5)
    ]
    results = by_id(results)
    # the public box no longer passes beside operations whose paths stopped answering
    assert results["compat.no_breaking_public_api"].status is Status.FAIL
    assert results["compat.api_contracts"].status is Status.FAIL
    assert results["compat.deprecation_warnings"].status is Status.WARN
    explanation = results["compat.api_contracts"].explanation
    assert explanation.startswith("5 unaccepted breaking change(s) in all operations: ")
    assert "contract.path_rewrites [{from: '^/api/api/v1/', to: '/api/v1/'}]" in explanation
    assert results["compat.api_contracts"].observed == {
        "unaccepted": 5,
        "by_kind": {"operation-renamed": 5},
    }


def test_doubled_prefix_base_with_a_rewrite_rule_passes_and_records_it(doubled_sample, tmp_path):
    params = sample_params(path_rewrites=[DOUBLED])
    candidate = generate_schema(doubled_sample.path, params)
    diff, results = check_compatibility(params, candidate, doubled_sample.path, tmp_path)
    assert diff is not None and diff.differences == []
    assert [r.status for r in results] == [Status.PASS] * 3
    rules = results[0].evidence["path_rewrites"]
    assert rules == [{"from": "^/api/api/v1/", "to": "/api/v1/", "on": "baseline", "rewritten": 3}]
    saved = json.loads((tmp_path / "contract-diff.json").read_text())
    assert saved["path_rewrites"][0]["rewritten"][0] == ["/api/api/v1/health/", "/api/v1/health/"]
    assert saved["baseline"]["git_ref"] == "base"


def test_a_real_removal_still_fails_after_the_rewrite(tmp_path):
    sample = materialize_sample(tmp_path / "repo", ["doubled-prefix-base", "removed-endpoint"])
    params = sample_params(path_rewrites=[DOUBLED])
    candidate = generate_schema(sample.path, params)
    diff, results = check_compatibility(params, candidate, sample.path)
    assert diff is not None
    gone = diff.gone
    assert [(d.kind, d.operation, d.baseline_path) for d in gone] == [
        (
            K.OPERATION_REMOVED,
            "DELETE /api/v1/projects/{project_id}",
            "/api/api/v1/projects/{project_id}",
        )
    ]
    public = by_id(results)["compat.no_breaking_public_api"]
    assert public.status is Status.FAIL
    assert "DELETE /api/v1/projects/{project_id}: operation-removed" in public.explanation


# -- path rewrites -------------------------------------------------------------------------


def test_rewrite_rules_apply_to_the_side_they_name():
    before = document({"/api/api/v1/a": {"get": operation()}})
    after = document({"/api/v1/a": {"get": operation()}})
    assert diff_schemas(before, after, [DOUBLED]).differences == []
    # on the candidate only, the baseline's doubled path is untouched
    on_candidate = PathRewrite.model_validate(
        {**DOUBLED.model_dump(by_alias=True), "on": "candidate"}
    )
    diff = diff_schemas(before, after, [on_candidate])
    assert {d.kind for d in diff.differences} == {K.OPERATION_REMOVED, K.OPERATION_ADDED}
    assert diff.rewrites[0].rewritten == []
    # a candidate that regressed to the doubled prefix is not hidden by a baseline-only rule
    diff = diff_schemas(after, before, [DOUBLED])
    assert {d.kind for d in diff.differences} == {K.OPERATION_REMOVED, K.OPERATION_ADDED}


def test_a_rule_that_merges_two_paths_is_an_error_naming_them():
    before = document({"/api/api/v1/a": {"get": operation()}, "/api/v1/a": {"get": operation()}})
    with pytest.raises(ContractError, match="maps both /api/api/v1/a and /api/v1/a"):
        diff_schemas(before, before, [DOUBLED])


def test_rewrite_rules_are_validated():
    with pytest.raises(ValueError, match="not a regular expression"):
        PathRewrite.model_validate({"from": "^/api/(", "to": "/"})
    with pytest.raises(ValueError, match="extra_forbidden"):
        PathRewrite.model_validate({"from": "^/a", "to": "/", "side": "baseline"})


# -- renames -------------------------------------------------------------------------------


def test_same_operation_id_is_a_rename_and_breaking():
    before = document({"/jobs": {"post": operation() | {"operationId": "create_job"}}})
    after = document({"/jobs/new": {"post": operation() | {"operationId": "create_job"}}})
    diff = diff_schemas(before, after)
    assert kinds(diff) == [(K.OPERATION_RENAMED, "POST /jobs", "POST /jobs/new")]
    assert diff.breaking and "same operationId" in diff.differences[0].message


def test_one_renamed_segment_is_a_rename_but_two_unrelated_paths_are_not():
    before = document({"/items/{id}/tags": {"get": operation()}, "/a": {"get": operation()}})
    after = document({"/items/{id}/labels": {"get": operation()}, "/b": {"get": operation()}})
    assert sorted(kinds(diff_schemas(before, after)), key=str) == sorted(
        [
            (K.OPERATION_RENAMED, "GET /items/{id}/tags", "GET /items/{id}/labels"),
            (K.OPERATION_REMOVED, "GET /a", None),
            (K.OPERATION_ADDED, "GET /b", {"deprecated": False}),
        ],
        key=str,
    )


def test_a_path_parameter_renamed_is_the_same_url_and_not_breaking():
    int_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    str_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}
    before = document({"/items/{id}": {"get": operation(params=[int_id])}})
    after = document({"/items/{item_id}": {"get": operation(params=[str_id])}})
    diff = diff_schemas(before, after)
    renamed, changed = diff.differences
    assert (renamed.kind, renamed.breaking) == (K.OPERATION_RENAMED, False)
    # the parameters are compared by position: the type change is still found
    assert (changed.kind, changed.location) == (K.TYPE_CHANGED, "parameter 'item_id' (path)")
    assert diff.gone == []


def test_same_shape_is_a_rename_only_when_unambiguous():
    schemas = {"Job": obj(["id"], id={"type": "integer"})}
    job = operation(responses={"200": ref("Job")})
    # paths that share no segment: only the shape can pair them
    before = document({"/current-job": {"get": job}}, schemas)
    after = document({"/job/latest": {"get": job}}, schemas)
    diff = diff_schemas(before, after)
    assert kinds(diff) == [(K.OPERATION_RENAMED, "GET /current-job", "GET /job/latest")]
    assert "same request and response shape" in diff.differences[0].message
    two = document({"/job/latest": {"get": job}, "/job/first": {"get": job}}, schemas)
    assert {d.kind for d in diff_schemas(before, two).differences} == {
        K.OPERATION_REMOVED,
        K.OPERATION_ADDED,
    }


def test_a_renamed_operation_keeps_its_content_diff_under_the_new_name():
    before = document(
        {
            "/jobs": {
                "post": operation(body=obj(["name"], name={"type": "string"}))
                | {"operationId": "create"}
            }
        }
    )
    after_body = obj(["name", "priority"], name={"type": "string"}, priority={"type": "integer"})
    after = document({"/v2/jobs": {"post": operation(body=after_body) | {"operationId": "create"}}})
    assert kinds(diff_schemas(before, after)) == [
        (K.OPERATION_RENAMED, "POST /jobs", "POST /v2/jobs"),
        (K.REQUIRED_FIELD_ADDED, "POST /v2/jobs", "required"),
    ]


def test_a_rename_is_accepted_by_its_own_kind_or_as_a_removal():
    before = document({"/jobs": {"post": operation() | {"operationId": "create_job"}}})
    after = document({"/jobs/new": {"post": operation() | {"operationId": "create_job"}}})
    diff = diff_schemas(before, after)
    for kind in ("operation-renamed", "operation-removed"):
        accepted = AcceptedChange(
            operation="POST /jobs", kind=kind, reason="moved", announced="2026-01-01"
        )
        results = contract_checks(diff, ContractParams(accepted_changes=[accepted]))
        assert [r.status for r in results] == [Status.PASS, Status.PASS, Status.WARN]
    results = contract_checks(diff, ContractParams(detect_renames=False))
    assert results[1].status is Status.FAIL


# -- long diffs ----------------------------------------------------------------------------


def test_a_long_diff_is_counted_and_quoted_briefly_with_the_full_list_in_one_file(tmp_path):
    many = {f"/api/api/v1/resource-{i:02d}/": {"get": operation()} for i in range(67)}
    schemas = {"Thing": obj(["a", "b"], a={"type": "string"}, b={"type": "integer"})}
    many["/things"] = {"get": operation(responses={"200": ref("Thing")})}
    after_schemas = {"Thing": obj(["a"], a={"type": "string"})}
    baseline_file = tmp_path / "baseline.json"
    baseline_file.write_text(json.dumps(document(many, schemas)))
    candidate = document(
        {"/things": {"get": operation(responses={"200": ref("Thing")})}}, after_schemas
    )
    params = ContractParams(
        baseline=BaselineSource(file=baseline_file), public_path_prefixes=["/api/v1/"]
    )
    diff, results = check_compatibility(params, candidate, evidence_dir=tmp_path / "evidence")
    assert diff is not None and len(diff.breaking) == 68
    for result in results:
        assert result.status is not Status.PASS
        assert len(result.explanation) < 1200, result.explanation
        assert len(json.dumps(result.observed)) < 200
        assert result.evidence["diff_file"] == str(tmp_path / "evidence" / "contract-diff.json")
        assert "differences" not in result.evidence
    contracts, public, deprecation = results
    assert contracts.explanation.startswith(
        "68 unaccepted breaking change(s) in all operations: 67 operation-removed, "
        "1 response-field-removed; first 5: GET /api/api/v1/resource-00/: operation-removed;"
    )
    assert contracts.explanation.count("operation-removed") == 6  # the count, then 5 quoted
    assert (
        "63 more in " + str(tmp_path / "evidence" / "contract-diff.json") in contracts.explanation
    )
    assert public.observed == {"unaccepted": 67, "by_kind": {"operation-removed": 67}}
    assert deprecation.observed["removed_without_deprecation"] == 67
    saved = json.loads((tmp_path / "evidence" / "contract-diff.json").read_text())
    assert len(saved["differences"]) == 68
    assert saved["by_kind"] == {"operation-removed": 67, "response-field-removed": 1}
    # once: the three results together carry the long list nowhere
    payload = json.dumps([r.to_payload() for r in results])
    assert payload.count("resource-40") == 0


def test_without_an_evidence_folder_the_full_list_is_kept_once(tmp_path):
    before = document({f"/r{i}": {"get": operation()} for i in range(9)})
    after = document({})
    results = contract_checks(diff_schemas(before, after), ContractParams())
    assert len(results[0].evidence["differences"]) == 9
    assert all("differences" not in r.evidence for r in results[1:])
    assert "4 more in the evidence of compat.api_contracts" in results[0].explanation
