"""Checklist "Pre-Deployment §3 Documentation Review": the named documents exist, are not
empty and, given the last release's git ref, were updated since (unchanged is a warning)."""

from __future__ import annotations

from runbook.core.checks import CheckResult, Status
from runbook.phases.pre_deployment.gates.params import DocumentSpec, PreDeploymentParams
from runbook.providers.git_refs import GitError, changed_since, resolve_ref


def documentation_checks(params: PreDeploymentParams) -> list[CheckResult]:
    """One check per required document."""
    base: str | None = None
    base_problem: str | None = None
    if params.base_ref is not None:
        try:
            base = resolve_ref(params.repo, params.base_ref)
        except GitError as exc:
            base_problem = str(exc)
    return [_document_check(params, doc, base, base_problem) for doc in params.documents]


def _document_check(
    params: PreDeploymentParams, doc: DocumentSpec, base: str | None, base_problem: str | None
) -> CheckResult:
    path = params.repo / doc.path
    evidence: dict[str, object] = {"path": doc.path, "base_ref": params.base_ref, "base": base}

    def result(status: Status, observed: str, explanation: str) -> CheckResult:
        return CheckResult(
            id=doc.check_id,
            section=doc.section,
            title=f"{doc.path} present and updated",
            severity=doc.severity,
            status=status,
            observed=observed,
            threshold="exists, not empty, changed since the base ref",
            explanation=explanation,
            evidence=evidence,
        )

    if not path.is_file():
        return result(Status.FAIL, "missing", f"{doc.path} does not exist")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return result(Status.ERROR, "unreadable", f"{doc.path} cannot be read: {exc}")
    evidence.update(bytes=path.stat().st_size, lines=len(text.splitlines()))
    if not text.strip():
        return result(Status.FAIL, "empty", f"{doc.path} is empty")
    if base_problem is not None:
        return result(Status.ERROR, "present", f"cannot compare with the base ref: {base_problem}")
    if base is None:
        return result(
            Status.PASS, "present", f"{doc.path} exists (no base ref given: change not assessed)"
        )
    try:
        changed = changed_since(params.repo, base, doc.path)
    except GitError as exc:
        return result(Status.ERROR, "present", f"cannot compare with the base ref: {exc}")
    if changed:
        return result(Status.PASS, "changed", f"{doc.path} changed since {params.base_ref}")
    return result(
        Status.WARN,
        "unchanged",
        f"{doc.path} is unchanged since {params.base_ref}: was it reviewed for this release?",
    )
