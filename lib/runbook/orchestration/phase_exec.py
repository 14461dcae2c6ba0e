"""One phase through papermill: execute its notebook into the run directory, read the results
back, and judge them. A crash keeps the partial notebook and adds an error result naming what
happened; a pending sign-off stops the phase on purpose.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.parameters import Parameters, public_dump
from runbook.core.verdict import Verdict, judge
from runbook.governance.settlement import SettlementParams, apply_settlements, settlements_of
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.kernels import WarmKernel

RUN_SECTION = "Runbook execution"
AWAITING_SIGN_OFF = "awaiting-sign-off"
SUCCESS_VERDICT_ID = "success.verdict"
# the kernel's start-up chatter (e.g. "running over TCP without encryption" on loopback) would
# bury the progress lines; its errors still show
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)
# a cell whose metadata says {"runbook": {"timeout_budget": NAME}} may run as long as the
# budget NAME computed from the parameters (never less than execution.cell_timeout_s)
BUDGET_KEY = "timeout_budget"
GATES_BUDGET = "pre_deployment.gates"
# a cell that stopped for want of a secret or a credential could not look: the phase is
# INCOMPLETE with the one line naming what is missing, not NO-GO
BLIND_ERRORS = ("SecretUnavailable", "CredentialUnavailableError", "ClientAuthenticationError")


@dataclass
class PhaseOutcome:
    phase: ph.Phase
    status: str  # completed | crashed | skipped | awaiting-sign-off
    results: list[CheckResult]
    verdict: Verdict
    reasons: list[str]
    duration_s: float
    notebook: str | None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "name": self.phase.name,
            "notebook": self.notebook,
            "status": self.status,
            "verdict": self.verdict.value,
            "reasons": self.reasons,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "checks": len(self.results),
        }


def cell_budgets(params: Parameters) -> dict[str, float]:
    """Budget name -> seconds, for the cells that run more than one timed step (the gates
    cell: derived from every gate's own timeout, see `gates.runner.cell_budget_s`)."""
    budgets: dict[str, float] = {}
    if params.pre_deployment is not None:
        from runbook.phases.pre_deployment.gates.runner import cell_budget_s

        budgets[GATES_BUDGET] = cell_budget_s(params.pre_deployment)
    return budgets


def cell_timeout_func(default_s: float, budgets: Mapping[str, float]) -> Callable[[Any], int]:
    """nbclient's `timeout_func`: a cell's own budget when its metadata names one, else the
    default cell timeout."""

    def timeout(cell: Any) -> int:
        named = ((cell.get("metadata") or {}).get("runbook") or {}).get(BUDGET_KEY)
        return math.ceil(max(default_s, budgets.get(named, 0.0) if named else 0.0))

    return timeout


def execute_phase(
    phase: ph.Phase,
    params: Parameters,
    root: Path,
    run_dir: Path,
    progress: bool = False,
    kernel: WarmKernel | None = None,
) -> PhaseOutcome:
    """Run one phase notebook with papermill (in `kernel` when one was started ahead; it is
    shut down here either way) and judge its results."""
    import papermill  # heavy: imported only when a phase really runs
    from papermill.exceptions import PapermillExecutionError

    out = run_dir / "notebooks" / phase.notebook
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    status, error = "completed", None
    try:
        _execute_with_start_retry(
            papermill.execute_notebook, kernel is None,
            str(phase.path(root)), str(out),
            parameters={"env": params.environment, "params": public_dump(params),
                        "run_dir": str(run_dir)},
            kernel_name=params.execution.kernel_name,
            execution_timeout=params.execution.cell_timeout_s,
            timeout_func=cell_timeout_func(params.execution.cell_timeout_s, cell_budgets(params)),
            start_timeout=params.execution.start_timeout_s,
            progress_bar=progress, log_output=False, request_save_on_cell_execute=True,
            cwd=str(root), shutdown_kernel="immediate",
            extra_arguments=list(KERNEL_ARGUMENTS),
            **({"km": kernel.manager} if kernel is not None else {}),
        )  # fmt: skip
    except PapermillExecutionError as exc:
        status, error = "crashed", f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}"
        if exc.ename == "SignOffPending":  # stopped on purpose: its pending results say why
            status = AWAITING_SIGN_OFF
    except Exception as exc:  # noqa: BLE001 - kernel death, timeouts, I/O: all kept as evidence
        if ev.is_out_of_space(exc):  # the notebook itself cannot be saved: the run stops
            raise ev.EvidenceWriteError(out, exc) from None
        status = "crashed"
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        error = ev.notebook_error(out) or error
    finally:
        if kernel is not None:
            kernel.close()
    duration = time.perf_counter() - t0
    return judge_phase(phase, out, status, error, duration, settlements_of(params))


def _execute_with_start_retry(execute: Any, may_retry: bool, *args: Any, **kwargs: Any) -> None:
    """papermill's execute, once more (twice at most) when its own kernel died before answering
    kernel_info: no cell ran, so nothing is executed twice (a warm kernel is not restarted)."""
    from runbook.orchestration.kernels import START_ATTEMPTS, died_at_start

    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            execute(*args, **kwargs)
            return
        except RuntimeError as exc:
            if not may_retry or attempt == START_ATTEMPTS or not died_at_start(exc):
                raise


def judge_phase(
    phase: ph.Phase,
    out: Path,
    status: str,
    error: str | None,
    duration: float,
    settlements: SettlementParams | None = None,
) -> PhaseOutcome:
    """Read the executed notebook's results (a crash adds `runbook.<phase>.execution`), apply
    the settlements of inconclusive blockers given in parameters, and compute the verdict."""
    results = []
    if out.is_file():
        try:
            results = ev.results_from_notebook(out)
        except Exception as exc:  # noqa: BLE001 - an unreadable notebook is itself a finding
            status, error = "crashed", f"the executed notebook cannot be read: {exc}"
    if status == "crashed":
        blind = any(f"raised {name}:" in (error or "") for name in BLIND_ERRORS)
        results.append(CheckResult(
            id=f"runbook.{phase.name}.execution", section=RUN_SECTION,
            title=f"Phase {phase.name} ran to the end", severity=Severity.BLOCKER,
            status=Status.INCONCLUSIVE if blind else Status.ERROR, phase=phase.name,
            explanation=(f"could not look: {error}" if blind else error or "crashed"),
            evidence={"notebook": f"notebooks/{phase.notebook}"},
        ))  # fmt: skip
    results = apply_settlements(results, settlements)
    report = judge(results)
    verdict = declared_verdict(results) or report.verdict
    if verdict.rank < report.verdict.rank:  # a declared verdict never hides a failure
        verdict = report.verdict
    return PhaseOutcome(phase=phase, status=status, results=results, verdict=verdict,
                        reasons=report.reasons, duration_s=duration,
                        notebook=f"notebooks/{phase.notebook}" if out.is_file() else None,
                        error=error)  # fmt: skip


def declared_verdict(results: list[CheckResult]) -> Verdict | None:
    """The verdict phase success-criteria computed (it may say ROLLBACK REQUIRED, which no
    single check can), read from its `success.verdict` result."""
    for r in results:
        if r.id == SUCCESS_VERDICT_ID:
            declared = r.observed.get("verdict") if isinstance(r.observed, dict) else r.observed
            try:
                return Verdict(str(declared))
            except ValueError:
                return None
    return None


def skipped(phase: ph.Phase, why: str) -> PhaseOutcome:
    """A phase that was not started, and why (INCOMPLETE: never a pass)."""
    result = CheckResult(
        id=f"runbook.{phase.name}.started",
        section=RUN_SECTION,
        title=f"Phase {phase.name} started",
        status=Status.SKIP,
        phase=phase.name,
        explanation=why,
    )
    return PhaseOutcome(
        phase=phase,
        status="skipped",
        results=[result],
        verdict=Verdict.INCOMPLETE,
        reasons=[why],
        duration_s=0.0,
        notebook=None,
    )


def counts(results: list[CheckResult]) -> str:
    """'3 fail, 12 pass' — the statuses of a phase's results, for the progress line."""
    tally: dict[str, int] = {}
    for r in results:
        tally[r.status.value] = tally.get(r.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(tally.items())) or "no checks"
