"""Rollback decision ("Rollback Procedures — When to Rollback") computed from check results.

Each line is evaluated from the evidence the parameters point at: crossed, clear, or not
evaluated (no evidence, shown as such and never counted as clear). Any crossed line means
roll back; a required line without evidence makes the decision inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence_queries import (
    MEASURED,
    earlier_runs,
    from_manifest,
    manifest_age_hours,
    matching,
    merge,
    origin_of,
    read_values,
    usable,
)
from runbook.phases.rollback.params import (
    SECTION_WHEN,
    FunctionalityCriterion,
    MetricCriterion,
    MonitorEvidence,
    RollbackParams,
    SecurityFlag,
)

BROKEN = {Status.FAIL, Status.ERROR}


class CriterionRow(BaseModel):
    """One "When to Rollback" line: crossed, clear, or not evaluated, with the numbers."""

    model_config = ConfigDict(extra="forbid")

    key: str
    line: str
    enabled: bool = True
    required: bool = True
    evaluated: bool
    crossed: bool
    observed: Any = None
    limit: Any = None
    detail: str
    sources: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        if not self.evaluated:
            return "not evaluated"
        return "CROSSED" if self.crossed else "clear"


class RollbackDecision(BaseModel):
    """Roll back or not, why (with the numbers), and every line's state."""

    model_config = ConfigDict(extra="forbid")

    roll_back: bool
    inconclusive: bool
    reasons: list[str]
    criteria: list[CriterionRow]

    def row(self, key: str) -> CriterionRow:
        """The line with this key (error_rate, p95_ms, critical_functionality, ...)."""
        return next(r for r in self.criteria if r.key == key)

    def frame(self) -> Any:
        """The table as a pandas DataFrame, for display."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def table(self) -> list[dict[str, Any]]:
        """The criteria as plain rows (for a DataFrame in the notebook)."""
        return [{"line": r.line, "state": r.state, "observed": r.observed, "limit": r.limit,
                 "required": r.required, "detail": r.detail} for r in self.criteria]  # fmt: skip

    def checks(self) -> list[CheckResult]:
        """One result per line (rollback.criterion.<key>) and the summary rollback.decision."""
        return [*(_criterion_result(r) for r in self.criteria), _summary_result(self)]


# -- formatting --------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x * 100:.3g} %"


def _ms(x: float) -> str:
    return f"{x:.0f} ms"


def _plain(x: float) -> str:
    return f"{x:g}"


def _mb_h(x: float) -> str:
    return f"{x:.3g} MiB/h"


# -- the lines -----------------------------------------------------------------------------------
def _metric(key: str, line: str, crit: MetricCriterion, results: list[CheckResult],
            fmt: Callable[[float], str]) -> CriterionRow:  # fmt: skip
    if not crit.enabled:
        return CriterionRow(key=key, line=line, enabled=False, required=crit.required,
                            evaluated=False, crossed=False, limit=crit.limit,
                            detail="disabled in the parameters")  # fmt: skip
    values = read_values(results, crit.sources)
    good = usable(values)
    flagged = [r for r in matching(results, crit.fail_ids) if r.status in MEASURED]
    failing = [r for r in flagged if r.status is Status.FAIL]
    sources = [v.model_dump() for v in values] + [
        {"id": r.id, "status": r.status.value, "origin": origin_of(r), "phase": r.phase,
         "explanation": r.explanation} for r in flagged
    ]  # fmt: skip
    worst = max(good, key=lambda v: v.value or 0.0) if good else None
    observed = worst.value if worst else None
    above = [v for v in good if (v.value or 0.0) > crit.limit]
    if not good and not flagged:
        tried = ", ".join(f"{s.id} ({s.path})" for s in crit.sources) or "(none configured)"
        problems = "; ".join(f"{v.id}: {v.problem}" for v in values if v.problem)
        return CriterionRow(
            key=key, line=line, required=crit.required, evaluated=False, crossed=False,
            limit=crit.limit, sources=sources,
            detail=f"no evidence: no number from {tried}" + (f" ({problems})" if problems else ""),
        )  # fmt: skip
    if above or failing:
        parts = [f"{fmt(v.value or 0.0)} > {fmt(crit.limit)} ({v.id}, {v.origin})" for v in above]
        parts += [f"{r.id} failed ({origin_of(r)}): {r.explanation}" for r in failing]
        detail = "; ".join(parts)
    elif worst is not None:
        detail = (f"worst {fmt(worst.value or 0.0)} ≤ {fmt(crit.limit)} ({worst.id}, "
                  f"{worst.origin}; {len(good)} value(s))")  # fmt: skip
    else:
        detail = "; ".join(f"{r.id} {r.status.value} ({origin_of(r)})" for r in flagged)
    return CriterionRow(key=key, line=line, required=crit.required, evaluated=True,
                        crossed=bool(above or failing), observed=observed, limit=crit.limit,
                        detail=detail, sources=sources)  # fmt: skip


def _functionality(crit: FunctionalityCriterion, results: list[CheckResult]) -> CriterionRow:
    line = "Critical functionality broken"
    if not crit.enabled:
        return CriterionRow(key="critical_functionality", line=line, enabled=False,
                            required=crit.required, evaluated=False, crossed=False,
                            detail="disabled in the parameters")  # fmt: skip
    checked = [r for r in matching(results, crit.ids)
               if r.severity is Severity.BLOCKER
               and not any(fnmatchcase(r.id, p) for p in crit.exclude)]  # fmt: skip
    broken = [r for r in checked if r.status in BROKEN]
    passed = [r for r in checked if r.status is Status.PASS]
    sources = [{"id": r.id, "status": r.status.value, "phase": r.phase, "origin": origin_of(r),
                "explanation": r.explanation} for r in checked]  # fmt: skip
    observed = {"checked": len(checked), "passed": len(passed), "broken": [r.id for r in broken]}
    if broken:
        detail = "; ".join(f"{r.id} {r.status.value}: {r.explanation}" for r in broken)
    elif passed:
        detail = f"{len(passed)} of {len(checked)} blocker check(s) passed, none failed"
    else:
        detail = (
            f"no evidence: no blocker result matching {crit.ids} passed or failed "
            f"({len(checked)} found)"
        )
    return CriterionRow(key="critical_functionality", line=line, required=crit.required,
                        evaluated=bool(broken or passed), crossed=bool(broken), observed=observed,
                        limit="no blocker check failed or errored", detail=detail,
                        sources=sources)  # fmt: skip


def _security(flag: SecurityFlag) -> CriterionRow:
    if flag.vulnerability_discovered:
        detail = f"reported by {flag.reported_by}: {flag.reason}"
    else:
        detail = (
            "no vulnerability reported in the parameters "
            "(rollback.criteria.security.vulnerability_discovered: false)"
        )
    return CriterionRow(
        key="security", line="Security vulnerabilities discovered", evaluated=True,
        crossed=flag.vulnerability_discovered, observed=flag.model_dump(),
        limit="vulnerability_discovered: false", detail=detail,
        sources=[{"id": "parameters", "reported_by": flag.reported_by}],
    )  # fmt: skip


def decide(
    results: Iterable[CheckResult],
    params: RollbackParams,
    monitor_results: Iterable[CheckResult] | None = None,
) -> RollbackDecision:
    """Evaluate every "When to Rollback" line from this run's results (+ earlier monitor ones)."""
    pool = merge(results, monitor_results)
    c = params.criteria
    rows = [
        _metric("error_rate", f"Error rate > {_pct(c.error_rate.limit)}", c.error_rate, pool,
                _pct),
        _metric("p95_ms", f"API response time p95 > {_ms(c.p95_ms.limit)}", c.p95_ms, pool, _ms),
        _functionality(c.critical_functionality, pool),
        _metric("database_connection", "Database connection failures",
                c.database_connection_failures, pool, _plain),
        _metric("memory_leak", "Memory leaks detected", c.memory_slope_mb_per_h, pool, _mb_h),
        _security(c.security),
    ]  # fmt: skip
    crossed = [r for r in rows if r.crossed]
    missing = [r for r in rows if r.enabled and r.required and not r.evaluated]
    if crossed:
        reasons = [f"{r.line}: {r.detail}" for r in crossed]
    elif missing:
        reasons = [f"not evaluated — {r.line}: {r.detail}" for r in missing]
    else:
        reasons = []
    return RollbackDecision(roll_back=bool(crossed), inconclusive=not crossed and bool(missing),
                            reasons=reasons, criteria=rows)  # fmt: skip


def previous_monitor_results(
    run_dir: Path | str | None, monitor: MonitorEvidence
) -> list[CheckResult]:
    """Monitor results of the newest earlier run of this environment that has some, if not
    older than allowed (run_dir: this run's folder, outputs/<env>/<run-id>; None: none)."""
    if not monitor.use_previous_runs:
        return []
    for manifest in earlier_runs(run_dir, monitor.phase):
        age = manifest_age_hours(manifest)
        if age is None or age > monitor.max_age_hours:
            return []  # newest first: every older one is older still
        found = from_manifest(manifest, monitor.ids)
        if found:
            return found
    return []


# -- results -----------------------------------------------------------------------------------
def _criterion_result(row: CriterionRow) -> CheckResult:
    if not row.enabled:
        status, severity = Status.SKIP, Severity.WARNING
    elif not row.evaluated:
        status = Status.INCONCLUSIVE
        severity = Severity.BLOCKER if row.required else Severity.WARNING
    else:
        status, severity = (Status.FAIL if row.crossed else Status.PASS), Severity.BLOCKER
    verb = {"CROSSED": "crossed", "clear": "not crossed"}.get(row.state, row.state)
    return CheckResult(
        id=f"rollback.criterion.{row.key}", section=SECTION_WHEN,
        title=f"Rollback line: {row.line}", severity=severity, status=status,
        observed=row.observed, threshold=row.limit,
        explanation=f"{verb}: {row.detail}",
        evidence={"line": row.line, "required": row.required, "sources": row.sources},
    )  # fmt: skip


def _summary_result(decision: RollbackDecision) -> CheckResult:
    crossed = [r.key for r in decision.criteria if r.crossed]
    missing = [r.key for r in decision.criteria if r.enabled and not r.evaluated]
    if decision.roll_back:
        status = Status.FAIL
        text = "ROLL BACK: " + " | ".join(decision.reasons)
    elif decision.inconclusive:
        status = Status.INCONCLUSIVE
        text = "cannot decide: " + " | ".join(decision.reasons)
    else:
        status = Status.PASS
        text = "no rollback line crossed" + (
            f" (not evaluated, optional: {', '.join(missing)})" if missing else ""
        )
    return CheckResult(
        id="rollback.decision", section=SECTION_WHEN,
        title="Rollback decision: no rollback required", severity=Severity.BLOCKER,
        status=status,
        observed={"roll_back": decision.roll_back, "crossed": crossed, "not_evaluated": missing},
        threshold="no line of 'When to Rollback' crossed",
        explanation=text,
        evidence={"criteria": [r.model_dump() for r in decision.criteria],
                  "reasons": decision.reasons},
    )  # fmt: skip
