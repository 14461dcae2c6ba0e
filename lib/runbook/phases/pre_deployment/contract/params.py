"""Parameters of the API contract checks (checklist Pre-Deployment §3 and §4)."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.secret_refs import SecretRef


class ChangeKind(StrEnum):
    """Every kind of difference the contract diff reports."""

    OPERATION_REMOVED = "operation-removed"
    OPERATION_RENAMED = "operation-renamed"
    OPERATION_ADDED = "operation-added"
    OPERATION_DEPRECATED = "operation-deprecated"
    REQUIRED_PARAMETER_ADDED = "required-parameter-added"
    OPTIONAL_PARAMETER_ADDED = "optional-parameter-added"
    PARAMETER_BECAME_REQUIRED = "parameter-became-required"
    PARAMETER_BECAME_OPTIONAL = "parameter-became-optional"
    PARAMETER_REMOVED = "parameter-removed"
    REQUIRED_BODY_ADDED = "required-request-body-added"
    REQUIRED_FIELD_ADDED = "required-field-added"
    OPTIONAL_FIELD_ADDED = "optional-field-added"
    FIELD_BECAME_REQUIRED = "field-became-required"
    FIELD_BECAME_OPTIONAL = "field-became-optional"
    REQUEST_FIELD_REMOVED = "request-field-removed"
    RESPONSE_FIELD_REMOVED = "response-field-removed"
    RESPONSE_FIELD_ADDED = "response-field-added"
    TYPE_CHANGED = "type-changed"
    SUCCESS_STATUS_REMOVED = "success-status-removed"
    SUCCESS_STATUS_ADDED = "success-status-added"
    ENUM_VALUE_REMOVED = "enum-value-removed"
    ENUM_VALUE_ADDED = "enum-value-added"


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def normalize_operation(operation: str) -> str:
    """'post  /api/v1/jobs/' -> 'POST /api/v1/jobs/'; refuses anything not 'METHOD /path'."""
    parts = operation.split()
    if len(parts) != 2 or parts[0].lower() not in HTTP_METHODS or not parts[1].startswith("/"):
        raise ValueError(f"operation must look like 'METHOD /path', got {operation!r}")
    return f"{parts[0].upper()} {parts[1]}"


class AcceptedChange(BaseModel):
    """A breaking change that was announced and accepted: it is reported, but does not fail."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(description="'METHOD /path' as in the diff, e.g. 'POST /api/v1/jobs/'")
    kind: ChangeKind
    location: str | None = Field(
        default=None, description="narrow the acceptance to one location; None = any location"
    )
    reason: str = Field(min_length=1)
    announced: str = Field(min_length=1, description="link or date of the announcement")

    @field_validator("operation")
    @classmethod
    def _operation(cls, value: str) -> str:
        return normalize_operation(value)


class PathRewrite(BaseModel):
    """A path normalisation applied before diffing, e.g. a doubled prefix fixed since the base."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="regular expression matched against each path")
    to: str = Field(description="replacement (re.sub syntax, \\1 for groups)")
    on: Literal["baseline", "candidate", "both"] = Field(
        default="baseline",
        description="which document's paths are rewritten; 'baseline' by default, so a "
        "candidate that regresses to the old paths still shows",
    )

    @field_validator("from_")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"path rewrite 'from' is not a regular expression: {exc}") from exc
        return value


class BaselineSource(BaseModel):
    """Where the baseline contract comes from: a stored schema file, or the app at a git ref."""

    model_config = ConfigDict(extra="forbid")

    file: Path | None = Field(default=None, description="JSON or YAML OpenAPI document")
    git_ref: str | None = Field(default=None, description="tag/branch/commit of the target repo")

    @model_validator(mode="after")
    def _exactly_one(self) -> BaselineSource:
        if (self.file is None) == (self.git_ref is None):
            raise ValueError("baseline needs exactly one of 'file' or 'git_ref'")
        return self


class ContractParams(BaseModel):
    """Everything system-specific the contract checks need."""

    model_config = ConfigDict(extra="forbid")

    openapi_path: str = "/openapi.json"
    docs_path: str = "/docs"
    redoc_path: str = "/redoc"
    live_docs: Literal["before-deploy", "after-deploy"] = Field(
        default="before-deploy",
        description="when the running target's API docs are checked: before the deploy (the "
        "target already runs), or after it (development: the deploy phase starts the app and "
        "checks its pages, so pre-deployment skips them saying where they are proved)",
    )
    timeout_s: float = Field(default=10.0, gt=0)
    headers: dict[str, str] = Field(
        default_factory=dict, description="non-secret request headers (plain values)"
    )
    header_secrets: dict[str, SecretRef] = Field(
        default_factory=dict,
        description="secret request headers: header name -> reference to the secret",
    )
    baseline: BaselineSource | None = None
    app: str = Field(default="backend.main:app", description="'module:attr' app or app factory")
    python: str | list[str] | None = Field(
        default=".venv/bin/python",
        description="the target's interpreter: a path (relative = inside the target repo, run "
        "as given, never resolved through a venv's symlink), a bare name looked up on PATH, or "
        "an argv prefix such as [uv, run, --project, backend, --frozen, python], run from the "
        "root of the checkout being imported (for the baseline: its temporary worktree, so uv "
        "builds the baseline's own locked environment there); null = the runbook's own "
        "(only for the local sample, whose dependencies it has)",
    )
    baseline_python: str | list[str] | None = Field(
        default=None,
        description="the interpreter for the baseline import when it differs from `python` "
        "(null = the same): e.g. [uv, run, --frozen, --project, backend, python] builds the "
        "base release's own locked environment in its temporary worktree, for a base whose "
        "dependencies the current environment no longer has",
    )
    app_dir: str = Field(default=".", description="directory (inside the repo) to import from")
    generate_env: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="the settings the app needs at import: plain values, or {env: NAME} for a "
        "secret (resolved at run time, never printed). The import runs in a clean environment: "
        "only PATH, HOME, locale, temp, proxy/CA and UV_* variables are passed through",
    )
    generate_timeout_s: float = Field(default=120.0, gt=0)
    public_path_prefixes: list[str] = Field(
        default_factory=lambda: ["/"],
        description="paths that count as public API (matched on the baseline's path, its "
        "rewritten form and the candidate's); an operation that disappears or moves always "
        "counts as public unless it is under private_path_prefixes",
    )
    private_path_prefixes: list[str] = Field(
        default_factory=list,
        description="paths that are never public API (e.g. /internal/): their changes fail "
        "compat.api_contracts only",
    )
    path_rewrites: list[PathRewrite] = Field(
        default_factory=list,
        description="path normalisations applied before diffing, in order, e.g. "
        "{from: '^/api/api/v1/', to: '/api/v1/'} for a doubled prefix fixed since the base",
    )
    detect_renames: bool = Field(
        default=True,
        description="report a removed + added operation pair (same method; same operationId, "
        "or one renamed path segment, or a prefix shared by several moves, or the same "
        "request/response shape) as one 'operation-renamed' change",
    )
    accepted_changes: list[AcceptedChange] = Field(default_factory=list)

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        module, sep, attr = value.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"app must look like 'package.module:attribute', got {value!r}")
        return value
