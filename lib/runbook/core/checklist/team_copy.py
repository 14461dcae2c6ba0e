"""The team's own copy of the checklist (in the target repository) against the catalogue: a box
the catalogue does not know is proved by nothing, so it is named in a WARN result; so is a box the
catalogue has that the team's copy no longer lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.core.checklist.catalogue import Catalogue, compare_with_checklist, load_catalogue
from runbook.core.checklist.params import ChecklistParams
from runbook.core.checklist.parse import read_checklist
from runbook.core.checks import CheckResult, Severity, Status

CHECK_ID = "checklist.team-copy"
SECTION = "Deployment checklist — the team's copy in the target repository"
TITLE = "The team's checklist has no box the runbook does not know"
QUOTED = 10


def team_checklist_check(
    params: ChecklistParams | None, repo: Path | str, catalogue: Catalogue | None = None
) -> CheckResult:
    """Compare the checklist in `repo` (see ChecklistParams) with the catalogue: PASS when they
    list the same boxes, WARN naming the boxes either side lacks, SKIP when the repository keeps
    none (WARN when `required`), ERROR when it cannot be read."""
    params = params or ChecklistParams()
    common: dict[str, Any] = {
        "id": CHECK_ID,
        "section": SECTION,
        "title": TITLE,
        "severity": Severity.WARNING,
        "threshold": {"unknown_boxes": 0, "missing_boxes": 0},
    }
    if not params.enabled:
        return CheckResult(
            **common, status=Status.SKIP, explanation="switched off (checklist.enabled: false)"
        )
    repo = Path(repo)
    found = next((repo / p for p in params.candidates() if (repo / p).is_file()), None)
    if found is None:
        looked = ", ".join(params.candidates())
        return CheckResult(
            **common,
            status=Status.WARN if params.required else Status.SKIP,
            explanation=f"the target repository has no checklist at {looked} "
            "(parameter checklist.path)",
        )
    relative = found.relative_to(repo).as_posix()
    try:
        boxes = read_checklist(found)
    except (OSError, UnicodeDecodeError) as exc:
        return CheckResult(
            **common,
            status=Status.ERROR,
            evidence={"file": relative},
            explanation=f"cannot read {relative}: {exc}",
        )
    catalogue = catalogue or load_catalogue()
    coverage = compare_with_checklist(catalogue, boxes)
    unknown = [f"line {b.line}: {b.section} › {b.text}" for b in coverage.missing]
    missing = [f"{b.id}: {b.section} › {b.text}" for b in coverage.absent]
    observed = {
        "file": relative,
        "boxes": len(boxes),
        "unknown_boxes": len(unknown),
        "missing_boxes": len(missing),
    }
    evidence = {"unknown": unknown, "missing": missing}
    if not unknown and not missing:
        return CheckResult(
            **common,
            status=Status.PASS,
            observed=observed,
            evidence=evidence,
            explanation=f"{relative}: its {len(boxes)} boxes are the catalogue's",
        )
    parts = []
    if unknown:
        parts.append(
            f"{len(unknown)} box(es) the catalogue does not know, so nothing proves "
            f"them: {_quote(unknown)}"
        )
    if missing:
        parts.append(f"{len(missing)} catalogue box(es) the team's copy lacks: {_quote(missing)}")
    return CheckResult(
        **common,
        status=Status.WARN,
        observed=observed,
        evidence=evidence,
        explanation=f"{relative}: " + "; ".join(parts),
    )


def _quote(items: list[str]) -> str:
    shown = "; ".join(items[:QUOTED])
    return shown + (f"; … {len(items) - QUOTED} more (see evidence)" if len(items) > QUOTED else "")
