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
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook import __version__
from runbook.core import evidence as ev
from runbook.orchestration import phase_plan as ph
from runbook.core.checks import CheckResult, Status
from rehearsal.services import export_local_secrets, start_local_services
from runbook.core.parameters import LoadedParameters, ParameterError, Parameters, load, public_dump
from runbook.orchestration.phase_exec import PhaseOutcome
from runbook.orchestration.runner import PhaseRunner, Rendering, render_phase
from runbook.core.secret_refs import missing, resolved_values
from runbook.core.verdict import Verdict, combine, judge

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
    from runbook.core.parameters import project_root

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
    lines += _plan_details(p, selected)
    if loaded.overrides:
        lines.append("overrides: " + ", ".join(loaded.overrides))
    return lines


def _plan_details(p: Parameters, selected: list[ph.Phase]) -> list[str]:
    """Deploy method and place, governance, and what is not set (INCOMPLETE where needed)."""
    names = {phase.name for phase in selected}
    lines = []
    if p.deploy is not None and "deploy" in names:
        where = (f"App Service {p.azure.site}" + (f" slot {p.deploy.target_slot}"
                                                   if p.deploy.target_slot else "")
                 if p.azure else "no App Service (parameters key 'azure')")
        how = {"zip": f"zip deploy of {p.deploy.package.path or p.deploy.package.source_dir}"
                      if p.deploy.package else "zip deploy",
               "start": "start the app from the checkout"
                        + (f" ({' '.join(p.deploy.start.argv)})" if p.deploy.start else ""),
               "command": "run a deploy command"}[p.deploy.method]
        lines.append(f"deploy: {how} → {where}"
                     + (", then swap into production" if p.deploy.swap_to_production else ""))
    if p.approval is not None and p.approval.required:
        lines.append("approval: required (runbook plan, then runbook approve); file "
                     f"{p.approval.file or '--approval FILE'}")
    if p.promotion is not None:
        lines.append(f"promotion: only after a GO run of build {p.build_id or '(none given)'} in "
                     f"{', '.join(p.promotion.from_environments)} younger than "
                     f"{p.promotion.max_age_h:g} h")
    unset = missing(p)
    if unset:
        lines.append("not set now (the checks needing them would be INCOMPLETE): "
                     + ", ".join(unset))
    return lines


def _refs(params: Parameters) -> list[tuple[str, Any]]:
    from runbook.core.secret_refs import iter_refs

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
    stack = ExitStack()
    with _closed_on_error(stack):
        runner = stack.enter_context(PhaseRunner(root, params.execution, say,
                                                 progress=request.progress))
        export_local_secrets(params)  # a rehearsal's tokens exist before any kernel starts
        runner.warm_ahead(selected)  # the first kernels start beside the stand-ins
        uses = set().union(*(p.uses for p in selected))
        try:
            params, services = start_local_services(params, stack, say, uses)
        except ParameterError:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing binary, a port, a start timeout
            raise ParameterError([f"could not start the local stand-ins: {exc}"]) from None
        unset = missing(_needed_sections(params, selected, uses))
        if unset:  # only the run can tell what they hide: the checks needing them say INCOMPLETE
            say("warning: not set, so the checks that need them will be INCOMPLETE: "
                + ", ".join(unset))
        absent = _missing_repository(params, selected, root)
        if absent:
            raise ParameterError([f"{loaded.source}: {absent}"])
        run_id, run_dir = ev.new_run_dir(outputs / params.environment)
        say(f"run {run_id} → {run_dir}")
        try:
            outcomes = runner.run(selected, params, run_dir)
        finally:  # an app a development deploy started lives only as long as its run
            from runbook.phases.deploy.local_app import stop_started_apps

            stop_started_apps(run_dir)
        if services.sandbox is not None:
            _save_json(run_dir / "evidence" / "sandbox" / "requests.json",
                       [r.model_dump(mode="json") for r in services.sandbox.requests()])
    # the stand-ins stop while the report is written: nothing in it needs them any more
    stopping = threading.Thread(target=stack.close, name="runbook-stop-services")
    stopping.start()
    try:
        return finalize(run_id, run_dir, loaded, params, outcomes, started, say,
                        gate_results, gate_record, runner.renderings)
    finally:
        stopping.join()


@contextmanager
def _closed_on_error(stack: ExitStack) -> Iterator[None]:
    """Close `stack` (stop what was started) if the block raises; else leave it open."""
    try:
        yield
    except BaseException:
        stack.close()
        raise

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
        for name in ("papermill", "runbook.orchestration.report"):
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
        from runbook.governance.approval import check_approval, plan_hash

        digest = plan_hash(params, selected, root)
        path = request.approval or (root / params.approval.file if params.approval.file
                                    else None)
        result = check_approval(params.approval, path, digest)
        record.update(plan_sha256=digest, approval=str(path) if path else None)
        if result.status is not Status.PASS:
            raise ParameterError([f"approval refused: {result.explanation} (plan {digest})"])
        results.append(result.model_copy(update={"phase": "run"}))
    if params.promotion is not None:
        from runbook.governance.promotion import PromotionOverride, gate_from_params

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
    keys += [part for part in ("azure", "workers", "database") if part in uses]
    return {k: getattr(params, k, None) for k in keys}


def finalize(run_id: str, run_dir: Path, loaded: LoadedParameters, params: Parameters,
             outcomes: list[PhaseOutcome], started: str, say: Say,
             gate_results: list[CheckResult] | None = None,
             gate_record: dict[str, Any] | None = None,
             renderings: dict[str, Future[Rendering]] | None = None) -> RunOutcome:
    """Scan for secrets, judge, render the report, write the manifest; print the verdict.
    `renderings`: notebooks already being rendered in the background, by phase name."""
    from runbook.core.checklist.view import manifest_section
    from runbook.orchestration.report import write_report
    from runbook.governance.secret_scan import secret_scan_check

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
    }
    write_report(run_dir, manifest, pages, figures)
    ev.write_manifest(run_dir, manifest)
    say(f"report: {run_dir / 'report.html'}")
    print(f"{overall.value}: {run_dir}", flush=True)
    return RunOutcome(verdict=overall, run_dir=run_dir, phases=outcomes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _save_json(path: Path, data: Any) -> None:
    ev.write_evidence(path, json.dumps(data, indent=1, default=str))


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
