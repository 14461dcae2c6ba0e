"""The phases of one run, step by step (`phases.steps`): the skip rules, the phases of a step
run at once, the next step's kernels warmed while a step runs (none beside a `quiet` phase),
and each executed notebook rendered to HTML in the background as soon as it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runbook.core.parameters import ExecutionParams, Parameters
from runbook.core.verdict import Verdict, combine
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.kernels import BackgroundLane, KernelPool, KernelRecipe, notebook_imports
from runbook.orchestration.phase_exec import (
    AWAITING_SIGN_OFF,
    KERNEL_ARGUMENTS,
    PhaseOutcome,
    counts,
    execute_phase,
    skipped,
)

Say = Callable[[str], None]
# a resumed run's check before a phase starts: an outcome replacing it, or None to run it
BeforePhase = Callable[[ph.Phase, Parameters], PhaseOutcome | None]


@dataclass(frozen=True)
class Rendering:
    """A phase notebook rendered for the report: its HTML page and its figures."""

    html: str
    figures: list[str]


def render_phase(run_dir: Path, notebook: str) -> Rendering:
    """Render `run_dir/notebook` to HTML beside it and collect its figures."""
    from runbook.orchestration.report import notebook_figures, render_notebook

    html_rel = f"notebooks/{Path(notebook).stem}.html"
    render_notebook(run_dir / notebook, run_dir / html_rel)
    return Rendering(html_rel, notebook_figures(run_dir / notebook))


@dataclass
class PhaseRunner:
    """Runs the selected phases of one run; see the module docstring. Use as a context
    manager: leaving it shuts down kernels warmed for phases that did not run."""

    root: Path
    execution: ExecutionParams
    say: Say
    progress: bool = False
    lookahead: int = 2  # steps whose kernels warm while a step runs
    outcomes: list[PhaseOutcome] = field(default_factory=list)
    renderings: dict[str, Future[Rendering]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lane = BackgroundLane()
        self._pool = KernelPool(self._lane)

    def __enter__(self) -> PhaseRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.close()
        self._lane.close_when_idle()  # renderings still finish

    def warm_ahead(self, phases: list[ph.Phase]) -> None:
        """Start warming these phases' kernels now (e.g. while the stand-ins start); a phase
        that needs the workers' or the database's variables is left for later: they are not
        exported yet."""
        first = ph.steps(phases)[:1]
        self._prepare([p for step in first for p in step if not p.uses & {"workers", "database"}])

    def run(
        self,
        selected: list[ph.Phase],
        params: Parameters,
        run_dir: Path,
        *,
        done: list[PhaseOutcome] | None = None,
        before: BeforePhase | None = None,
    ) -> list[PhaseOutcome]:
        """Every selected phase, executed or skipped (with the reason), in checklist order.
        `done`: outcomes of phases a resumed run reuses (judged with the rest, not executed);
        `before`: asked before each phase starts (a resumed run re-checks the target)."""
        self._params, self._run_dir, self._before = params, run_dir, before
        self._numbers = {p.name: i for i, p in enumerate(selected, 1)}
        self._total = len(selected)
        self.outcomes = sorted(done or [], key=lambda o: o.phase.order)
        reused = {o.phase.name for o in self.outcomes}
        for outcome in self.outcomes:
            self.say(f"{self._tag(outcome.phase)} {outcome.phase.name}: "
                     f"{outcome.verdict.value} (reused, {counts(outcome.results)})")  # fmt: skip
        steps = ph.steps([p for p in selected if p.name not in reused])
        for index, step in enumerate(steps):
            if index == 0:
                self._prepare(step)
            ahead = [p for later in steps[index + 1 : index + 1 + self.lookahead] for p in later]
            self._run_step(step, ahead)
        return self.outcomes

    def _prepare(self, phases: list[ph.Phase]) -> None:
        for phase in phases:
            if phase.beside_previous:  # it starts beside a longer phase: its own start is free
                continue
            self._pool.prepare(phase.name, KernelRecipe(
                kernel_name=self.execution.kernel_name, cwd=self.root,
                extra_arguments=KERNEL_ARGUMENTS,
                imports=(*notebook_imports(phase.path(self.root)), *phase.warm),
                start_timeout_s=self.execution.start_timeout_s))  # fmt: skip

    def _run_step(self, step: list[ph.Phase], ahead: list[ph.Phase]) -> None:
        prior = combine(o.verdict for o in self.outcomes) if self.outcomes else Verdict.GO
        waiting = any(o.status == AWAITING_SIGN_OFF for o in self.outcomes)
        undeployed = next(
            (
                o.phase.name
                for o in self.outcomes
                if o.phase.changes_target and o.status == "skipped"
            ),
            None,
        )
        runnable = []
        for phase in step:
            why = self._skip_reason(phase, prior, waiting, undeployed)
            refused = self._before(phase, self._params) if why is None and self._before else None
            if refused is not None:
                self._pool.discard(phase.name)
                self.outcomes.append(refused)
                self.say(f"{self._tag(phase)} {phase.name}: not started ({refused.error})")
                continue
            if why is None:
                runnable.append(phase)
                continue
            self._pool.discard(phase.name)
            self.outcomes.append(skipped(phase, why[0]))
            self.say(f"{self._tag(phase)} {phase.name}: skipped ({why[1]})")
        if any(p.quiet for p in runnable):
            # nothing beside a phase that measures latency here: wait for what is in flight
            # (its own kernel and the next ones were prepared by earlier steps), start nothing
            self._lane.quiet()
        else:
            self._prepare(ahead)  # warms while this step runs
        timeout = self.execution.start_timeout_s
        kernels = {p.name: self._pool.take(p.name, timeout) for p in runnable}
        for phase in runnable:
            self.say(f"{self._tag(phase)} {phase.name} …")

        def one(phase: ph.Phase) -> PhaseOutcome:
            return execute_phase(
                phase,
                self._params,
                self.root,
                self._run_dir,
                progress=self.progress,
                kernel=kernels[phase.name],
            )

        if len(runnable) > 1:
            with ThreadPoolExecutor(len(runnable), thread_name_prefix="runbook-phase") as ex:
                done = list(ex.map(one, runnable))
        else:
            done = [one(p) for p in runnable]
        for outcome in done:
            self.outcomes.append(outcome)
            if outcome.notebook:
                self.renderings[outcome.phase.name] = self._lane.submit(
                    render_phase, self._run_dir, outcome.notebook
                )
            self.say(f"{self._tag(outcome.phase)} {outcome.phase.name}: "
                     f"{outcome.verdict.value} ({counts(outcome.results)}) in "
                     f"{outcome.duration_s:.1f} s"
                     + (f" — {outcome.error}" if outcome.error else ""))  # fmt: skip
        self.outcomes.sort(key=lambda o: o.phase.order)

    @staticmethod
    def _skip_reason(
        phase: ph.Phase, prior: Verdict, waiting: bool, undeployed: str | None = None
    ) -> tuple[str, str] | None:
        if waiting:
            return "not started: a required sign-off is pending", "sign-off pending"
        if undeployed and phase.judges_deployment:
            return (
                f"not started: this run deployed nothing (phase {undeployed} did not "
                "start), so there is no deployment to judge",
                "nothing deployed",
            )
        if phase.changes_target and prior is not Verdict.GO:
            return (
                f"not started: the run is {prior.value} before this phase, which changes "
                "the target",
                f"{prior.value} before it",
            )
        return None

    def _tag(self, phase: ph.Phase) -> str:
        return f"[{self._numbers[phase.name]}/{self._total}]"
