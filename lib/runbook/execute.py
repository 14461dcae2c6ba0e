"""Run phases: validate parameters, start the local sandbox when the environment has one,
execute each phase notebook with papermill into a fresh run directory, read the results
back, judge, and leave a report and a hashed manifest. Partial evidence is always kept.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook import __version__
from runbook import evidence as ev
from runbook import phases as ph
from runbook.checks import CheckResult, Severity, Status
from runbook.local_services import start_local_services
from runbook.params import LoadedParameters, ParameterError, Parameters, load, public_dump
from runbook.secrets import missing, resolved_values
from runbook.verdict import Verdict, combine, judge

RUN_SECTION = "Runbook execution"
AWAITING_SIGN_OFF = "awaiting-sign-off"
CI_VARIABLES = ("CI", "GITHUB_ACTOR", "GITHUB_RUN_ID", "GITHUB_WORKFLOW", "GITHUB_SHA",
                "BUILD_BUILDID", "BUILD_REQUESTEDFOR", "SYSTEM_TEAMPROJECT")


@dataclass
class RunRequest:
    """What the operator asked for."""

    env: str
    phases: list[str] | None = None
    overrides: list[str] = field(default_factory=list)
    dry_run: bool = False
    root: Path | None = None
    outputs: Path | None = None
    progress: bool = False
    approval: Path | None = None
    promotion_override: tuple[str, str] | None = None  # (by, reason)


@dataclass
class PhaseOutcome:
    phase: ph.Phase
    status: str  # completed | crashed | skipped
    results: list[CheckResult]
    verdict: Verdict
    reasons: list[str]
    duration_s: float
    notebook: str | None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {"name": self.phase.name, "notebook": self.notebook, "status": self.status,
                "verdict": self.verdict.value, "reasons": self.reasons,
                "duration_s": round(self.duration_s, 3), "error": self.error,
                "checks": len(self.results)}


@dataclass
class RunOutcome:
    verdict: Verdict | None
    run_dir: Path | None
    phases: list[PhaseOutcome] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict is Verdict.GO else 1


Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prepare(request: RunRequest) -> tuple[LoadedParameters, list[ph.Phase], Path]:
    """Validate everything that can be validated before anything starts (ParameterError /
    UnknownPhase otherwise)."""
    from runbook.params import project_root

    root = request.root or project_root()
    loaded = load(request.env, request.overrides, root)
    selected = ph.select(root, request.phases)
    problems = [
        f"{loaded.source}: phase '{p.name}' needs the key '{p.params_key}', which is missing"
        for p in selected
        if p.params_key and getattr(loaded.params, p.params_key, None) is None
    ]
    if problems:
        raise ParameterError(problems)
    return loaded, selected, root


def describe_plan(loaded: LoadedParameters, selected: list[ph.Phase]) -> list[str]:
    """What a run would do, for --dry-run."""
    p = loaded.params
    lines = [f"environment: {p.environment} ({loaded.source})",
             f"target: {p.target.name} at {p.target.base_url}"
             + (" (replaced by the local sandbox started for the run)" if p.sandbox else ""),
             f"build id: {p.build_id or 'unknown'}",
             "secrets (references only): "
             + ", ".join(f"{path}={ref.describe()}" for path, ref in _refs(p)),
             "phases:"]
    lines += [f"  {i}. {ph_.name} — runbooks/{ph_.notebook}" for i, ph_ in enumerate(selected, 1)]
    if loaded.overrides:
        lines.append("overrides: " + ", ".join(loaded.overrides))
    return lines


def _refs(params: Parameters) -> list[tuple[str, Any]]:
    from runbook.secrets import iter_refs

    return list(iter_refs(params))


def run(request: RunRequest, say: Say = _stderr) -> RunOutcome:
    """Execute a run end to end. Raises ParameterError / UnknownPhase before anything starts."""
    loaded, selected, root = prepare(request)
    if request.dry_run:
        for line in describe_plan(loaded, selected):
            say(line)
        say("dry run: nothing was executed and nothing was changed")
        return RunOutcome(verdict=None, run_dir=None)

    outputs = request.outputs or root / "outputs"
    params = loaded.params
    started = _now()
    _warm_imports()
    gate_results, gate_record = governance_gates(request, loaded, selected, root, outputs)
    os.environ[HEADLESS_ENV] = "1"  # sign-off cells take their records from parameters / CI
    with ExitStack() as stack:
        uses = set().union(*(p.uses for p in selected))
        try:
            params, services = start_local_services(params, stack, say, uses)
        except ParameterError:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing binary, a port, a start timeout
            raise ParameterError([f"could not start the local stand-ins: {exc}"]) from None
        unset = missing(_needed_sections(params, selected, uses))
        if unset:
            raise ParameterError([f"{loaded.source}: secret reference {m} is not set in the "
                                  "environment; export it before the run" for m in unset])
        absent = _missing_repository(params, selected, root)
        if absent:
            raise ParameterError([f"{loaded.source}: {absent}"])
        run_id, run_dir = ev.new_run_dir(outputs / params.environment)
        say(f"run {run_id} → {run_dir}")
        outcomes: list[PhaseOutcome] = []
        for index, phase in enumerate(selected, 1):
            prior = combine(o.verdict for o in outcomes) if outcomes else Verdict.GO
            if any(o.status == AWAITING_SIGN_OFF for o in outcomes):
                outcomes.append(_skipped(phase, "not started: a required sign-off is pending"))
                say(f"[{index}/{len(selected)}] {phase.name}: skipped (sign-off pending)")
                continue
            if phase.changes_target and prior is not Verdict.GO:
                outcomes.append(_skipped(phase, f"not started: the run is {prior.value} before "
                                                f"this phase, which changes the target"))
                say(f"[{index}/{len(selected)}] {phase.name}: skipped ({prior.value} before it)")
                continue
            say(f"[{index}/{len(selected)}] {phase.name} …")
            outcome = execute_phase(phase, params, root, run_dir, progress=request.progress)
            outcomes.append(outcome)
            say(f"[{index}/{len(selected)}] {phase.name}: {outcome.verdict.value} "
                f"({_counts(outcome.results)}) in {outcome.duration_s:.1f} s"
                + (f" — {outcome.error}" if outcome.error else ""))
        if services.sandbox is not None:
            _save_json(run_dir / "evidence" / "sandbox" / "requests.json",
                       [r.model_dump(mode="json") for r in services.sandbox.requests()])
    return finalize(run_id, run_dir, loaded, params, outcomes, started, say,
                    gate_results, gate_record)


HEADLESS_ENV = "RUNBOOK_HEADLESS"


def _missing_repository(params: Parameters, selected: list[ph.Phase], root: Path) -> str | None:
    """A problem sentence when phase pre-deployment would run against a repository folder
    that does not exist (relative paths are resolved against the checkout, like the kernel)."""
    pre = params.pre_deployment
    if pre is None or not any(p.params_key == "pre_deployment" for p in selected):
        return None
    repo = pre.repo if pre.repo.is_absolute() else root / pre.repo
    if repo.is_dir():
        return None
    return (f"key 'pre_deployment.repo': the target repository {str(pre.repo)!r} is not a "
            f"folder (looked for {repo})")


def _warm_imports() -> None:
    """Import papermill and nbconvert (about 2 s each here) on a background thread while the
    stand-ins start and the kernels run: the main thread only waits on them."""
    import importlib
    import threading

    def load() -> None:
        for name in ("papermill", "runbook.report"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the main thread's own import reports it
                return

    threading.Thread(target=load, name="runbook-warm-imports", daemon=True).start()


def governance_gates(request: RunRequest, loaded: LoadedParameters, selected: list[ph.Phase],
                     root: Path, outputs: Path) -> tuple[list[CheckResult], dict[str, Any]]:
    """Refuse to start (ParameterError, exit 2) without a valid approval of exactly this plan
    or without fresh GO evidence of the same build in the previous environment, when the
    parameters require them. Returns their results and what the manifest records."""
    params = loaded.params
    results: list[CheckResult] = []
    record: dict[str, Any] = {}
    if params.approval is not None and params.approval.required:
        from runbook.approval import check_approval, plan_hash

        digest = plan_hash(params, selected, root)
        path = request.approval or (root / params.approval.file if params.approval.file
                                    else None)
        result = check_approval(params.approval, path, digest)
        record.update(plan_sha256=digest, approval=str(path) if path else None)
        if result.status is not Status.PASS:
            raise ParameterError([f"approval refused: {result.explanation} (plan {digest})"])
        results.append(result.model_copy(update={"phase": "run"}))
    if params.promotion is not None:
        from runbook.promotion import PromotionOverride, gate_from_params

        override = (PromotionOverride(by=request.promotion_override[0],
                                      reason=request.promotion_override[1])
                    if request.promotion_override else None)
        decision = gate_from_params(outputs, params.promotion, params.build_id, override)
        record["promotion"] = decision.record()
        if not decision.allowed:
            raise ParameterError([f"promotion gate: {decision.result().explanation}"])
        results.append(decision.result().model_copy(update={"phase": "run"}))
    return results, record


def _needed_sections(params: Parameters, selected: list[ph.Phase],
                     uses: set[str]) -> dict[str, Any]:
    """The parameter sections the selected phases read (their secrets must resolve)."""
    keys = ["target", *(p.params_key for p in selected if p.params_key)]
    keys += [part for part in ("azure", "workers") if part in uses]
    return {k: getattr(params, k, None) for k in keys}


def execute_phase(phase: ph.Phase, params: Parameters, root: Path, run_dir: Path,
                  progress: bool = False) -> PhaseOutcome:
    """Run one phase notebook with papermill; a crash keeps the partial notebook and adds an
    error result naming what happened."""
    import papermill  # heavy: imported only when a phase really runs
    from papermill.exceptions import PapermillExecutionError

    out = run_dir / "notebooks" / phase.notebook
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    status, error = "completed", None
    try:
        papermill.execute_notebook(
            str(phase.path(root)), str(out),
            parameters={"env": params.environment, "params": public_dump(params),
                        "run_dir": str(run_dir)},
            kernel_name=params.execution.kernel_name,
            execution_timeout=params.execution.cell_timeout_s,
            start_timeout=params.execution.start_timeout_s,
            progress_bar=progress, log_output=False, request_save_on_cell_execute=True,
            cwd=str(root), shutdown_kernel="immediate",
            # the kernel's start-up chatter (e.g. "running over TCP without encryption" on
            # loopback) would bury the progress lines; its errors still show
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as exc:
        status, error = "crashed", f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}"
        if exc.ename == "SignOffPending":  # stopped on purpose: its pending results say why
            status = AWAITING_SIGN_OFF
    except Exception as exc:  # noqa: BLE001 - kernel death, timeouts, I/O: all kept as evidence
        status = "crashed"
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        error = ev.notebook_error(out) or error
    duration = time.perf_counter() - t0
    results = []
    if out.is_file():
        try:
            results = ev.results_from_notebook(out)
        except Exception as exc:  # noqa: BLE001 - an unreadable notebook is itself a finding
            status, error = "crashed", f"the executed notebook cannot be read: {exc}"
    if status == "crashed":
        results.append(CheckResult(
            id=f"runbook.{phase.name}.execution", section=RUN_SECTION,
            title=f"Phase {phase.name} ran to the end", severity=Severity.BLOCKER,
            status=Status.ERROR, phase=phase.name, explanation=error or "crashed",
            evidence={"notebook": f"notebooks/{phase.notebook}"},
        ))
    report = judge(results)
    verdict = _declared_verdict(results) or report.verdict
    if verdict.rank < report.verdict.rank:  # a declared verdict never hides a failure
        verdict = report.verdict
    return PhaseOutcome(phase=phase, status=status, results=results, verdict=verdict,
                        reasons=report.reasons, duration_s=duration,
                        notebook=f"notebooks/{phase.notebook}" if out.is_file() else None,
                        error=error)


SUCCESS_VERDICT_ID = "success.verdict"


def _declared_verdict(results: list[CheckResult]) -> Verdict | None:
    """The verdict phase success-criteria computed (it may say ROLLBACK REQUIRED, which no
    single check can), read from its `success.verdict` result."""
    for r in results:
        if r.id == SUCCESS_VERDICT_ID:
            declared = r.observed.get("verdict") if isinstance(r.observed, dict) else r.observed
            try:
                return Verdict(declared)
            except ValueError:
                return None
    return None


def finalize(run_id: str, run_dir: Path, loaded: LoadedParameters, params: Parameters,
             outcomes: list[PhaseOutcome], started: str, say: Say,
             gate_results: list[CheckResult] | None = None,
             gate_record: dict[str, Any] | None = None) -> RunOutcome:
    """Scan for secrets, judge, render the report, write the manifest; print the verdict."""
    from runbook.report import notebook_figures, render_notebook, write_report
    from runbook.secret_scan import secret_scan_check

    results = [*(gate_results or []), *(r for o in outcomes for r in o.results)]
    scan = secret_scan_check(run_dir, resolved_values(params)).model_copy(
        update={"phase": "run"})
    leaks = scan.status is not Status.PASS
    results.append(scan)
    phase_verdicts = [o.verdict for o in outcomes]
    overall = combine([*phase_verdicts, judge([scan]).verdict]) if outcomes else Verdict.INCOMPLETE
    reasons = [f"{o.phase.name}: {r}" for o in outcomes for r in o.reasons] + (
        [scan.explanation] if leaks else [])
    pages, figures = {}, {}
    for o in outcomes:
        if o.notebook:
            html_rel = f"notebooks/{Path(o.notebook).stem}.html"
            try:
                render_notebook(run_dir / o.notebook, run_dir / html_rel)
                pages[o.phase.name] = html_rel
                figures[o.phase.name] = notebook_figures(run_dir / o.notebook)
            except Exception as exc:  # noqa: BLE001 - a missing rendering must not lose a run
                say(f"warning: could not render {o.notebook}: {exc}")
    manifest = {
        "run_id": run_id,
        "environment": params.environment,
        "target": {"name": params.target.name, "base_url": params.target.base_url},
        "build_id": params.build_id,
        "runbook": {"version": __version__, "git": _git_commit(run_dir)},
        "operator": _operator(),
        "started_at": started,
        "finished_at": _now(),
        "parameters_file": str(loaded.source),
        "overrides": loaded.overrides,
        "parameters": public_dump(params),
        "phases": [o.record() for o in outcomes],
        "results": [r.to_payload() for r in results],
        "verdict": overall.value,
        "reasons": reasons,
        **(gate_record or {}),
    }
    write_report(run_dir, manifest, pages, figures)
    ev.write_manifest(run_dir, manifest)
    say(f"report: {run_dir / 'report.html'}")
    print(f"{overall.value}: {run_dir}", flush=True)
    return RunOutcome(verdict=overall, run_dir=run_dir, phases=outcomes)


def _skipped(phase: ph.Phase, why: str) -> PhaseOutcome:
    result = CheckResult(id=f"runbook.{phase.name}.started", section=RUN_SECTION,
                         title=f"Phase {phase.name} started", status=Status.SKIP,
                         phase=phase.name, explanation=why)
    return PhaseOutcome(phase=phase, status="skipped", results=[result],
                        verdict=Verdict.INCOMPLETE, reasons=[why], duration_s=0.0, notebook=None)


def _counts(results: list[CheckResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _save_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))


def _operator() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = os.environ.get("USER", "unknown")
    return {"user": user, "host": platform.node(), "python": platform.python_version(),
            "ci": {k: os.environ[k] for k in CI_VARIABLES if k in os.environ}}


def _git_commit(near: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
