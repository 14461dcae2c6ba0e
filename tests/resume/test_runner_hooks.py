"""The phase runner's two hooks for a resumed run: reused outcomes are judged with the rest and
never executed, and a phase the re-check refuses does not start (its outcome says why)."""

from __future__ import annotations

from pathlib import Path

from runbook.core.checks import CheckResult, Status
from runbook.core.parameters import Parameters, load
from runbook.core.verdict import Verdict
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.phase_exec import PhaseOutcome
from runbook.orchestration.runner import PhaseRunner

ROOT = Path(__file__).resolve().parents[2]


def outcome(phase: ph.Phase, verdict: Verdict, status: str, why: str | None) -> PhaseOutcome:
    result = CheckResult(
        id=f"runbook.{phase.name}.x", section="s", title="t", phase=phase.name,
        status=Status.PASS if verdict is Verdict.GO else Status.ERROR,
    )  # fmt: skip
    return PhaseOutcome(phase=phase, status=status, results=[result], verdict=verdict,
                        reasons=[why] if why else [], duration_s=1.0,
                        notebook=None, error=why)  # fmt: skip


def test_reused_phases_are_not_executed_and_a_refused_phase_does_not_start(
    tmp_path: Path,
) -> None:
    params = load("local", [], ROOT).params
    deploy, rollback = ph.BY_NAME["deploy"], ph.BY_NAME["rollback"]
    reused = outcome(deploy, Verdict.GO, "completed", None)
    refused = outcome(rollback, Verdict.NO_GO, "skipped", "the target changed")
    asked: list[str] = []

    def before(phase: ph.Phase, given: Parameters) -> PhaseOutcome | None:
        asked.append(phase.name)
        return refused

    lines: list[str] = []
    with PhaseRunner(ROOT, params.execution, lines.append) as runner:
        done = runner.run([deploy, rollback], params, tmp_path, done=[reused], before=before)
    assert done == [reused, refused]
    assert asked == ["rollback"]  # the reused deploy is never asked about, never executed
    assert not (tmp_path / "notebooks").exists()
    assert "[1/2] deploy: GO (reused, 1 pass)" in lines
    assert any(
        line.startswith("[2/2] rollback: not started (the target changed)") for line in lines
    )
