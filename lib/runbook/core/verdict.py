"""Verdicts computed from check results, never typed by hand.

Rules (fail closed):
- any blocker with status fail or error            -> NO-GO
- otherwise any blocker inconclusive / pending     -> INCOMPLETE
  (an inconclusive blocker settled by a person, `governance.settlement`, no longer counts)
- otherwise, a phase with no results at all        -> INCOMPLETE (nothing was proven)
- otherwise                                        -> GO
Warnings never block, but are counted so a reviewer sees them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, Field

from runbook.core.checks import CheckResult, Severity, Status


class Verdict(StrEnum):
    GO = "GO"
    NO_GO = "NO-GO"
    INCOMPLETE = "INCOMPLETE"
    ROLLBACK_REQUIRED = "ROLLBACK REQUIRED"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Verdict.GO: 0, Verdict.INCOMPLETE: 1, Verdict.NO_GO: 2, Verdict.ROLLBACK_REQUIRED: 3}

BLOCKING = {Status.FAIL, Status.ERROR}
UNPROVEN = {Status.INCONCLUSIVE, Status.PENDING_SIGN_OFF}


class VerdictReport(BaseModel):
    """A verdict with the reasons behind it."""

    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    settled: list[str] = Field(default_factory=list, description="checks a person settled")


def judge(results: Iterable[CheckResult]) -> VerdictReport:
    """Compute the verdict of a set of results (a phase, or a whole run)."""
    results = list(results)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    blockers = [r for r in results if r.severity is Severity.BLOCKER]
    failed = [r for r in blockers if r.status in BLOCKING]
    waiting = [(r, _settled(r)) for r in blockers if r.status in UNPROVEN]
    settled = [r for r, done in waiting if done]
    unproven = [r for r, done in waiting if not done]
    if failed:
        return VerdictReport(
            verdict=Verdict.NO_GO,
            reasons=[f"{r.id}: {r.status.value} — {r.explanation}" for r in failed],
            counts=counts,
        )
    if unproven:
        return VerdictReport(
            verdict=Verdict.INCOMPLETE,
            reasons=[f"{r.id}: {r.status.value} — {r.explanation}" for r in unproven],
            counts=counts,
        )
    if not results:
        return VerdictReport(
            verdict=Verdict.INCOMPLETE, reasons=["no check produced a result"], counts=counts
        )
    return VerdictReport(
        verdict=Verdict.GO, counts=counts, settled=[f"{r.id}: {r.explanation}" for r in settled]
    )


def _settled(result: CheckResult) -> bool:
    """An inconclusive result with an accepted settlement bound to its evidence."""
    from runbook.governance.settlement import is_settled

    return is_settled(result)


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of several verdicts; no verdicts at all is INCOMPLETE."""
    verdicts = list(verdicts)
    if not verdicts:
        return Verdict.INCOMPLETE
    return max(verdicts, key=lambda v: v.rank)
