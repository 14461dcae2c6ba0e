"""Run phases: validate parameters, start the local sandbox when the environment has one,
execute each phase notebook with papermill into a fresh run directory, read the results
back, judge, and leave a report and a hashed manifest. Partial evidence is always kept.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from runbook import __version__
from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Status
from runbook.core.parameters import LoadedParameters, ParameterError, Parameters, load, public_dump
from runbook.core.secret_refs import missing, resolved_values
from runbook.core.verdict import Verdict, combine, judge
from runbook.governance.signoff import HEADLESS_ENV
from runbook.orchestration import phase_plan as ph
from runbook.orchestration.local_services import (
    LocalServicesProvider,
    StartedServices,
    provider_for,
)
from runbook.orchestration.phase_exec import PhaseOutcome
from runbook.orchestration.runner import PhaseRunner, Rendering, render_phase

CI_VARIABLES = (
    "CI",
    "GITHUB_ACTOR",
    "GITHUB_RUN_ID",
    "GITHUB_WORKFLOW",
    "GITHUB_SHA",
    "BUILD_BUILDID",
    "BUILD_REQUESTEDFOR",
    "SYSTEM_TEAMPROJECT",
)
# written atomically when a run's directory is created, before any phase starts: what a killed
# run (which never gets a manifest) needs for `runbook resume` to continue it
RUN_RECORD = "run.json"
RUN_RECORD_SCHEMA_VERSION = 1


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


@dataclass(frozen=True)
class RunPlan:
    """A validated request: what will run, where, against which parameters (stage 1's output).
    Making one starts nothing and changes nothing."""

    request: RunRequest
    loaded: LoadedParameters
    selected: list[ph.Phase]
    root: Path
    outputs: Path
    local: LocalServicesProvider | None
    gate_results: list[CheckResult] = field(default_factory=list)
    gate_record: dict[str, Any] = field(default_factory=dict)

    @property
    def uses(self) -> set[str]:
        """What the selected phases read besides their own section (azure, workers, …)."""
        return set().union(*(p.uses for p in self.selected))


@dataclass
class RunEnvironment:
    """Stage 2's output: the parameters re-pointed at what was started, the phase runner with
    its kernels, and the services; `close()` stops all of it."""

    params: Parameters
    runner: PhaseRunner
    services: StartedServices | None
    stack: ExitStack

    def close(self) -> None:
        self.stack.close()


class Continuation(Protocol):
    """What a resumed run (`orchestration.resume`) adds to the stages; None for a fresh run."""

    @property
    def reused_phases(self) -> set[str]:
        """The phases whose completed notebooks are copied instead of executed."""

    def record(self) -> dict[str, Any]:
        """What run.json and the manifest record under "resume"."""

    def check_target(self, params: Parameters, say: Say) -> list[CheckResult]:
        """Before resuming: the target is in the state the reused phases proved (results for
        the manifest), else raise (nothing executed, no run directory)."""

    def reuse(self, run_dir: Path) -> list[PhaseOutcome]:
        """Copy the reused phases' notebooks and evidence into `run_dir`; their outcomes."""

    def before_phase(self, phase: ph.Phase, params: Parameters) -> PhaseOutcome | None:
        """An outcome replacing `phase` when it must not start (the target changed), else
        None."""


@dataclass
class ExecutedRun:
    """Stage 3's output: the run directory and each phase's outcome."""

    run_id: str
    run_dir: Path
    outcomes: list[PhaseOutcome]
    started: str


def prepare(request: RunRequest) -> RunPlan:
    """Stage 1, pure: load and validate the parameters, select the phases, check the governance
    gates (approval, promotion) and the rehearsal section. ParameterError / UnknownPhase name
    every problem; nothing is started, no variable is set, no file is written."""
    from runbook.core.parameters import project_root

    root = request.root or project_root()
    loaded = load(request.env, request.overrides, root)
    selected = ph.select(root, request.phases)
    problems = [
        f"{loaded.source}: phase '{p.name}' needs the key '{p.params_key}', which is missing"
        for p in selected
        if p.params_key and getattr(loaded.params, p.params_key, None) is None
    ]
    local = provider_for(loaded.params)  # ParameterError when asked for but not installed
    provided: set[str] = set()
    if local is not None:
        found = local.validate(loaded.params)
        problems += [f"{loaded.source}: {p}" for p in found]
        provided = set() if found else local.provides(loaded.params)
    absent = (
        None
        if request.dry_run or "pre_deployment.repo" in provided
        else (_missing_repository(loaded.params, selected, root))
    )
    if absent:  # a dry run only plans: `runbook doctor` says what this machine lacks
        problems.append(f"{loaded.source}: {absent}")
    if problems:
        raise ParameterError(problems)
    outputs = request.outputs or root / "outputs"
    plan = RunPlan(
        request=request, loaded=loaded, selected=selected, root=root, outputs=outputs, local=local
    )
    if request.dry_run:
        return plan
    results, record = governance_gates(request, loaded, selected, root, outputs)
    return RunPlan(
        request=request,
        loaded=loaded,
        selected=selected,
        root=root,
        outputs=outputs,
        local=local,
        gate_results=results,
        gate_record=record,
    )


def describe_plan(loaded: LoadedParameters, selected: list[ph.Phase]) -> list[str]:
    """What a run would do, for --dry-run."""
    p = loaded.params
    lines = [
        f"environment: {p.environment} ({loaded.source})",
        f"target: {p.target.name} at {p.target.base_url}"
        + (" (replaced by the local stand-ins started for the run)" if p.rehearsal else ""),
        f"build id: {p.build_id or 'unknown'}",
        "secrets (references only): "
        + ", ".join(f"{path}={ref.describe()}" for path, ref in _refs(p)),
        "phases:",
    ]
    lines += [f"  {i}. {ph_.name} — runbooks/{ph_.notebook}" for i, ph_ in enumerate(selected, 1)]
    lines += _plan_details(p, selected)
    if loaded.overrides:
        lines.append("overrides: " + ", ".join(loaded.overrides))
    return lines


def _plan_details(p: Parameters, selected: list[ph.Phase]) -> list[str]:
    """Deploy method and place, governance, and what is not set (INCOMPLETE where needed)."""
    names = {phase.name for phase in selected}
    lines = []
    if p.deploy is not None and "deploy" in names:
        where = (
            f"App Service {p.azure.site}"
            + (f" slot {p.deploy.target_slot}" if p.deploy.target_slot else "")
            if p.azure
            else "no App Service (parameters key 'azure')"
        )
        how = {
            "zip": f"zip deploy of {p.deploy.package.path or p.deploy.package.source_dir}"
            if p.deploy.package
            else "zip deploy",
            "start": "start the app from the checkout"
            + (f" ({' '.join(p.deploy.start.argv)})" if p.deploy.start else ""),
            "command": "run a deploy command",
        }[p.deploy.method]
        lines.append(
            f"deploy: {how} → {where}"
            + (", then swap into production" if p.deploy.swap_to_production else "")
        )
    if p.approval is not None and p.approval.required:
        lines.append(
            "approval: required (runbook plan, then runbook approve); file "
            f"{p.approval.file or '--approval FILE'}"
        )
    if p.promotion is not None:
        lines.append(
            f"promotion: only after a GO run of build {p.build_id or '(none given)'} in "
            f"{', '.join(p.promotion.from_environments)} younger than "
            f"{p.promotion.max_age_h:g} h"
        )
    unset = missing(p)
    if unset:
        lines.append(
            "not set now (the checks needing them would be INCOMPLETE): " + ", ".join(unset)
        )
    return lines


def _refs(params: Parameters) -> list[tuple[str, Any]]:
    from runbook.core.secret_refs import iter_refs

    return list(iter_refs(params))


def run(request: RunRequest, say: Say = _stderr) -> RunOutcome:
    """A run end to end: prepare (raises ParameterError / UnknownPhase before anything
    starts), enter the environment, execute the phases, finalise the evidence. The services
    stop while the report is written: nothing in it needs them any more."""
    plan = prepare(request)
    if request.dry_run:
        for line in describe_plan(plan.loaded, plan.selected):
            say(line)
        say("dry run: nothing was executed and nothing was changed")
        return RunOutcome(verdict=None, run_dir=None)
    return run_plan(plan, say)


def run_plan(
    plan: RunPlan, say: Say = _stderr, continuation: Continuation | None = None
) -> RunOutcome:
    """Stages 2-4 for a prepared plan; `continuation`: a resumed run's reuse and checks."""
    started = _now()
    environment = enter_environment(plan, say, continuation)
    with _closed_on_error(environment.stack):
        checked = continuation.check_target(environment.params, say) if continuation else []
        executed = execute(plan, environment, say, started, continuation)
    gate_record = dict(plan.gate_record)
    if continuation is not None:
        gate_record["resume"] = continuation.record()
    stopping = threading.Thread(target=environment.close, name="runbook-stop-services")
    stopping.start()
    try:
        return finalize(
            executed.run_id,
            executed.run_dir,
            plan.loaded,
            environment.params,
            executed.outcomes,
            executed.started,
            say,
            [*plan.gate_results, *checked],
            gate_record,
            environment.runner.renderings,
        )
    finally:
        stopping.join()


def enter_environment(
    plan: RunPlan, say: Say, continuation: Continuation | None = None
) -> RunEnvironment:
    """Stage 2: start the phase runner (its first kernels warm beside the stand-ins), export
    the rehearsal's tokens, start the local services the phases use, and say which secrets are
    unset. Everything started stops on `close()` (or at once if this raises). A resumed run
    warms only the kernels of the phases it executes."""
    _warm_imports()
    stack = ExitStack()
    with _closed_on_error(stack):
        stack.enter_context(_headless())
        runner = stack.enter_context(
            PhaseRunner(
                plan.root, plan.loaded.params.execution, say, progress=plan.request.progress
            )
        )
        params, services = plan.loaded.params, None
        if plan.local is not None:  # the tokens exist before any kernel starts
            plan.local.export_secrets(params)
        reused = continuation.reused_phases if continuation else set()
        runner.warm_ahead([p for p in plan.selected if p.name not in reused])
        if plan.local is not None:
            try:
                params, services = plan.local.start(params, stack, say, plan.uses)
            except ParameterError:
                raise
            except Exception as exc:  # noqa: BLE001 - a missing binary, a port, a start timeout
                raise ParameterError([f"could not start the local stand-ins: {exc}"]) from None
        unset = missing(_needed_sections(params, plan.selected, plan.uses))
        if unset:  # only the run can tell what they hide: the checks needing them say INCOMPLETE
            say(
                "warning: not set, so the checks that need them will be INCOMPLETE: "
                + ", ".join(unset)
            )
    return RunEnvironment(params=params, runner=runner, services=services, stack=stack)


def execute(
    plan: RunPlan,
    environment: RunEnvironment,
    say: Say,
    started: str,
    continuation: Continuation | None = None,
) -> ExecutedRun:
    """Stage 3: a fresh run directory and its run.json (what `runbook resume` needs, written
    before any phase starts), every selected phase executed into it (a resumed run: the reused
    phases copied instead), the apps a development deploy started stopped, and what the
    services observed saved beside."""
    params = environment.params
    run_id, run_dir = ev.new_run_dir(plan.outputs / params.environment)
    say(f"run {run_id} → {run_dir}")
    resume = continuation.record() if continuation else None
    ev.write_evidence(
        run_dir / RUN_RECORD,
        json.dumps(run_record(plan, run_id, started, resume), indent=1),
        sync=True,
    )
    try:
        reused = continuation.reuse(run_dir) if continuation else []
        outcomes = environment.runner.run(
            plan.selected,
            params,
            run_dir,
            done=reused,
            before=continuation.before_phase if continuation else None,
        )
    finally:  # an app a development deploy started lives only as long as its run
        from runbook.phases.deploy.local_app import stop_started_apps

        stop_started_apps(run_dir)
    if environment.services is not None:
        environment.services.save_evidence(run_dir)
    return ExecutedRun(run_id=run_id, run_dir=run_dir, outcomes=outcomes, started=started)


def run_record(
    plan: RunPlan, run_id: str, started: str, resume: dict[str, Any] | None = None
) -> dict[str, Any]:
    """run.json: what was asked (environment, phases, overrides), the parameters as loaded
    (before the rehearsal re-points them) and their sha256, and the runbook that ran them
    (version, git commit, each phase notebook's sha256)."""
    request = plan.request
    return {
        "schema_version": RUN_RECORD_SCHEMA_VERSION,
        "run_id": run_id,
        "environment": plan.loaded.params.environment,
        "started_at": started,
        "request": {
            "env": request.env,
            "phases": [p.name for p in plan.selected],
            "overrides": list(request.overrides),
            "approval": str(request.approval) if request.approval else None,
            "promotion_override": list(request.promotion_override)
            if request.promotion_override
            else None,
        },
        "parameters_file": str(plan.loaded.source),
        "parameters_sha256": parameters_sha256(plan.loaded.params),
        "parameters": public_dump(plan.loaded.params),
        "runbook": {
            "version": __version__,
            "git": _git_commit(plan.root),
            "notebooks": notebook_hashes(plan.root, plan.selected),
        },
        "resume": resume,
    }


def parameters_sha256(params: Parameters) -> str:
    """sha256 of the whole validated parameters (secrets are references, so nothing secret)."""
    dumped = params.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()


def notebook_hashes(root: Path, phases: list[ph.Phase]) -> dict[str, str]:
    """Phase name -> sha256 of its notebook template (the runbook those phases ran)."""
    return {p.name: ev.sha256_file(p.path(root)) for p in phases}


@contextmanager
def _headless() -> Iterator[None]:
    """Sign-off cells take their records from parameters / CI while a headless run lasts."""
    previous = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(HEADLESS_ENV, None)
        else:
            os.environ[HEADLESS_ENV] = previous


@contextmanager
def _closed_on_error(stack: ExitStack) -> Iterator[None]:
    """Close `stack` (stop what was started) if the block raises; else leave it open."""
    try:
        yield
    except BaseException:
        stack.close()
        raise


def _missing_repository(params: Parameters, selected: list[ph.Phase], root: Path) -> str | None:
    """A problem sentence when phase pre-deployment would run against a repository folder
    that does not exist (relative paths are resolved against the checkout, like the kernel)."""
    pre = params.pre_deployment
    if pre is None or not any(p.params_key == "pre_deployment" for p in selected):
        return None
    repo = pre.repo if pre.repo.is_absolute() else root / pre.repo
    if repo.is_dir():
        return None
    return (
        f"key 'pre_deployment.repo': the target repository {str(pre.repo)!r} is not a "
        f"folder (looked for {repo})"
    )


def _warm_imports() -> None:
    """Import papermill and nbconvert (about 2 s each here) on a background thread while the
    stand-ins start and the kernels run: the main thread only waits on them."""
    import importlib
    import threading

    def load() -> None:
        for name in ("papermill", "runbook.orchestration.report"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the main thread's own import reports it
                return

    threading.Thread(target=load, name="runbook-warm-imports", daemon=True).start()


def governance_gates(
    request: RunRequest,
    loaded: LoadedParameters,
    selected: list[ph.Phase],
    root: Path,
    outputs: Path,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Refuse to start (ParameterError, exit 2) without a valid approval of exactly this plan
    or without fresh GO evidence of the same build in the previous environment, when the
    parameters require them. Returns their results and what the manifest records."""
    params = loaded.params
    results: list[CheckResult] = []
    record: dict[str, Any] = {}
    if params.approval is not None and params.approval.required:
        from runbook.governance.approval import check_approval, plan_hash

        digest = plan_hash(params, selected, root)
        path = request.approval or (root / params.approval.file if params.approval.file else None)
        result = check_approval(params.approval, path, digest)
        record.update(plan_sha256=digest, approval=str(path) if path else None)
        if result.status is not Status.PASS:
            raise ParameterError([f"approval refused: {result.explanation} (plan {digest})"])
        results.append(result.model_copy(update={"phase": "run"}))
    if params.promotion is not None:
        from runbook.governance.promotion import PromotionOverride, gate_from_params

        override = (
            PromotionOverride(
                by=request.promotion_override[0], reason=request.promotion_override[1]
            )
            if request.promotion_override
            else None
        )
        store = params.evidence.store if params.evidence is not None else None
        decision = gate_from_params(outputs, params.promotion, params.build_id, override, store)
        record["promotion"] = decision.record()
        if not decision.allowed:
            raise ParameterError([f"promotion gate: {decision.result().explanation}"])
        results.append(decision.result().model_copy(update={"phase": "run"}))
    return results, record


def _needed_sections(
    params: Parameters, selected: list[ph.Phase], uses: set[str]
) -> dict[str, Any]:
    """The parameter sections the selected phases read (their secrets must resolve)."""
    keys = ["target", *(p.params_key for p in selected if p.params_key)]
    keys += [part for part in ("azure", "workers", "database") if part in uses]
    return {k: getattr(params, k, None) for k in keys}


def finalize(
    run_id: str,
    run_dir: Path,
    loaded: LoadedParameters,
    params: Parameters,
    outcomes: list[PhaseOutcome],
    started: str,
    say: Say,
    gate_results: list[CheckResult] | None = None,
    gate_record: dict[str, Any] | None = None,
    renderings: dict[str, Future[Rendering]] | None = None,
) -> RunOutcome:
    """Scan for secrets, judge, render the report, write the manifest; print the verdict.
    `renderings`: notebooks already being rendered in the background, by phase name."""
    from runbook.core.checklist.view import manifest_section
    from runbook.governance.notify import notify_verdict
    from runbook.governance.secret_scan import secret_scan_check
    from runbook.governance.signing import prepare_signer
    from runbook.orchestration.report import write_report

    results = [*(gate_results or []), *(r for o in outcomes for r in o.results)]
    scan = secret_scan_check(run_dir, resolved_values(params)).model_copy(update={"phase": "run"})
    leaks = scan.status is not Status.PASS
    results.append(scan)
    signer = prepare_signer(params.evidence)  # evidence.signing_key: judged with the scan
    results += signer.checks()
    phase_verdicts = [o.verdict for o in outcomes]
    run_verdict = judge([scan, *signer.checks()]).verdict
    overall = combine([*phase_verdicts, run_verdict]) if outcomes else Verdict.INCOMPLETE
    reasons = [f"{o.phase.name}: {r}" for o in outcomes for r in o.reasons] + (
        [scan.explanation] if leaks else []
    )
    results += notify_verdict(run_dir, run_id, params, overall, results, say)  # never re-judged
    reasons += signer.reasons()
    pages, figures = {}, {}
    for o in outcomes:
        if o.notebook:
            pending = (renderings or {}).get(o.phase.name)
            try:
                done = pending.result() if pending else render_phase(run_dir, o.notebook)
            except ev.EvidenceWriteError:
                raise  # no room for the evidence: the run stops unfinished (see cli)
            except Exception as exc:  # noqa: BLE001 - a missing rendering must not lose a run
                say(f"warning: could not render {o.notebook}: {exc}")
                continue
            pages[o.phase.name], figures[o.phase.name] = done.html, done.figures
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
        "checklist": manifest_section(results, params.environment),
        "signature": signer.record,
    }
    write_report(run_dir, manifest, pages, figures)
    ev.write_manifest(run_dir, manifest)
    signer.sign(run_dir)  # manifest.sig beside the manifest (nothing without a key)
    if params.evidence is not None and params.evidence.store is not None:
        from runbook.providers.azure.blob_store import store_run  # a failure: said, verdict kept

        store_run(params.evidence.store, run_dir, say)
    say(f"report: {run_dir / 'report.html'}")
    print(f"{overall.value}: {run_dir}", flush=True)
    return RunOutcome(verdict=overall, run_dir=run_dir, phases=outcomes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _operator() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = os.environ.get("USER", "unknown")
    return {
        "user": user,
        "host": platform.node(),
        "python": platform.python_version(),
        "ci": {k: os.environ[k] for k in CI_VARIABLES if k in os.environ},
    }


def _git_commit(near: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
