"""What each Redis / Celery check is (id, checklist section, title, severity) and the few ways
a result of it is built, so every result of one check carries the same identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook.core.checks import CheckResult, Severity, Status


@dataclass(frozen=True)
class CheckSpec:
    """The identity of one check."""

    id: str
    section: str
    title: str
    severity: Severity = Severity.BLOCKER

    def result(
        self,
        status: Status,
        explanation: str,
        *,
        observed: Any = None,
        threshold: Any = None,
        evidence: dict[str, Any] | None = None,
    ) -> CheckResult:
        """A result of this check."""
        return CheckResult(
            id=self.id,
            section=self.section,
            title=self.title,
            severity=self.severity,
            status=status,
            observed=observed,
            threshold=threshold,
            explanation=explanation,
            evidence=evidence or {},
        )

    def skip(self, why: str) -> CheckResult:
        """SKIP: the environment has nothing for this check to look at."""
        return self.result(Status.SKIP, why)

    def error(self, why: str, evidence: dict[str, Any] | None = None) -> CheckResult:
        """ERROR: the check could not run or could not reach its target."""
        return self.result(Status.ERROR, why, evidence=evidence)


def worst(*statuses: Status) -> Status:
    """The most severe of PASS < WARN < FAIL (other statuses are not ranked here)."""
    order = [Status.PASS, Status.WARN, Status.FAIL]
    return max(statuses, key=order.index)
