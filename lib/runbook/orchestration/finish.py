"""Finishing a lab run: judge the saved notebooks as a headless run judges its executed ones
(`phase_exec.judge_phase`), then `pipeline.finalize` writes the secret scan, report, manifest
and chain entry. What differs is only how the notebooks were run and signed:

- a notebook nobody ran is a phase not started (INCOMPLETE), like a skipped one;
- a notebook stopped at an error keeps it (the guard's `SignOffPending` included: the phase
  stopped there), and code cells never executed mean the phase did not run to the end
  (INCONCLUSIVE, never a pass);
- a widget sign-off recorded in `signoffs/` counts even when the notebook was saved before
  it was given (or the kernel died), if it still matches the evidence it signed;
- a phase that changes the target run while an earlier phase of the run was not GO is an
  error: headless, it would not have started.

The manifest says `mode: interactive` and, per sign-off, who signed how (`signoffs`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.parameters import LoadedParameters, Parameters
from runbook.core.secret_refs import missing
from runbook.core.verdict import Verdict, judge
from runbook.governance import signoff as so
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.lab import FINISH_TAG, SESSION_FILE, LabSession
from runbook.orchestration.phase_exec import (
    AWAITING_SIGN_OFF,
    RUN_SECTION,
    PhaseOutcome,
    declared_verdict,
    judge_phase,
    skipped,
)
from runbook.orchestration.pipeline import RunOutcome, Say, finalize


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class NotALabRun(ValueError):
    """The directory is not an unfinished lab run (the message says what it is)."""


def check_finishable(run_dir: Path) -> LabSession:
    """The run's session; NotALabRun when there is no run, no lab session, or a manifest."""
    if not run_dir.is_dir():
        raise NotALabRun(f"{run_dir}: no such run directory")
    if not (run_dir / SESSION_FILE).is_file():
        raise NotALabRun(
            f"{run_dir}: not a lab run (no {SESSION_FILE}); `runbook run` finishes its runs itself"
        )
    if (run_dir / ev.MANIFEST).is_file():
        raise NotALabRun(f"{run_dir}: already finished (its {ev.MANIFEST} exists)")
    return LabSession.read(run_dir)


def finish_run(run_dir: Path, say: Say = _stderr) -> RunOutcome:
    """Judge a lab run from its saved notebooks and write its evidence like a headless run."""
    run_dir = run_dir.resolve()
    session = check_finishable(run_dir)
    params = Parameters.model_validate(session.parameters)
    loaded = LoadedParameters(
        params=params, source=Path(session.parameters_file), overrides=session.overrides
    )
    unset = missing(params)
    if unset:
        say(
            "warning: not set here, so the secret scan cannot look for their values: "
            + ", ".join(unset)
            + " (finish from the lab's own terminal or its notebooks' last cell to scan for them)"
        )
    records = so.load_records(run_dir)
    outcomes: list[PhaseOutcome] = []
    for name in session.phases:
        outcome = judge_saved(ph.BY_NAME[name], run_dir, records)
        outcome = _ordered(outcome, outcomes)
        outcomes.append(outcome)
    gate_results = [CheckResult.from_payload(dict(p)) for p in session.gate_results]
    record = {
        **session.gate_record,
        "mode": "interactive",
        "lab": {"session": SESSION_FILE, "started_at": session.started_at},
        "signoffs": signed_how(o.results for o in outcomes),
    }
    return finalize(
        session.run_id,
        run_dir,
        loaded,
        params,
        outcomes,
        session.started_at,
        say,
        gate_results,
        record,
    )


def judge_saved(phase: ph.Phase, run_dir: Path, records: dict[str, so.SignOff]) -> PhaseOutcome:
    """One phase from its saved notebook: not run → skipped; else judged like a headless
    phase, with the durable sign-offs folded in and unexecuted cells reported."""
    out = run_dir / "notebooks" / phase.notebook
    state = notebook_state(out)
    if state.never_run:
        return skipped(phase, "not started: its notebook was not run in this lab session")
    status = "completed"
    if state.error is not None:
        status = AWAITING_SIGN_OFF if state.error_name == "SignOffPending" else "crashed"
    outcome = judge_phase(phase, out, status, state.error, 0.0)
    results = fold_signoffs(outcome.results, records)
    if status == AWAITING_SIGN_OFF:
        results.append(_not_to_the_end(phase, f"it stopped at the sign-off guard: {state.error}"))
    elif status == "completed" and state.unexecuted:
        cells = ", ".join(str(i) for i in state.unexecuted)
        results.append(_not_to_the_end(phase, f"code cells {cells} were never executed"))
    return rejudged(outcome, results)


class NotebookState:
    """What a saved notebook says about how it was run."""

    def __init__(self, cells: list[dict[str, Any]]) -> None:
        code = [
            (i, c)
            for i, c in enumerate(cells, 1)
            if c.get("cell_type") == "code"
            and FINISH_TAG not in (c.get("metadata", {}).get("tags") or [])
        ]
        self.unexecuted = [i for i, c in code if c.get("execution_count") is None]
        self.never_run = len(self.unexecuted) == len(code)
        self.error: str | None = None
        self.error_name: str | None = None
        for _, cell in code:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and self.error is None:
                    self.error_name = str(output.get("ename"))
                    self.error = (
                        f"cell {cell.get('execution_count')} raised "
                        f"{self.error_name}: {output.get('evalue')}"
                    )


def notebook_state(path: Path) -> NotebookState:
    """The state of a saved notebook (a missing or unreadable one counts as never run)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return NotebookState([])
    return NotebookState(list(nb.get("cells", [])))


def fold_signoffs(results: list[CheckResult], records: dict[str, so.SignOff]) -> list[CheckResult]:
    """Replace a sign-off result that is not PASS in the saved notebook by the durable widget
    record of its item, when one exists and still matches the evidence it signed."""
    out = []
    for result in results:
        item_id = result.id.removeprefix(so.ID_PREFIX)
        record = records.get(item_id) if result.id.startswith(so.ID_PREFIX) else None
        if record is None or result.status is Status.PASS:
            out.append(result)
            continue
        item = so.SignOffItem.model_validate((result.evidence or {}).get("item"))
        signed = so.signoff_result(item, record).model_copy(update={"phase": result.phase})
        if not so.evidence_matches(record, results):
            signed = signed.model_copy(
                update={
                    "status": Status.PENDING_SIGN_OFF,
                    "explanation": f"signed by {record.by} in the lab, but the results it "
                    "signed have changed in the saved notebook since: sign again",
                }
            )
        out.append(signed)
    return out


def rejudged(outcome: PhaseOutcome, results: list[CheckResult]) -> PhaseOutcome:
    """The outcome with these results and the verdict recomputed as `judge_phase` does."""
    report = judge(results)
    verdict = declared_verdict(results) or report.verdict
    if verdict.rank < report.verdict.rank:
        verdict = report.verdict
    return replace(outcome, results=results, verdict=verdict, reasons=report.reasons)


def _not_to_the_end(phase: ph.Phase, why: str) -> CheckResult:
    return CheckResult(
        id=f"runbook.{phase.name}.execution",
        section=RUN_SECTION,
        title=f"Phase {phase.name} ran to the end",
        severity=Severity.BLOCKER,
        status=Status.INCONCLUSIVE,
        phase=phase.name,
        explanation=f"not run to the end in the lab: {why}; run the notebook to its end, save "
        "it and finish again (or start a new run)",
        evidence={"notebook": f"notebooks/{phase.notebook}"},
    )


def _ordered(outcome: PhaseOutcome, earlier: list[PhaseOutcome]) -> PhaseOutcome:
    """A target-changing phase that ran although an earlier phase was not GO: an error."""
    if not outcome.phase.changes_target or outcome.status == "skipped":
        return outcome
    blocking = [o for o in earlier if o.verdict is not Verdict.GO]
    if not blocking:
        return outcome
    names = ", ".join(f"{o.phase.name} ({o.verdict.value})" for o in blocking)
    error = CheckResult(
        id=f"runbook.{outcome.phase.name}.order",
        section=RUN_SECTION,
        title=f"Phase {outcome.phase.name} ran only after every earlier phase was GO",
        severity=Severity.BLOCKER,
        status=Status.ERROR,
        phase=outcome.phase.name,
        explanation=f"it changed the target although {names} was not GO; a headless run would "
        "not have started it",
    )
    return rejudged(outcome, [*outcome.results, error])


def signed_how(result_groups: Any) -> dict[str, dict[str, Any]]:
    """Sign-off check id -> status and, when signed, by whom, in which role, from where."""
    out: dict[str, dict[str, Any]] = {}
    for results in result_groups:
        for r in results:
            if not r.id.startswith(so.ID_PREFIX):
                continue
            signed = (r.evidence or {}).get("signoff") or {}
            out[r.id] = {
                "status": r.status.value,
                **{k: signed[k] for k in ("by", "role", "source", "at") if k in signed},
            }
    return out


# -- the notebooks' last cell --------------------------------------------------------------------
class UnsavedWork(RuntimeError):
    """The finish cell found results in the kernel that the saved notebook lacks."""


def finish_cell(ctx: Any) -> RunOutcome | None:
    """The last cell of every phase notebook: in a `runbook lab` kernel, finish the run (after
    checking this notebook was saved with what the kernel recorded); elsewhere say why not."""
    from IPython.display import Markdown, display

    run_dir = getattr(ctx, "run_dir", None)
    if os.environ.get(so.INTERACTIVE_ENV) != "1" or run_dir is None:
        display(Markdown("Not a `runbook lab` session: nothing to finish here."))
        return None
    notebook = run_dir / "notebooks" / ph.BY_NAME[ctx.phase].notebook
    saved = {r.id: r.status for r in ev.results_from_notebook(notebook)}
    durable = {so.ID_PREFIX + item for item in so.load_records(Path(run_dir))}
    stale = [
        r.id
        for r in ctx.results.values()
        if saved.get(r.id) is not r.status and r.id not in durable  # recorded: finish folds it
    ]
    if stale:
        raise UnsavedWork(
            f"save this notebook first (Ctrl+S), then run this cell again: the saved copy lacks "
            f"the current state of {', '.join(stale)}"
        )
    outcome = finish_run(Path(run_dir), say=print)
    display(
        Markdown(
            f"**{outcome.verdict.value if outcome.verdict else 'unfinished'}** — the run is "
            f"finished and sealed (`runbook verify {run_dir}`); later saves are refused."
        )
    )
    return outcome
