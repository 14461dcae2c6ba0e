"""diff_schemas: every breaking and compatible kind on its own, refs, cycles, the real drift."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import yaml
from contract_specs import document, obj, operation, param, ref
from fastapi_jobs_app import jobs_api_schema

from runbook.phases.pre_deployment.contract.diff import diff_schemas, list_operations
from runbook.phases.pre_deployment.contract.params import AcceptedChange, ChangeKind
from runbook.phases.pre_deployment.contract.schema_source import validate_openapi

FIXTURES = Path(__file__).parent / "fixtures"
K = ChangeKind


def rows(before: dict, after: dict) -> list[tuple[ChangeKind, bool, str, str]]:
    for doc in (before, after):
        validate_openapi(doc, "test document")  # the fixtures themselves are valid OpenAPI
    diff = diff_schemas(before, after)
    return [(d.kind, d.breaking, d.operation, d.location) for d in diff.differences]


def diff_within(before: dict, after: dict, seconds: float = 10):
    """diff_schemas, failing (not hanging) when it does not finish in time."""
    box = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("diff", diff_schemas(before, after)), daemon=True
    )
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"diff_schemas did not finish within {seconds}s"
    return box["diff"]


def one_op(op: dict, path: str = "/items", method: str = "post", schemas=None) -> dict:
    return document({path: {method: op}}, schemas)


# -- the real PixCrawler drift ---------------------------------------------------------------


def test_pixcrawler_route_drift_is_two_renames_a_removal_and_an_addition():
    baseline = yaml.safe_load((FIXTURES / "pixcrawler_baseline.yaml").read_text())
    candidate = json.loads((FIXTURES / "pixcrawler_candidate.json").read_text())
    diff = diff_schemas(baseline, candidate)
    # create_job and list_notifications keep their operationId: moved, not gone and new
    assert sorted((d.kind, d.operation, d.after) for d in diff.breaking) == [
        (K.OPERATION_REMOVED, "PUT /api/v1/users/{user_id}", None),
        (
            K.OPERATION_RENAMED,
            "GET /api/v1/notifications/notifications",
            "GET /api/v1/notifications/",
        ),
        (K.OPERATION_RENAMED, "POST /api/v1/jobs/", "POST /api/v1/jobs/datasets/{dataset_id}/jobs"),
    ]  # the new path's {dataset_id} is part of the move, not a separate change
    assert sorted((d.kind, d.operation) for d in diff.compatible) == [
        (K.OPERATION_ADDED, "PATCH /api/v1/users/{user_id}"),
    ]
    assert [d.operation for d in diff.gone] == [
        "POST /api/v1/jobs/",
        "GET /api/v1/notifications/notifications",
        "PUT /api/v1/users/{user_id}",
    ]
    assert (diff.operations_before, diff.operations_after) == (5, 5)
    assert list_operations(baseline) == [
        "GET /api/v1/jobs/",
        "POST /api/v1/jobs/",
        "GET /api/v1/notifications/notifications",
        "PUT /api/v1/users/{user_id}",
        "GET /health",
    ]
    assert (diff.baseline_version, diff.candidate_version) == ("1.0.0", "2.0.0")
    removed = next(d for d in diff.breaking if d.operation == "PUT /api/v1/users/{user_id}")
    assert removed.before == {"deprecated": False}
    assert "without prior deprecation" in removed.message
    moved = next(d for d in diff.breaking if d.operation == "POST /api/v1/jobs/")
    assert "same operationId" in moved.message and "not deprecated first" in moved.message
    assert diff_schemas(baseline, candidate, detect_renames=False).breaking[0].kind is (
        K.OPERATION_REMOVED
    )


def test_identical_documents_have_no_differences():
    baseline = yaml.safe_load((FIXTURES / "pixcrawler_baseline.yaml").read_text())
    assert diff_schemas(baseline, baseline).differences == []


# -- breaking kinds, each on its own -------------------------------------------------------


def test_operation_removed_is_breaking():
    before = document({"/a": {"get": operation(), "delete": operation()}})
    after = document({"/a": {"get": operation()}})
    assert rows(before, after) == [(K.OPERATION_REMOVED, True, "DELETE /a", "operation")]


def test_whole_path_removed_reports_each_operation():
    before = document({"/a": {"get": operation(), "post": operation()}, "/b": {"get": operation()}})
    after = document({"/b": {"get": operation()}})
    assert {(k, b, o) for k, b, o, _ in rows(before, after)} == {
        (K.OPERATION_REMOVED, True, "GET /a"),
        (K.OPERATION_REMOVED, True, "POST /a"),
    }


def test_required_parameter_added_is_breaking():
    before = one_op(operation(), method="get")
    after = one_op(operation(params=[param("tenant", required=True)]), method="get")
    assert rows(before, after) == [
        (K.REQUIRED_PARAMETER_ADDED, True, "GET /items", "parameter 'tenant' (query)")
    ]


def test_optional_parameter_becoming_required_is_breaking():
    before = one_op(operation(params=[param("page")]), method="get")
    after = one_op(operation(params=[param("page", required=True)]), method="get")
    assert rows(before, after) == [
        (K.PARAMETER_BECAME_REQUIRED, True, "GET /items", "parameter 'page' (query)")
    ]


def test_required_request_body_field_added_is_breaking():
    before = one_op(operation(body=obj(["name"], name={"type": "string"})))
    after = one_op(
        operation(body=obj(["name", "owner"], name={"type": "string"}, owner={"type": "string"}))
    )
    assert rows(before, after) == [
        (K.REQUIRED_FIELD_ADDED, True, "POST /items", "request body field 'owner'")
    ]


def test_request_field_becoming_required_is_breaking():
    before = one_op(operation(body=obj(name={"type": "string"})))
    after = one_op(operation(body=obj(["name"], name={"type": "string"})))
    assert rows(before, after) == [
        (K.FIELD_BECAME_REQUIRED, True, "POST /items", "request body field 'name'")
    ]


def test_required_request_body_added_is_breaking():
    before = one_op(operation())
    after = one_op(operation(body=obj(name={"type": "string"})))
    assert rows(before, after) == [(K.REQUIRED_BODY_ADDED, True, "POST /items", "request body")]


def test_response_field_removed_is_breaking():
    before = one_op(
        operation(responses={"200": obj(id={"type": "integer"}, tag={"type": "string"})})
    )
    after = one_op(operation(responses={"200": obj(id={"type": "integer"})}))
    assert rows(before, after) == [
        (K.RESPONSE_FIELD_REMOVED, True, "POST /items", "response 200 field 'tag'")
    ]


def test_nested_response_field_removed_inside_array_items():
    item_b = obj(
        id={"type": "integer"}, owner=obj(name={"type": "string"}, email={"type": "string"})
    )
    item_a = obj(id={"type": "integer"}, owner=obj(name={"type": "string"}))
    before = one_op(operation(responses={"200": {"type": "array", "items": item_b}}), method="get")
    after = one_op(operation(responses={"200": {"type": "array", "items": item_a}}), method="get")
    assert rows(before, after) == [
        (K.RESPONSE_FIELD_REMOVED, True, "GET /items", "response 200 field '[].owner.email'")
    ]


def test_field_type_changed_is_breaking():
    before = one_op(operation(body=obj(count={"type": "integer"})))
    after = one_op(operation(body=obj(count={"type": "string"})))
    diff = diff_schemas(before, after)
    assert [(d.kind, d.breaking, d.location, d.before, d.after) for d in diff.differences] == [
        (K.TYPE_CHANGED, True, "request body field 'count'", ["integer"], ["string"])
    ]


def test_parameter_type_changed_is_breaking():
    before = one_op(operation(params=[param("id", "path", True, type="integer")]), "/items/{id}")
    after = one_op(operation(params=[param("id", "path", True, type="string")]), "/items/{id}")
    assert rows(before, after) == [
        (K.TYPE_CHANGED, True, "POST /items/{id}", "parameter 'id' (path)")
    ]


def test_success_status_removed_is_breaking():
    before = one_op(operation(responses={"200": obj(), "202": None, "404": obj()}))
    after = one_op(operation(responses={"200": obj(), "404": obj()}))
    assert rows(before, after) == [(K.SUCCESS_STATUS_REMOVED, True, "POST /items", "response 202")]


def test_status_200_becoming_201_is_a_removal_and_an_addition():
    before = one_op(operation(responses={"200": obj()}))
    after = one_op(operation(responses={"201": obj()}))
    assert rows(before, after) == [
        (K.SUCCESS_STATUS_REMOVED, True, "POST /items", "response 200"),
        (K.SUCCESS_STATUS_ADDED, False, "POST /items", "response 201"),
    ]


def test_error_status_changes_are_ignored():
    before = one_op(operation(responses={"200": obj(), "404": obj()}))
    after = one_op(operation(responses={"200": obj(), "422": obj()}))
    assert rows(before, after) == []


def test_enum_value_removed_in_request_and_response_is_breaking():
    status_b = {"type": "string", "enum": ["pending", "running", "cancelled"]}
    status_a = {"type": "string", "enum": ["pending", "running"]}
    before = one_op(operation(params=[param("s", **status_b)], responses={"200": obj(s=status_b)}))
    after = one_op(operation(params=[param("s", **status_a)], responses={"200": obj(s=status_a)}))
    diff = diff_schemas(before, after)
    assert [(d.kind, d.breaking, d.location, d.before) for d in diff.differences] == [
        (K.ENUM_VALUE_REMOVED, True, "parameter 's' (query)", "cancelled"),
        (K.ENUM_VALUE_REMOVED, True, "response 200 field 's'", "cancelled"),
    ]


# -- compatible kinds ----------------------------------------------------------------------


def test_added_operation_and_path_are_compatible():
    before = document({"/a": {"get": operation()}})
    after = document({"/a": {"get": operation(), "post": operation()}, "/b": {"get": operation()}})
    assert rows(before, after) == [
        (K.OPERATION_ADDED, False, "POST /a", "operation"),
        (K.OPERATION_ADDED, False, "GET /b", "operation"),
    ]


def test_added_optional_parameter_and_field_are_compatible():
    before = one_op(operation(body=obj(["name"], name={"type": "string"})))
    after = one_op(
        operation(
            params=[param("dry_run", type="boolean")],
            body=obj(["name"], name={"type": "string"}, tags={"type": "array", "items": {}}),
        )
    )
    assert rows(before, after) == [
        (K.OPTIONAL_PARAMETER_ADDED, False, "POST /items", "parameter 'dry_run' (query)"),
        (K.OPTIONAL_FIELD_ADDED, False, "POST /items", "request body field 'tags'"),
    ]


def test_added_response_field_and_enum_value_are_compatible():
    before = one_op(operation(responses={"200": obj(s={"type": "string", "enum": ["a"]})}))
    after = one_op(
        operation(
            responses={"200": obj(s={"type": "string", "enum": ["a", "b"]}, n={"type": "integer"})}
        )
    )
    assert rows(before, after) == [
        (K.RESPONSE_FIELD_ADDED, False, "POST /items", "response 200 field 'n'"),
        (K.ENUM_VALUE_ADDED, False, "POST /items", "response 200 field 's'"),
    ]


def test_relaxations_of_requests_are_compatible():
    before = one_op(
        operation(
            params=[param("page", required=True)], body=obj(["a"], a={"type": "integer"}, b={})
        )
    )
    after = one_op(operation(params=[param("page")], body=obj(a={"type": ["integer", "null"]})))
    assert rows(before, after) == [
        (K.PARAMETER_BECAME_OPTIONAL, False, "POST /items", "parameter 'page' (query)"),
        (K.FIELD_BECAME_OPTIONAL, False, "POST /items", "request body field 'a'"),
        (K.TYPE_CHANGED, False, "POST /items", "request body field 'a'"),
        (K.REQUEST_FIELD_REMOVED, False, "POST /items", "request body field 'b'"),
    ]


def test_type_direction_matters_nullable_response_is_breaking():
    plain, nullable = {"type": "string"}, {"anyOf": [{"type": "string"}, {"type": "null"}]}
    before = one_op(operation(responses={"200": obj(["x"], x=plain)}))
    after = one_op(operation(responses={"200": obj(["x"], x=nullable)}))
    assert rows(before, after) == [(K.TYPE_CHANGED, True, "POST /items", "response 200 field 'x'")]
    # the reverse (narrowing a response) is safe for readers
    assert rows(after, before) == [(K.TYPE_CHANGED, False, "POST /items", "response 200 field 'x'")]


def test_response_field_becoming_optional_is_breaking_for_readers():
    before = one_op(operation(responses={"200": obj(["x"], x={"type": "string"})}))
    after = one_op(operation(responses={"200": obj(x={"type": "string"})}))
    assert rows(before, after) == [
        (K.FIELD_BECAME_OPTIONAL, True, "POST /items", "response 200 field 'x'")
    ]
    assert rows(after, before) == [
        (K.FIELD_BECAME_REQUIRED, False, "POST /items", "response 200 field 'x'")
    ]


def test_integer_to_number_widening_in_request_is_compatible():
    before = one_op(operation(body=obj(q={"type": "integer"})))
    after = one_op(operation(body=obj(q={"type": "number"})))
    assert rows(before, after) == [(K.TYPE_CHANGED, False, "POST /items", "request body field 'q'")]


# -- deprecation -----------------------------------------------------------------------------


def test_newly_deprecated_operations_are_listed_and_not_breaking():
    before = document({"/a": {"get": operation()}, "/b": {"get": operation(deprecated=True)}})
    after = document(
        {"/a": {"get": operation(deprecated=True)}, "/b": {"get": operation(deprecated=True)}}
    )
    diff = diff_schemas(before, after)
    assert diff.newly_deprecated == ["GET /a"]
    assert diff.deprecated_in_baseline == ["GET /b"]
    assert diff.breaking == []


def test_removal_of_a_deprecated_operation_records_it():
    before = document({"/a": {"get": operation(deprecated=True)}, "/b": {"get": operation()}})
    after = document({"/b": {"get": operation()}})
    (removed,) = diff_schemas(before, after).differences
    assert removed.before == {"deprecated": True}
    assert removed.message == "GET /a was removed"


# -- $refs -----------------------------------------------------------------------------------


def test_refs_are_resolved_for_schemas_parameters_and_bodies():
    schemas_b = {"Item": obj(["id"], id={"type": "integer"}, name={"type": "string"})}
    schemas_a = {"Item": obj(["id"], id={"type": "integer"})}
    before = one_op(operation(responses={"200": ref("Item")}), schemas=schemas_b)
    after = one_op(operation(responses={"200": ref("Item")}), schemas=schemas_a)
    for doc, required in ((before, False), (after, True)):
        doc["components"]["parameters"] = {"Limit": param("limit", required=required)}
        doc["paths"]["/items"]["post"]["parameters"] = [{"$ref": "#/components/parameters/Limit"}]
    assert rows(before, after) == [
        (K.PARAMETER_BECAME_REQUIRED, True, "POST /items", "parameter 'limit' (query)"),
        (K.RESPONSE_FIELD_REMOVED, True, "POST /items", "response 200 field 'name'"),
    ]


def test_self_referencing_schema_terminates_and_finds_changes():
    node_b = obj(
        ["label"],
        label={"type": "string"},
        extra={"type": "string"},
        children={"type": "array", "items": ref("Node")},
        parent={"anyOf": [ref("Node"), {"type": "null"}]},
    )
    node_a = obj(
        ["label"],
        label={"type": "string"},
        children={"type": "array", "items": ref("Node")},
        parent={"anyOf": [ref("Node"), {"type": "null"}]},
    )
    before = one_op(operation(responses={"200": ref("Node")}), "/tree", "get", {"Node": node_b})
    after = one_op(operation(responses={"200": ref("Node")}), "/tree", "get", {"Node": node_a})
    assert [
        (d.kind, d.breaking, d.operation, d.location)
        for d in diff_within(before, after).differences
    ] == [(K.RESPONSE_FIELD_REMOVED, True, "GET /tree", "response 200 field 'extra'")]


def test_mutually_recursive_schemas_terminate():
    schemas_b = {
        "A": obj(b=ref("B"), x={"type": "integer"}),
        "B": obj(a=ref("A"), y={"type": "string", "enum": ["p", "q"]}),
    }
    schemas_a = {
        "A": obj(b=ref("B"), x={"type": "integer"}),
        "B": obj(a=ref("A"), y={"type": "string", "enum": ["p"]}),
    }
    before = one_op(operation(body=ref("A")), schemas=schemas_b)
    after = one_op(operation(body=ref("A")), schemas=schemas_a)
    assert rows(before, after) == [
        (K.ENUM_VALUE_REMOVED, True, "POST /items", "request body field 'b.y'")
    ]


def test_ref_loop_without_content_does_not_hang():
    loop = {"L1": {"$ref": "#/components/schemas/L2"}, "L2": {"$ref": "#/components/schemas/L1"}}
    doc = one_op(operation(responses={"200": ref("L1")}), schemas=loop)
    assert diff_within(doc, doc).differences == []


def test_shared_models_are_compared_once_not_once_per_path():
    # S0 -> S1 -> ... -> S24 with two links per level: 2**24 paths reach S24
    def chain(leaf_type: str) -> dict:
        schemas = {f"S{i}": obj(a=ref(f"S{i + 1}"), b=ref(f"S{i + 1}")) for i in range(24)}
        schemas["S24"] = obj(x={"type": leaf_type})
        return schemas

    before = one_op(operation(responses={"200": ref("S0")}), schemas=chain("integer"))
    after = one_op(operation(responses={"200": ref("S0")}), schemas=chain("string"))
    (change,) = diff_within(before, after).differences
    assert change.kind is K.TYPE_CHANGED and change.breaking
    assert change.location == "response 200 field '" + "a." * 24 + "x'"


def test_allof_and_openapi_30_nullable_are_understood():
    base = obj(["id"], id={"type": "integer"})
    before = one_op(
        operation(responses={"200": {"allOf": [ref("Base"), obj(note={"type": "string"})]}}),
        schemas={"Base": base},
    )
    after = one_op(
        operation(
            responses={
                "200": {"allOf": [ref("Base"), obj(note={"type": "string", "nullable": True})]}
            }
        ),
        schemas={"Base": obj(id={"type": "integer"})},
    )
    for doc in (before, after):
        doc["openapi"] = "3.0.3"
    assert rows(before, after) == [
        (K.FIELD_BECAME_OPTIONAL, True, "POST /items", "response 200 field 'id'"),
        (K.TYPE_CHANGED, True, "POST /items", "response 200 field 'note'"),
    ]


def test_path_level_parameters_apply_to_every_operation():
    before = document(
        {"/a/{id}": {"parameters": [param("id", "path", True, type="integer")], "get": operation()}}
    )
    after = document(
        {"/a/{id}": {"parameters": [param("id", "path", True, type="string")], "get": operation()}}
    )
    assert rows(before, after) == [(K.TYPE_CHANGED, True, "GET /a/{id}", "parameter 'id' (path)")]


# -- display -------------------------------------------------------------------------------


def test_to_frame_lists_breaking_first_with_accepted_column():
    before = document({"/a": {"get": operation()}, "/b": {"get": operation()}})
    after = document({"/b": {"get": operation()}, "/c": {"get": operation()}})
    diff = diff_schemas(before, after)
    accepted = [
        AcceptedChange(
            operation="get /a", kind="operation-removed", reason="r", announced="2025-01-01"
        )
    ]
    frame = diff.to_frame(accepted)
    assert list(frame.columns) == [
        "breaking",
        "kind",
        "operation",
        "location",
        "before",
        "after",
        "message",
        "accepted",
    ]
    assert frame.to_dict("records")[0] | {"message": ""} == {
        "breaking": True,
        "kind": "operation-removed",
        "operation": "GET /a",
        "location": "operation",
        "before": '{"deprecated": false}',
        "after": "",
        "message": "",
        "accepted": True,
    }
    assert list(frame["operation"]) == ["GET /a", "GET /c"]
    assert "accepted" not in diff.to_frame().columns


# -- schemas as FastAPI generates them -----------------------------------------------------


def test_fastapi_generated_models_diff_without_noise():
    before, after = jobs_api_schema(v2=False), jobs_api_schema(v2=True)
    assert diff_schemas(before, before).differences == []
    assert rows(before, after) == [
        (K.REQUIRED_FIELD_ADDED, True, "POST /jobs", "request body field 'priority'"),
        (K.RESPONSE_FIELD_REMOVED, True, "POST /jobs", "response 201 field 'legacy'"),
        (K.ENUM_VALUE_REMOVED, True, "POST /jobs", "response 201 field 'status'"),
        (K.ENUM_VALUE_REMOVED, True, "GET /jobs/{job_id}", "parameter 'status' (query)"),
        (K.RESPONSE_FIELD_REMOVED, True, "GET /jobs/{job_id}", "response 200 field 'legacy'"),
        (K.ENUM_VALUE_REMOVED, True, "GET /jobs/{job_id}", "response 200 field 'status'"),
    ]


def test_request_body_optional_added_removed_and_made_required():
    plain = one_op(operation())
    optional = one_op(operation(body=obj(n={"type": "string"}), body_required=False))
    required = one_op(operation(body=obj(n={"type": "string"})))
    assert rows(plain, optional) == [(K.OPTIONAL_FIELD_ADDED, False, "POST /items", "request body")]
    assert rows(required, plain) == [
        (K.REQUEST_FIELD_REMOVED, False, "POST /items", "request body")
    ]
    assert rows(optional, required) == [
        (K.FIELD_BECAME_REQUIRED, True, "POST /items", "request body")
    ]


def test_external_and_dangling_refs_are_opaque():
    before = one_op(
        operation(responses={"200": obj(a={"$ref": "other.yaml#/X"}, b=ref("Missing"))})
    )
    after = one_op(operation(responses={"200": obj(a={"type": "integer"}, b={"type": "string"})}))
    assert diff_schemas(before, after).differences == []
