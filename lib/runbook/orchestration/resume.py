"""`runbook resume`: continue a stopped run in a new run directory, executing only what did
not complete.

A phase *completed* when its executed notebook was saved whole: papermill finished it (its end
time is recorded, no exception), every code cell says completed, no cell holds an error, and,
when the stopped run has a manifest, the manifest says completed. The longest prefix of
completed phases (in checklist order) is reused: each notebook copied byte for byte (its
sha256 recorded) with the phase's evidence folder; every later phase executes again, because
later phases read what earlier ones left. The stopped run is never written to.

Refused (nothing executed, no run directory): a stopped run without run.json, parameters or
phase notebooks that differ from the stopped run's (unless forced, which is recorded), a run
with nothing left to do, and a target that no longer serves what the reused deploy proved (its
health route, and the version it answered). A local rehearsal's stand-ins die with the run
that started them, so on a rehearsal the stopped run's deployment is replayed onto the fresh
stand-ins first (the same package, its sha256 compared), the requests of its verify and
performance phases are sent again (their notebooks executed into a scratch folder, never
judged) so the monitor's window holds the traffic a real target's telemetry would, and the
target is then re-checked; a real target keeps its state and is only re-checked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.parameters import Parameters, public_dump
from runbook.core.verdict import Verdict
from runbook.governance.settlement import settlements_of
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.phase_exec import RUN_SECTION, PhaseOutcome, judge_phase
from runbook.orchestration.pipeline import (
    RUN_RECORD,
    RunOutcome,
    RunPlan,
    RunRequest,
    Say,
    notebook_hashes,
    parameters_sha256,
    prepare,
    run_plan,
)

# the phases that change the target: the target is re-checked before they start (rollback
# runs always and acts on its own decision, see phase_plan)
TARGET_CHANGING = frozenset({p.name for p in ph.PHASES if p.changes_target} | {"rollback"})
TARGET_CHECK_ID = "runbook.resume.target"
REPLAY_CHECK_ID = "runbook.resume.rehearsal-replay"


class ResumeRefused(Exception):
    """The stopped run cannot be resumed; `problems` say why, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StoppedRun:
    """A run directory read for resuming: its run.json and, if it finished, its manifest."""

    run_dir: Path
    record: dict[str, Any]
    manifest: dict[str, Any] | None

    @property
    def run_id(self) -> str:
        return str(self.record.get("run_id") or self.run_dir.name)


def read_stopped(run_dir: Path) -> StoppedRun:
    """The stopped run's records; ResumeRefused when there is nothing to resume from."""
    run_dir = run_dir.resolve()
    if not run_dir.is_dir():
        raise ResumeRefused([f"{run_dir}: no such run directory"])
    path = run_dir / RUN_RECORD
    if not path.is_file():
        raise ResumeRefused(
            [
                f"{run_dir} has no {RUN_RECORD}: it was not started by `runbook run` of a "
                "runbook that records what a resume needs (parameters, phases, notebooks)"
            ]
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["request"]["env"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ResumeRefused([f"{path} is not a run record ({exc})"]) from None
    manifest = None
    if (run_dir / ev.MANIFEST).is_file():
        try:
            manifest = json.loads((run_dir / ev.MANIFEST).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ResumeRefused([f"{run_dir / ev.MANIFEST} is not JSON ({exc})"]) from None
    return StoppedRun(run_dir=run_dir, record=record, manifest=manifest)


def incomplete_reason(stopped: StoppedRun, phase: ph.Phase) -> str | None:
    """Why `phase` did not complete in the stopped run, or None when it did (see module)."""
    if stopped.manifest is not None:
        phases: list[dict[str, Any]] = stopped.manifest.get("phases", [])
        rec = next((p for p in phases if p.get("name") == phase.name), {})
        if rec.get("status") != "completed":
            return f"the manifest says {rec.get('status') or 'not run'}"
    path = stopped.run_dir / "notebooks" / phase.notebook
    if not path.is_file():
        return "not started (no executed notebook)"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return "its notebook was cut short (not JSON)"
    meta = (nb.get("metadata") or {}).get("papermill") or {}
    if meta.get("exception") or not meta.get("end_time"):
        return "stopped while executing (papermill recorded no end)"
    unfinished = [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
        and ((cell.get("metadata") or {}).get("papermill") or {}).get("status") != "completed"
    ]
    if unfinished:
        return f"cells {unfinished} did not complete"
    error = ev.notebook_error(path)
    return f"a cell raised {error}" if error else None


def notebook_duration(path: Path) -> float:
    """The seconds papermill recorded for an executed notebook (0 when none)."""
    meta = (json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}).get("papermill")
    try:
        return float((meta or {}).get("duration") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def differences(stopped: StoppedRun, plan: RunPlan) -> list[str]:
    """What differs between the stopped run and this one: parameters (the keys named), the
    phase notebooks, the runbook's version. Empty: the same runbook on the same parameters."""
    found = []
    if stopped.record.get("parameters_sha256") != parameters_sha256(plan.loaded.params):
        keys = changed_keys(stopped.record.get("parameters") or {}, public_dump(plan.loaded.params))
        found.append(
            "the parameters changed since the stopped run: "
            + (", ".join(keys) if keys else "in values notebooks never see (rehearsal seed)")
        )
    runbook = stopped.record.get("runbook") or {}
    before = runbook.get("notebooks") or {}
    now = notebook_hashes(plan.root, plan.selected)
    found += [
        f"the runbook changed since the stopped run: notebook of phase {name} differs"
        for name in now
        if before.get(name) != now[name]
    ]
    from runbook import __version__

    if runbook.get("version") != __version__:
        found.append(
            f"the runbook changed since the stopped run: version {runbook.get('version')} "
            f"then, {__version__} now"
        )
    return found


def changed_keys(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON trees."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            out += changed_keys(before.get(key), after.get(key), f"{prefix}{key}.")
        return out
    return [] if before == after else [prefix.rstrip(".") or "(all)"]


@dataclass
class Resumption:
    """A resumed run's part in the pipeline (`pipeline.Continuation`)."""

    stopped: StoppedRun
    plan: RunPlan
    reused: list[ph.Phase]
    forced: list[str] = field(default_factory=list)
    replay: list[dict[str, Any]] = field(default_factory=list)
    copied: list[dict[str, Any]] = field(default_factory=list)
    proved: CheckResult | None = None  # the deploy's last passing health check

    def __post_init__(self) -> None:
        self._stopped_files = ev.hash_tree(self.stopped.run_dir)
        self.proved = deployed_health(self.stopped, self.plan.loaded.params, self.reused)

    @property
    def reused_phases(self) -> set[str]:
        return {p.name for p in self.reused}

    def record(self) -> dict[str, Any]:
        manifest = self.stopped.run_dir / ev.MANIFEST
        return {
            "resumed_from": self.stopped.run_id,
            "resumed_from_dir": str(self.stopped.run_dir),
            "stopped_run": {
                "verdict": (self.stopped.manifest or {}).get("verdict", "UNFINISHED"),
                "manifest_sha256": ev.sha256_file(manifest) if manifest.is_file() else None,
                "files": self._stopped_files,
            },
            "reused": self.copied
            or [
                {"phase": p.name, "notebook": f"notebooks/{p.notebook}"}  # before copying
                for p in self.reused
            ],
            "re_executed": [p.name for p in self.plan.selected if p not in self.reused],
            "forced": {"differences": self.forced} if self.forced else None,
            "rehearsal_replay": self.replay or None,
        }

    def check_target(self, params: Parameters, say: Say) -> list[CheckResult]:
        """Nothing deployed by the reused phases: nothing to check. Else (a rehearsal: after
        replaying the deployment onto its fresh stand-ins) the target must answer healthy with
        the version the deploy proved; ResumeRefused otherwise."""
        if self.proved is None:
            return []
        results = []
        if self.plan.local is not None:
            replayed = replay_deployment(self.stopped, params, say)
            self.replay = [
                {"id": r.id, "status": r.status.value, "explanation": r.explanation}
                for r in replayed.get("results", [])
            ]
            results.append(replayed["check"])
            if replayed["check"].status is not Status.PASS:
                raise ResumeRefused([f"rehearsal replay: {replayed['check'].explanation}"])
            self.replay += replay_traffic(
                [p for p in self.reused if p.judges_deployment], params, self.plan.root, say
            )
        say("resume: checking the target still serves what the stopped run deployed …")
        check = target_check(self.proved, params)
        if check.status is not Status.PASS:
            raise ResumeRefused([f"the target is not as the stopped run left it: "
                                 f"{check.explanation}"])  # fmt: skip
        return [*results, check]

    def reuse(self, run_dir: Path) -> list[PhaseOutcome]:
        """Copy each reused phase's notebook (checked byte-identical) and its evidence folder;
        judge the copies as a run judges an executed notebook (the report renders them anew)."""
        outcomes = []
        for phase in self.reused:
            rel = f"notebooks/{phase.notebook}"
            source, target = self.stopped.run_dir / rel, run_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            ev.write_evidence(target, source.read_bytes())
            digest = ev.sha256_file(target)
            if digest != self._stopped_files.get(rel):
                raise ResumeRefused([f"{source} changed while it was being reused"])
            evidence = self.stopped.run_dir / "evidence" / phase.name
            if evidence.is_dir():
                shutil.copytree(evidence, run_dir / "evidence" / phase.name)
            self.copied.append({"phase": phase.name, "notebook": rel, "sha256": digest})
            outcomes.append(
                judge_phase(
                    phase,
                    target,
                    "completed",
                    None,
                    notebook_duration(target),
                    settlements_of(self.plan.loaded.params),
                )
            )
        return outcomes

    def before_phase(self, phase: ph.Phase, params: Parameters) -> PhaseOutcome | None:
        """Before deploy or rollback starts on a reused deployment: the target still serves
        it, or the phase does not start (an ERROR blocker naming what changed)."""
        if phase.name not in TARGET_CHANGING or self.proved is None:
            return None
        check = target_check(self.proved, params)
        if check.status is Status.PASS:
            return None
        why = f"not started: the target changed since the resumed run's checks: {check.explanation}"
        result = check.model_copy(
            update={"id": f"runbook.{phase.name}.target-unchanged", "phase": phase.name}
        )
        return PhaseOutcome(phase=phase, status="skipped", results=[result],
                            verdict=Verdict.NO_GO, reasons=[why], duration_s=0.0,
                            notebook=None, error=why)  # fmt: skip


def deployed_health(
    stopped: StoppedRun, params: Parameters, reused: list[ph.Phase]
) -> CheckResult | None:
    """The last passing health check of a reused deploy phase (what it proved was running),
    or None when no reused phase deployed anything."""
    deploy = next((p for p in reused if p.changes_target), None)
    if deploy is None or params.deploy is None:
        return None
    results = ev.results_from_notebook(stopped.run_dir / "notebooks" / deploy.notebook)
    prefix = f"{params.deploy.id_prefix}.health."
    passing = [r for r in results if r.id.startswith(prefix) and r.status is Status.PASS]
    return passing[-1] if passing else None


def target_check(proved: CheckResult, params: Parameters) -> CheckResult:
    """The slot the deploy last proved healthy answers healthy with the same version."""
    from runbook.phases.deploy.health import wait_healthy

    assert params.deploy is not None  # deployed_health found a deploy
    slot = proved.id.rsplit(".", 1)[-1]
    observed = proved.observed if isinstance(proved.observed, dict) else {}
    version = observed.get("version")
    now = wait_healthy(params.deploy, slot, expect_version=version)
    said = f"version {version}" if version is not None else "no version (none recorded)"
    return now.model_copy(
        update={
            "id": TARGET_CHECK_ID,
            "section": RUN_SECTION,
            "title": "The target still serves what the resumed run's deploy proved",
            "severity": Severity.BLOCKER,
            "phase": "run",
            "explanation": f"slot {slot}, expected {said}: {now.explanation}",
        }
    )


def replay_deployment(stopped: StoppedRun, params: Parameters, say: Say) -> dict[str, Any]:
    """On a rehearsal's fresh stand-ins: deploy the stopped run's package again (the deploy
    phase's own code, outside any notebook); PASS only when every step passed and the package
    has the sha256 the stopped run deployed."""
    from runbook.phases.deploy.sequence import run_deploy

    assert params.deploy is not None
    package_id = f"{params.deploy.id_prefix}.package"
    notebook = stopped.run_dir / "notebooks" / ph.BY_NAME["deploy"].notebook
    deployed = _package_sha256(ev.results_from_notebook(notebook), package_id)
    say("resume: the rehearsal's stand-ins are new; replaying the stopped run's deployment …")
    with tempfile.TemporaryDirectory(prefix="runbook-resume-replay-") as work:
        done = run_deploy(params.deploy, params.azure, Path(work))
    failed = [r for r in done.results if r.status is not Status.PASS]
    now = _package_sha256(done.results, package_id)
    if failed:
        status, why = Status.ERROR, "; ".join(f"{r.id}: {r.explanation}" for r in failed)
    elif deployed is not None and deployed != now:
        status, why = Status.FAIL, f"the package now has sha256 {now}, the stopped run's {deployed}"
    else:
        status = Status.PASS
        why = f"replayed in {len(done.results)} passing steps, package sha256 {now}"
    check = CheckResult(
        id=REPLAY_CHECK_ID,
        section=RUN_SECTION,
        title="The rehearsal's fresh stand-ins hold the stopped run's deployment",
        severity=Severity.BLOCKER,
        status=status,
        phase="run",
        observed={"package_sha256": now, "steps": len(done.results)},
        threshold={"package_sha256": deployed},
        explanation=why,
    )
    return {"check": check, "results": done.results}


def replay_traffic(
    phases: list[ph.Phase], params: Parameters, root: Path, say: Say
) -> list[dict[str, Any]]:
    """On a rehearsal's fresh stand-ins: the requests the reused phases that judged the
    deployment (verify, performance) sent, sent again by executing their notebooks into a
    scratch folder that is then deleted, so the monitor's look-back window holds the traffic a
    real target's telemetry would still hold. Their results are never judged: the stopped
    run's are reused."""
    from runbook.orchestration.phase_exec import counts, execute_phase

    done = []
    for phase in phases:
        say(f"resume: replaying the requests of phase {phase.name} onto the fresh stand-ins …")
        with tempfile.TemporaryDirectory(prefix="runbook-resume-traffic-") as scratch:
            outcome = execute_phase(phase, params, root, Path(scratch))
        done.append(
            {"replayed_requests_of": phase.name, "status": outcome.status,
             "checks": counts(outcome.results), "duration_s": round(outcome.duration_s, 1)}
        )  # fmt: skip
    return done


def _package_sha256(results: list[CheckResult], package_id: str) -> str | None:
    """The sha256 the deploy phase's package result observed (None without one)."""
    found = next((r for r in results if r.id == package_id), None)
    observed = found.observed if found is not None else None
    return observed.get("sha256") if isinstance(observed, dict) else None


def plan_resume(
    run_dir: Path, *, force: bool = False, overrides: list[str] | None = None,
    progress: bool = False,
) -> Resumption:  # fmt: skip
    """Read the stopped run, prepare the same request (ParameterError as for `runbook run`),
    and decide what is reused; ResumeRefused names every reason not to resume."""
    stopped = read_stopped(run_dir)
    req = stopped.record["request"]
    request = RunRequest(
        env=req["env"],
        phases=list(req.get("phases") or []) or None,
        overrides=[*req.get("overrides", []), *(overrides or [])],
        outputs=stopped.run_dir.parent.parent,
        progress=progress,
        approval=Path(req["approval"]) if req.get("approval") else None,
        promotion_override=tuple(req["promotion_override"])
        if req.get("promotion_override")
        else None,
    )
    plan = prepare(request)
    changed = differences(stopped, plan)
    if changed and not force:
        raise ResumeRefused([*changed, "resume with --force to continue anyway (recorded)"])
    reused: list[ph.Phase] = []
    for phase in plan.selected:
        if incomplete_reason(stopped, phase) is not None:
            break
        reused.append(phase)
    if len(reused) == len(plan.selected):
        raise ResumeRefused(
            [f"nothing to resume: every phase of run {stopped.run_id} completed"
             + (f" (verdict {stopped.manifest.get('verdict')})" if stopped.manifest else "")]
        )  # fmt: skip
    return Resumption(stopped=stopped, plan=plan, reused=reused, forced=changed)


def resume(
    run_dir: Path, *, force: bool = False, overrides: list[str] | None = None,
    progress: bool = False, say: Say | None = None,
) -> RunOutcome:  # fmt: skip
    """A new run, chained in the same environment, continuing the stopped one (module doc)."""
    from runbook.orchestration.pipeline import _stderr

    say = say or _stderr
    resumption = plan_resume(run_dir, force=force, overrides=overrides, progress=progress)
    stopped = resumption.stopped
    for phase in resumption.plan.selected:
        why = incomplete_reason(stopped, phase) or "it follows a phase that did not complete"
        state = "reused" if phase in resumption.reused else f"executes again ({why})"
        say(f"resume {stopped.run_id}: {phase.name} {state}")
    for line in resumption.forced:
        say(f"resume --force: {line}")
    return run_plan(resumption.plan, say, resumption)
