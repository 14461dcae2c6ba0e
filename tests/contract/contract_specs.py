"""Small builders for OpenAPI 3.1 documents used by the contract tests."""

from __future__ import annotations

import copy
from typing import Any

PRIVATE_TOKEN_ENV = "CONTRACT_TEST_DOCS_TOKEN"
PRIVATE_TOKEN = "docs-token-4f1c9a"  # what the server expects in X-Docs-Token


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    responses: dict[str, dict[str, Any] | None] | None = None,
    deprecated: bool = False,
) -> dict[str, Any]:
    """An operation; `responses` maps status -> response schema (None = no content)."""
    op: dict[str, Any] = {"responses": {}}
    for status, schema in (responses or {"200": {"type": "object"}}).items():
        op["responses"][status] = {"description": "r", **(json_body(schema) if schema else {})}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body_required, **json_body(body)}
    if deprecated:
        op["deprecated"] = True
    return op


def param(name: str, where: str = "query", required: bool = False, **schema: Any) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def document(
    paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None, version: str = "3.1.0"
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": copy.deepcopy(paths),
    }
    if schemas:
        doc["components"] = {"schemas": copy.deepcopy(schemas)}
    return doc
