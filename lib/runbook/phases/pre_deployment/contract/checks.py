"""Checklist boxes for API documentation (§3) and backward compatibility (§4)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.pre_deployment.contract.diff import (
    ContractDiff,
    Difference,
    diff_schemas,
    list_operations,
)
from runbook.phases.pre_deployment.contract.params import AcceptedChange, ChangeKind, ContractParams
from runbook.phases.pre_deployment.contract.schema_source import (
    ContractError,
    InvalidSchema,
    fetch,
    fetch_schema,
    generate_schema_info,
    load_baseline_info,
)

DOCS_SECTION = "Pre-Deployment §3 Documentation Review — API documentation verified"
COMPAT_SECTION = "Pre-Deployment §4 Backward Compatibility Verification"

CONTRACTS_ID = "compat.api_contracts"
PUBLIC_ID = "compat.no_breaking_public_api"
DEPRECATION_ID = "compat.deprecation_warnings"
DIFF_FILE = "contract-diff.json"
FIRST = 5  # changes quoted in an explanation; the rest are counted and kept in DIFF_FILE
_EXPLANATION_LIMIT = 500


def _first_line(text: str, limit: int = _EXPLANATION_LIMIT) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _schema_result(
    check_id: str,
    title: str,
    source: str,
    get: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
) -> CheckResult:
    """`get` returns the document and notes for the evidence (how it was obtained)."""
    common = partial(
        CheckResult,
        id=check_id,
        section=DOCS_SECTION,
        title=title,
        severity=Severity.BLOCKER,
        threshold="a valid OpenAPI 3.0/3.1 document",
    )
    try:
        document, how = get()
    except InvalidSchema as exc:
        return common(
            status=Status.FAIL,
            observed="invalid",
            explanation=_first_line(str(exc)),
            evidence={"source": source, "error": str(exc)},
        )
    except ContractError as exc:
        return common(
            status=Status.ERROR,
            observed="unavailable",
            explanation=_first_line(str(exc)),
            evidence={"source": source, "error": str(exc), **_error_fields(exc)},
        )
    observed = {
        "openapi": document["openapi"],
        "paths": len(document.get("paths") or {}),
        "operations": len(list_operations(document)),
    }
    return common(
        status=Status.PASS,
        observed=observed,
        explanation=f"{source} is a valid OpenAPI {document['openapi']} document",
        evidence={"source": source, **observed, "info": document.get("info", {}), **how},
    )


def _error_fields(exc: Exception) -> dict[str, Any]:
    """The structured part of an import failure: the settings named, the files that leaked."""
    fields: dict[str, Any] = {}
    for name in ("missing", "invalid", "files"):
        if isinstance(getattr(exc, name, None), list):
            fields["leaked_files" if name == "files" else f"{name}_settings"] = getattr(exc, name)
    return fields


def _html_page_check(
    check_id: str, title: str, base_url: str, path: str, params: ContractParams
) -> CheckResult:
    url = base_url.rstrip("/") + path
    common = partial(
        CheckResult,
        id=check_id,
        section=DOCS_SECTION,
        title=title,
        severity=Severity.BLOCKER,
        threshold=f"200, text/html, page references {params.openapi_path}",
    )
    try:
        response = fetch(base_url, path, params)
    except ContractError as exc:
        return common(
            status=Status.ERROR,
            observed="unreachable",
            explanation=str(exc),
            evidence={"url": url, "error": str(exc)},
        )
    content_type = response.headers.get("content-type", "")
    references = params.openapi_path in response.text
    evidence = {
        "url": url,
        "final_url": str(response.url),
        "status_code": response.status_code,
        "content_type": content_type,
        "references_schema": references,
        "redirects": [str(r.url) for r in response.history],
        "body_bytes": len(response.content),
    }
    problems = []
    if response.status_code != 200:
        problems.append(f"answered {response.status_code}, expected 200")
    if "text/html" not in content_type:
        problems.append(f"content-type is {content_type!r}, expected text/html")
    if response.status_code == 200 and not references:
        problems.append(f"the page does not reference {params.openapi_path}")
    if problems:
        return common(
            status=Status.FAIL,
            observed=response.status_code,
            explanation=f"GET {url}: " + "; ".join(problems),
            evidence=evidence,
        )
    return common(
        status=Status.PASS,
        observed=response.status_code,
        explanation=f"GET {url} serves HTML that loads {params.openapi_path}",
        evidence=evidence,
    )


def schema_checks(params: ContractParams, base_url: str) -> list[CheckResult]:
    """OpenAPI document, Swagger UI and ReDoc of a running target (three results); SKIP each,
    naming where it is proved, when the app only runs after this run's deploy."""
    if params.live_docs == "after-deploy":
        why = (
            "checked after the deploy: this run's deploy phase starts the app and checks "
            "this page (deploy.docs.*)"
        )
        return [
            CheckResult(id=i, section=DOCS_SECTION, title=t, status=Status.SKIP, explanation=why)
            for i, t in (
                ("docs.openapi_schema", "OpenAPI schema generates without errors"),
                ("docs.swagger_ui", f"Swagger UI accessible at {params.docs_path}"),
                ("docs.redoc", f"ReDoc accessible at {params.redoc_path}"),
            )
        ]
    url = base_url.rstrip("/") + params.openapi_path
    return [
        _schema_result(
            "docs.openapi_schema",
            "OpenAPI schema generates without errors",
            f"GET {url}",
            lambda: (fetch_schema(base_url, params), {}),
        ),
        _html_page_check(
            "docs.swagger_ui",
            f"Swagger UI accessible at {params.docs_path}",
            base_url,
            params.docs_path,
            params,
        ),
        _html_page_check(
            "docs.redoc",
            f"ReDoc accessible at {params.redoc_path}",
            base_url,
            params.redoc_path,
            params,
        ),
    ]


def _python_label(python: str | list[str] | None) -> str:
    if python is None:
        return "the runbook interpreter"
    return python if isinstance(python, str) else " ".join(python)


def import_schema_check(params: ContractParams, repo: Path) -> CheckResult:
    """OpenAPI schema generated by importing params.app in the target's own interpreter."""

    def generate() -> tuple[dict[str, Any], dict[str, Any]]:
        imported = generate_schema_info(Path(repo), params)
        return imported.document, {
            "interpreter": imported.interpreter,
            "module_file": imported.module_file,
        }

    return _schema_result(
        "docs.openapi_schema_import",
        "OpenAPI schema generates without errors (app import)",
        f"{params.app} imported with {_python_label(params.python)} in {repo}",
        generate,
    )


# -- backward compatibility ----------------------------------------------------------------


def _line(d: Difference) -> str:
    if d.kind is ChangeKind.OPERATION_RENAMED:
        text = f"{d.operation}: {d.kind.value} to {d.after}"
    elif d.location == "operation":
        text = f"{d.operation}: {d.kind.value}"
    else:
        text = f"{d.operation}: {d.kind.value} @ {d.location}"
    if d.baseline_path:
        text += f" (baseline path {d.baseline_path})"
    return text if len(text) <= 160 else text[:159] + "…"


def _by_kind(differences: list[Difference]) -> dict[str, int]:
    return dict(Counter(d.kind.value for d in differences).most_common())


def _counts(differences: list[Difference]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in _by_kind(differences).items())


def _listing(differences: list[Difference], where: str) -> str:
    """'N kind, M kind; first 5: a; b; …' — never the whole list."""
    lines = [_line(d) for d in differences[:FIRST]]
    more = len(differences) - len(lines)
    text = f"{_counts(differences)}; " if len(differences) > 1 else ""
    text += (f"first {len(lines)}: " if more else "") + "; ".join(lines)
    return text + (f"; {more} more in {where}" if more else "")


def _triage(
    breaking: list[Difference], accepted: list[AcceptedChange]
) -> tuple[list[Difference], list[dict[str, Any]]]:
    open_, covered = [], []
    for d in breaking:
        match = next((a for a in accepted if d.matches(a)), None)
        if match is None:
            open_.append(d)
        else:
            covered.append(
                {
                    "difference": d.model_dump(mode="json"),
                    "reason": match.reason,
                    "announced": match.announced,
                }
            )
    return open_, covered


def _move_hint(diff: ContractDiff) -> str:
    if not diff.prefix_moves:
        return ""
    move = diff.prefix_moves[0]
    return (
        f" — {move.operations} operations moved from {move.from_prefix} to {move.to_prefix}: "
        "if the old paths are gone on purpose, accept the change, or normalise them with "
        f"contract.path_rewrites [{{from: '^{move.from_prefix}', to: '{move.to_prefix}'}}]"
    )


def _breaking_result(
    check_id: str,
    title: str,
    breaking: list[Difference],
    params: ContractParams,
    diff: ContractDiff,
    scope: str,
    diff_file: str | None,
) -> CheckResult:
    unaccepted, accepted = _triage(breaking, params.accepted_changes)
    unused = [
        a.model_dump(mode="json")
        for a in params.accepted_changes
        if not any(d.matches(a) for d in diff.breaking)
    ]
    where = diff_file or f"the evidence of {CONTRACTS_ID}"
    evidence = {
        "scope": scope,
        "baseline_version": diff.baseline_version,
        "candidate_version": diff.candidate_version,
        "operations_before": diff.operations_before,
        "operations_after": diff.operations_after,
        "unaccepted_count": len(unaccepted),
        "unaccepted_by_kind": _by_kind(unaccepted),
        "unaccepted_first": [d.model_dump(mode="json") for d in unaccepted[:FIRST]],
        "accepted_count": len(accepted),
        "accepted_first": accepted[:FIRST],
        "unused_acceptances": unused,
        "compatible_count": len(diff.compatible),
        "compatible_by_kind": _by_kind(diff.compatible),
        "path_rewrites": [
            {
                **r.model_dump(mode="json", by_alias=True, exclude={"rewritten"}),
                "rewritten": len(r.rewritten),
            }
            for r in diff.rewrites
        ],
        "prefix_moves": [m.model_dump(mode="json") for m in diff.prefix_moves],
        "diff_file": diff_file,
    }
    if diff_file is None and check_id == CONTRACTS_ID:  # no file: the full list, once
        evidence["differences"] = [d.model_dump(mode="json") for d in diff.differences]
    common = partial(
        CheckResult,
        id=check_id,
        section=COMPAT_SECTION,
        title=title,
        severity=Severity.BLOCKER,
        threshold="0 unaccepted breaking changes",
        evidence=evidence,
    )
    note = f" ({len(accepted)} accepted as announced)" if accepted else ""
    if unaccepted:
        return common(
            status=Status.FAIL,
            observed={"unaccepted": len(unaccepted), "by_kind": _by_kind(unaccepted)},
            explanation=f"{len(unaccepted)} unaccepted breaking change(s) in {scope}{note}: "
            + _listing(unaccepted, where)
            + _move_hint(diff),
        )
    return common(
        status=Status.PASS,
        observed={"unaccepted": 0, "by_kind": {}},
        explanation=f"no unaccepted breaking change in {scope}{note}; "
        f"{len(diff.compatible)} compatible difference(s)",
    )


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path.startswith(prefix) for prefix in prefixes)


def is_public(d: Difference, diff: ContractDiff, params: ContractParams) -> bool:
    """Whether a change touches the public API: never under a private prefix; always when the
    operation's baseline path stops answering; else when any of its paths is under a public
    prefix (the baseline's own path, its rewritten form, or the new path of a move)."""
    if _under(d.operation.split(" ", 1)[1], params.private_path_prefixes):
        return False
    if any(d is gone for gone in diff.gone):
        return True
    return any(_under(path, params.public_path_prefixes) for path in d.paths())


def contract_checks(
    diff: ContractDiff, params: ContractParams, diff_file: str | None = None
) -> list[CheckResult]:
    """The three §4 API boxes from a diff, honouring params.accepted_changes; `diff_file` names
    the evidence file with the full list (explanations quote the first few changes only)."""
    public = [d for d in diff.breaking if is_public(d, diff, params)]
    gone = diff.gone
    undeprecated = [d for d in gone if d.operation not in diff.deprecated_in_baseline]
    where = diff_file or f"the evidence of {CONTRACTS_ID}"
    deprecation_evidence = {
        "removed_count": len(gone),
        "removed_first": [d.operation for d in gone[:FIRST]],
        "removed_without_deprecation_count": len(undeprecated),
        "removed_without_deprecation_first": [d.operation for d in undeprecated[:FIRST]],
        "newly_deprecated": diff.newly_deprecated[:FIRST],
        "newly_deprecated_count": len(diff.newly_deprecated),
        "deprecated_in_baseline_count": len(diff.deprecated_in_baseline),
        "diff_file": diff_file,
    }
    observed = {
        "removed_without_deprecation": len(undeprecated),
        "newly_deprecated": len(diff.newly_deprecated),
    }
    newly = ", ".join(diff.newly_deprecated[:FIRST]) or "none"
    if len(diff.newly_deprecated) > FIRST:
        newly += f" and {len(diff.newly_deprecated) - FIRST} more"
    deprecation = CheckResult(
        id=DEPRECATION_ID,
        section=COMPAT_SECTION,
        title="Deprecation warnings added where appropriate",
        severity=Severity.WARNING,
        status=Status.WARN if undeprecated else Status.PASS,
        observed=observed,
        threshold="every removed or moved operation was marked deprecated in the baseline",
        explanation=(
            f"{len(undeprecated)} operation(s) removed or moved without being deprecated first: "
            + _listing(undeprecated, where)
            if undeprecated
            else f"no operation removed without prior deprecation; newly deprecated: {newly}"
        ),
        evidence=deprecation_evidence,
    )
    public_scope = "public paths " + ", ".join(params.public_path_prefixes)
    public_scope += " and every removed or moved operation"
    if params.private_path_prefixes:
        public_scope += " (except private " + ", ".join(params.private_path_prefixes) + ")"
    return [
        _breaking_result(
            CONTRACTS_ID,
            "API endpoints maintain same contracts",
            diff.breaking,
            params,
            diff,
            "all operations",
            diff_file,
        ),
        _breaking_result(
            PUBLIC_ID,
            "No breaking changes to public APIs",
            public,
            params,
            diff,
            public_scope,
            diff_file,
        ),
        deprecation,
    ]


def contract_error_checks(reason: str) -> list[CheckResult]:
    """The three §4 API boxes as ERROR when baseline or candidate could not be obtained (the
    explanation is the reason's first line; the full reason is in the first box's evidence)."""
    boxes = [
        (CONTRACTS_ID, "API endpoints maintain same contracts", Severity.BLOCKER),
        (PUBLIC_ID, "No breaking changes to public APIs", Severity.BLOCKER),
        (DEPRECATION_ID, "Deprecation warnings added where appropriate", Severity.WARNING),
    ]
    return [
        CheckResult(
            id=i,
            section=COMPAT_SECTION,
            title=t,
            severity=s,
            status=Status.ERROR,
            observed=None,
            threshold="a baseline and a candidate schema to compare",
            explanation=f"cannot compare contracts: {_first_line(reason)}",
            evidence={"error": reason} if i == CONTRACTS_ID else {"error": f"see {CONTRACTS_ID}"},
        )
        for i, t, s in boxes
    ]


def write_diff_file(
    diff: ContractDiff, params: ContractParams, evidence_dir: Path, source: dict[str, Any]
) -> Path:
    """The whole diff, once, as JSON evidence: every difference, accepted or not, and why."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    path = evidence_dir / DIFF_FILE
    payload = {
        "baseline": source,
        "baseline_version": diff.baseline_version,
        "candidate_version": diff.candidate_version,
        "operations_before": diff.operations_before,
        "operations_after": diff.operations_after,
        "path_rewrites": [r.model_dump(mode="json", by_alias=True) for r in diff.rewrites],
        "prefix_moves": [m.model_dump(mode="json") for m in diff.prefix_moves],
        "by_kind": _by_kind(diff.differences),
        "differences": [
            {
                **d.model_dump(mode="json"),
                "public": is_public(d, diff, params),
                "accepted": any(d.matches(a) for a in params.accepted_changes),
            }
            for d in diff.differences
        ],
    }
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return path


def check_compatibility(
    params: ContractParams,
    candidate: dict[str, Any],
    repo: Path | None = None,
    evidence_dir: Path | None = None,
) -> tuple[ContractDiff | None, list[CheckResult]]:
    """Load the baseline, diff it against `candidate` (path rewrites and rename detection as
    configured) and judge; the full diff goes to evidence_dir/contract-diff.json when given.
    Failures to obtain or compare become ERROR results."""
    try:
        baseline, source = load_baseline_info(params, repo)
        diff = diff_schemas(baseline, candidate, params.path_rewrites, params.detect_renames)
    except ContractError as exc:
        return None, contract_error_checks(str(exc))
    diff_file = None
    if evidence_dir is not None:
        diff_file = str(write_diff_file(diff, params, Path(evidence_dir), source))
    return diff, contract_checks(diff, params, diff_file)
