"""Success Criteria: "Deployment Successful If" and "Deployment Failed If", computed from every
result of the run, and the deployment's verdict: GO, NO-GO, ROLLBACK REQUIRED or INCOMPLETE.

- a crossed "Failed If" line that means rollback (error rate > 5 %, critical functionality
  broken, database connection issues, memory leaks, rollback required) -> ROLLBACK REQUIRED,
  even when the rollback was executed and verified (the deployment failed; recovery worked);
- otherwise a successful-if line that does not hold, or a failed-if line crossed -> NO-GO;
- otherwise a required line without evidence -> INCOMPLETE (never GO);
- otherwise GO.
When the rollback phase left no result, its lines are computed here with `decide`.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence_queries import SourceRef, matching, merge, origin_of, read_values, usable
from runbook.core.verdict import Verdict
from runbook.governance.settlement import is_settled
from runbook.phases.rollback.decision import decide
from runbook.phases.rollback.params import RollbackParams

SECTION_OK = "Success Criteria — Deployment Successful If"
SECTION_FAILED = "Success Criteria — Deployment Failed If"
OK = {Status.PASS, Status.WARN}
UNPROVEN = {Status.INCONCLUSIVE, Status.PENDING_SIGN_OFF}
LineState = Literal["holds", "fails", "unproven", "missing"]


class StatusLine(BaseModel):
    """A line proven by results: holds when the matching blocker results passed (≥ 1)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1, description="result ids or globs")
    exclude: list[str] = Field(default_factory=list)
    required: bool = Field(True, description="no evidence: the verdict cannot be GO")
    skip_is_clear: bool = Field(
        False, description="a skipped result counts as evidence (e.g. first deployment)"
    )


class FailedLine(StatusLine):
    """A "Deployment Failed If" line: crossed when a matching result failed."""

    implies_rollback: bool = False


class ErrorRateLine(BaseModel):
    """ "Error rate < 1 %": the worst value of the sources must stay below the limit."""

    model_config = ConfigDict(extra="forbid")

    limit: float = Field(
        default_factory=CatalogueLimit("error_rate_gate"),
        ge=0,
        le=1,
    )
    sources: list[SourceRef] = Field(default_factory=lambda: [
        SourceRef(id="perf.error_rate", path="observed.overall"),
        SourceRef(id="monitor.metrics.error-rate", path="observed.overall"),
        SourceRef(id="monitor.logs.error-rate", path="observed.error_rate"),
    ])  # fmt: skip
    required: bool = True


class CriticalBugs(BaseModel):
    """ "No critical bugs reported": a person says so here (with name), or a sign-off result."""

    model_config = ConfigDict(extra="forbid")

    reported: bool | None = Field(None, description="None: nobody has said yet (pending)")
    confirmed_by: str | None = None
    note: str = ""
    signoff_ids: list[str] = Field(
        default_factory=list, description="sign-off results that state it (pass = none)"
    )
    required: bool = True

    @model_validator(mode="after")
    def _who(self) -> CriticalBugs:
        if self.reported is not None and not self.confirmed_by:
            raise ValueError("say who confirms it: 'confirmed_by'")
        return self


class _LineGroup(BaseModel):
    """Lines whose YAML may set only some keys: the rest keep that line's own defaults."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if isinstance(given, dict) and field.default_factory is not None:
                default = field.default_factory()  # type: ignore[call-arg]
                merged[name] = {**default.model_dump(exclude_unset=False), **given}
        return merged


class SuccessfulIf(_LineGroup):
    """Which results prove each "Deployment Successful If" line."""

    all_tests_pass: StatusLine = Field(default_factory=lambda: StatusLine(ids=["code.*"]))
    zero_downtime: StatusLine = Field(
        default_factory=lambda: StatusLine(ids=["deploy.zero_downtime"])
    )
    error_rate: ErrorRateLine = Field(default_factory=ErrorRateLine)
    response_times: StatusLine = Field(
        default_factory=lambda: StatusLine(ids=["post.baseline.degradation", "perf.p95.*"])
    )
    no_critical_bugs: CriticalBugs = Field(default_factory=CriticalBugs)
    functionality: StatusLine = Field(
        default_factory=lambda: StatusLine(ids=["smoke.*", "integration.*"])
    )
    monitoring_healthy: StatusLine = Field(default_factory=lambda: StatusLine(ids=["monitor.*"]))
    no_rollback_required: StatusLine = Field(
        default_factory=lambda: StatusLine(ids=["rollback.decision"])
    )


def _failed(ids: str, *, rollback: bool = True, skip_is_clear: bool = False) -> Any:
    return Field(
        default_factory=lambda: FailedLine(
            ids=[ids], implies_rollback=rollback, skip_is_clear=skip_is_clear
        )
    )


class FailedIf(_LineGroup):
    """Which results cross each "Deployment Failed If" line."""

    error_rate: FailedLine = _failed("rollback.criterion.error_rate")
    critical_functionality: FailedLine = _failed("rollback.criterion.critical_functionality")
    performance_degradation: FailedLine = _failed(
        "post.baseline.degradation", rollback=False, skip_is_clear=True
    )
    database_connection: FailedLine = _failed("rollback.criterion.database_connection")
    memory_leaks: FailedLine = _failed("rollback.criterion.memory_leak")
    rollback_required: FailedLine = _failed("rollback.decision")


class SuccessParams(BaseModel):
    """The success-criteria phase: which ids feed which line."""

    model_config = ConfigDict(extra="forbid")

    successful_if: SuccessfulIf = Field(default_factory=SuccessfulIf)
    failed_if: FailedIf = Field(default_factory=FailedIf)
    other_checks: Literal["block", "ignore"] = Field(
        "block",
        description="block: any other blocker of the run that failed makes it NO-GO, "
        "one unproven makes it INCOMPLETE (a runbook rule beyond the checklist's lines)",
    )
    other_exclude: list[str] = Field(
        default_factory=lambda: ["success.*", "rollback.*"],
        description="ids the other-checks rule leaves out (rollback results are judged above)",
    )
    rollback_initiated_id: str = "rollback.initiated"
    rollback_verified_ids: list[str] = Field(default_factory=lambda: [
        "rollback.previous_version_deployed", "rollback.health",
        "rollback.functionality_restored", "rollback.metrics_normal"])  # fmt: skip


LINE_TEXT = {
    "all_tests_pass": "All tests pass",
    "zero_downtime": "Zero downtime deployment",
    "error_rate": "Error rate < {limit}",
    "response_times": "Response times normal or improved",
    "no_critical_bugs": "No critical bugs reported",
    "functionality": "All functionality works as expected",
    "monitoring_healthy": "Monitoring shows healthy metrics",
    "no_rollback_required": "No rollback required",
}
FAILED_TEXT = {
    "error_rate": "Error rate > 5%",
    "critical_functionality": "Critical functionality broken",
    "performance_degradation": "Performance degradation > 20%",
    "database_connection": "Database connection issues",
    "memory_leaks": "Memory leaks detected",
    "rollback_required": "Rollback required",
}


class LineRow(BaseModel):
    """One line of the success criteria and its state, with the results behind it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal["successful-if", "failed-if", "run"]
    line: str
    state: LineState
    required: bool
    implies_rollback: bool = False
    detail: str
    sources: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def bad(self) -> bool:
        """The line does not hold (successful-if) or is crossed (failed-if)."""
        return self.state == "fails"


class SuccessVerdict(BaseModel):
    """The deployment's verdict, its reasons, and every line."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reasons: list[str]
    lines: list[LineRow]
    rollback: dict[str, Any] = Field(default_factory=dict)

    def frame(self) -> Any:
        """The table as a pandas DataFrame, for display."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def table(self) -> list[dict[str, Any]]:
        """The lines as plain rows (for a DataFrame in the notebook)."""
        return [{"kind": r.kind, "line": r.line, "state": r.state, "required": r.required,
                 "detail": r.detail} for r in self.lines]  # fmt: skip

    def checks(self) -> list[CheckResult]:
        """success.<line> per line, success.failed.<line> per failed-if line, success.verdict."""
        return [*(_line_result(r) for r in self.lines), _verdict_result(self)]


# -- evaluating lines ----------------------------------------------------------------------------
def _source(r: CheckResult) -> dict[str, Any]:
    return {"id": r.id, "status": r.status.value, "phase": r.phase, "origin": origin_of(r),
            "explanation": r.explanation[:300]}  # fmt: skip


def _status_state(line: StatusLine, found: list[CheckResult], failed_if: bool
                  ) -> tuple[LineState, str]:  # fmt: skip
    blockers = [r for r in found if r.severity is Severity.BLOCKER]
    bad_statuses = {Status.FAIL} if failed_if else {Status.FAIL, Status.ERROR}
    bad = [r for r in blockers if r.status in bad_statuses]
    unproven = [r for r in blockers if (r.status in UNPROVEN and not is_settled(r))
                or (failed_if and r.status is Status.ERROR)]  # fmt: skip
    ok = [r for r in blockers if r.status in OK or is_settled(r)
          or (line.skip_is_clear and r.status is Status.SKIP)]  # fmt: skip
    if bad:
        return "fails", "; ".join(f"{r.id} {r.status.value}: {r.explanation}" for r in bad)
    if unproven:
        return "unproven", "; ".join(f"{r.id} {r.status.value}: {r.explanation}"
                                     for r in unproven)  # fmt: skip
    if ok:
        if failed_if:
            return "holds", "; ".join(f"{r.id} {r.status.value}: {r.explanation}" for r in ok)
        return "holds", f"{len(ok)} result(s) passed: {', '.join(r.id for r in ok[:12])}" + (
            "…" if len(ok) > 12 else ""
        )
    skipped = [r.id for r in blockers if r.status is Status.SKIP]
    return "missing", (
        f"no result matching {line.ids} proves it"
        + (f" (skipped: {', '.join(skipped)})" if skipped else "")
    )


Kind = Literal["successful-if", "failed-if", "run"]


def _status_line(key: str, kind: Kind, text: str, line: StatusLine, pool: list[CheckResult],
                 computed: list[CheckResult] | None) -> LineRow:  # fmt: skip
    found = [r for r in matching(pool, line.ids)
             if not any(fnmatchcase(r.id, p) for p in line.exclude)]  # fmt: skip
    note = ""
    if not found and computed:
        found = matching(computed, line.ids)
        note = " (computed here from this run's results: the rollback phase left no result)"
    state, detail = _status_state(line, found, kind == "failed-if")
    return LineRow(id=key, kind=kind, line=text, state=state, required=line.required,
                   implies_rollback=getattr(line, "implies_rollback", False),
                   detail=detail + (note if found else ""),
                   sources=[_source(r) for r in found])  # fmt: skip


def _error_rate_line(line: ErrorRateLine, pool: list[CheckResult]) -> LineRow:
    text = LINE_TEXT["error_rate"].format(limit=f"{line.limit * 100:g}%")
    values = read_values(pool, line.sources)
    good = usable(values)
    sources = [v.model_dump() for v in values]
    if not good:
        return LineRow(
            id="error_rate",
            kind="successful-if",
            line=text,
            state="missing",
            required=line.required,
            sources=sources,
            detail="no error rate measured by "
            + ", ".join(f"{s.id} ({s.path})" for s in line.sources),
        )
    worst = max(good, key=lambda v: v.value or 0.0)
    value = worst.value or 0.0
    holds = value < line.limit
    return LineRow(id="error_rate", kind="successful-if", line=text,
                   state="holds" if holds else "fails", required=line.required, sources=sources,
                   detail=f"worst {value:.2%} ({worst.id}, {worst.origin}) "
                          f"{'<' if holds else '≥'} {line.limit:.0%}")  # fmt: skip


def _critical_bugs_line(bugs: CriticalBugs, pool: list[CheckResult]) -> LineRow:
    text = LINE_TEXT["no_critical_bugs"]
    if bugs.reported is not None:
        state: LineState = "fails" if bugs.reported else "holds"
        what = "critical bugs reported" if bugs.reported else "no critical bug reported"
        return LineRow(
            id="no_critical_bugs",
            kind="successful-if",
            line=text,
            state=state,
            required=bugs.required,
            detail=f"{what}, confirmed by {bugs.confirmed_by}"
            + (f": {bugs.note}" if bugs.note else ""),
            sources=[{"id": "parameters", "confirmed_by": bugs.confirmed_by}],
        )
    if bugs.signoff_ids:
        row = _status_line(
            "no_critical_bugs",
            "successful-if",
            text,
            StatusLine(ids=bugs.signoff_ids, required=bugs.required),
            pool,
            None,
        )
        if row.state != "missing":
            return row
    return LineRow(id="no_critical_bugs", kind="successful-if", line=text, state="unproven",
                   required=bugs.required,
                   detail="nobody has confirmed it yet (success_criteria.successful_if."
                          "no_critical_bugs.reported / a sign-off)")  # fmt: skip


def _rollback_state(pool: list[CheckResult], params: SuccessParams) -> dict[str, Any]:
    by_id = {r.id: r for r in pool}
    initiated = by_id.get(params.rollback_initiated_id)
    checks = {i: by_id[i].status.value if i in by_id else None
              for i in params.rollback_verified_ids}  # fmt: skip
    executed = initiated is not None and initiated.status is Status.PASS
    verified = executed and all(v == Status.PASS.value for v in checks.values())
    return {
        "executed": executed,
        "verified": verified,
        "verification": checks,
        "initiated": initiated.status.value if initiated else None,
    }


def success_verdict(
    results: Iterable[CheckResult],
    params: SuccessParams,
    *,
    rollback: RollbackParams | None = None,
    monitor_results: Iterable[CheckResult] | None = None,
) -> SuccessVerdict:
    """Every success-criteria line from the run's results, and the verdict they make."""
    pool = merge(results, monitor_results)
    s, f = params.successful_if, params.failed_if
    needs_decision = not matching(pool, ["rollback.decision", "rollback.criterion.*"])
    computed = decide(pool, rollback or RollbackParams()).checks() if needs_decision else None
    lines = [
        _status_line("all_tests_pass", "successful-if", LINE_TEXT["all_tests_pass"],
                     s.all_tests_pass, pool, None),
        _status_line("zero_downtime", "successful-if", LINE_TEXT["zero_downtime"],
                     s.zero_downtime, pool, None),
        _error_rate_line(s.error_rate, pool),
        _status_line("response_times", "successful-if", LINE_TEXT["response_times"],
                     s.response_times, pool, None),
        _critical_bugs_line(s.no_critical_bugs, pool),
        _status_line("functionality", "successful-if", LINE_TEXT["functionality"],
                     s.functionality, pool, None),
        _status_line("monitoring_healthy", "successful-if", LINE_TEXT["monitoring_healthy"],
                     s.monitoring_healthy, pool, None),
        _status_line("no_rollback_required", "successful-if", LINE_TEXT["no_rollback_required"],
                     s.no_rollback_required, pool, computed),
        *(_status_line(key, "failed-if", FAILED_TEXT[key], getattr(f, key), pool, computed)
          for key in FAILED_TEXT),
    ]  # fmt: skip
    if params.other_checks == "block":
        lines.append(_other_checks(pool, lines, params))
    return _judge(lines, _rollback_state(pool, params))


def _other_checks(pool: list[CheckResult], lines: list[LineRow],
                  params: SuccessParams) -> LineRow:  # fmt: skip
    """Blocker results of the run that no line above looked at."""
    seen = {src["id"] for row in lines for src in row.sources}
    others = [r for r in pool if r.id not in seen
              and not any(fnmatchcase(r.id, p) for p in params.other_exclude)]  # fmt: skip
    text = "Every other blocker check of the run passed (runbook rule)"
    state, detail = _status_state(StatusLine(ids=["*"], skip_is_clear=True), others, False)
    if state == "missing":
        state, detail = "holds", "no other blocker result"
    return LineRow(id="other_checks", kind="run", line=text, state=state, required=True,
                   detail=detail, sources=[_source(r) for r in others if r.status not in OK
                                           and r.severity is Severity.BLOCKER])  # fmt: skip


def _judge(lines: list[LineRow], rollback: dict[str, Any]) -> SuccessVerdict:
    bad = [r for r in lines if r.bad]
    open_ = [r for r in lines if r.required and r.state in ("unproven", "missing")]
    rollback_lines = [r for r in bad if r.kind == "failed-if" and r.implies_rollback]
    no_rollback_line = next((r for r in lines if r.id == "no_rollback_required"), None)
    if no_rollback_line is not None and no_rollback_line.bad:
        rollback_lines.append(no_rollback_line)

    def why(r: LineRow) -> str:
        word = "crossed" if r.kind == "failed-if" else "does not hold"
        return f"{r.line}: {word} — {r.detail}"

    if rollback_lines:
        reasons = [why(r) for r in bad]
        if rollback["verified"]:
            reasons.append(
                "the rollback was executed and verified: the previous version serves "
                "again, but this deployment failed"
            )
        elif rollback["executed"]:
            bad_checks = [k for k, v in rollback["verification"].items() if v != "pass"]
            reasons.append(
                "the rollback was executed but NOT verified: "
                + ", ".join(f"{k} {rollback['verification'][k]}" for k in bad_checks)
            )
        else:
            reasons.append(
                "the rollback has NOT been executed: roll back now (Rollback Procedures §1)"
            )
        verdict = Verdict.ROLLBACK_REQUIRED
    elif bad:
        verdict, reasons = Verdict.NO_GO, [why(r) for r in bad]
    elif open_:
        verdict = Verdict.INCOMPLETE
        reasons = [f"{r.line}: {r.state} — {r.detail}" for r in open_]
    else:
        verdict, reasons = Verdict.GO, ["every success line holds and no failure line is crossed"]
    return SuccessVerdict(verdict=verdict, reasons=reasons, lines=lines, rollback=rollback)


# -- results -----------------------------------------------------------------------------------
def _line_result(row: LineRow) -> CheckResult:
    failed_if = row.kind == "failed-if"
    if row.bad:
        status = Status.FAIL
    elif row.state == "holds":
        status = Status.PASS
    elif not row.required:
        status = Status.SKIP
    elif row.id == "no_critical_bugs":
        status = Status.PENDING_SIGN_OFF
    else:
        status = Status.INCONCLUSIVE
    title = f"Not: {row.line}" if failed_if else row.line
    word = {
        "holds": "not crossed" if failed_if else "holds",
        "fails": "CROSSED" if failed_if else "does not hold",
    }.get(row.state, row.state)
    return CheckResult(
        id=f"success.failed.{row.id}" if failed_if else f"success.{row.id}",
        section=SECTION_FAILED if failed_if else SECTION_OK, title=title,
        severity=Severity.BLOCKER if row.required else Severity.WARNING, status=status,
        observed=row.state, threshold="crossed: no" if failed_if else "holds",
        explanation=f"{word}: {row.detail}",
        evidence={"sources": row.sources, "implies_rollback": row.implies_rollback},
    )  # fmt: skip


def _verdict_result(verdict: SuccessVerdict) -> CheckResult:
    status = {Verdict.GO: Status.PASS, Verdict.INCOMPLETE: Status.INCONCLUSIVE}.get(
        verdict.verdict, Status.FAIL
    )
    return CheckResult(
        id="success.verdict", section=f"{SECTION_OK}; {SECTION_FAILED}",
        title="Deployment verdict from the success criteria", severity=Severity.BLOCKER,
        status=status, observed=verdict.verdict.value, threshold=Verdict.GO.value,
        explanation=f"{verdict.verdict.value}: " + " | ".join(verdict.reasons),
        evidence={"reasons": verdict.reasons, "rollback": verdict.rollback,
                  "lines": [r.model_dump() for r in verdict.lines]},
    )  # fmt: skip
