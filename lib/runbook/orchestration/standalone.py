"""A phase notebook executed by plain papermill (CLI or API, e.g. a CI job), without
`runbook run` around it:

    papermill runbooks/04_verify.ipynb out.ipynb -p env staging
    papermill runbooks/04_verify.ipynb out.ipynb -f ci.yaml   # env, params (overrides), …

- validated like `runbook run --env ENV --phase PHASE` (`pipeline.prepare`): the environment's
  parameters file, `$RUNBOOK_OVERRIDES` and the notebook's `params` mapping as overrides, the
  phase's section, the rehearsal's section, approval and promotion. Invalid input stops the first
  cell with `InvalidInput`, every problem in one message; nothing was looked at.
- its own run directory `outputs/<env>/<run id>/`: the phase's evidence files and, when the
  phase ends, `manifest.json` (results, verdict, parameters as references, hashes, the secret
  scan of the directory) chained and signed like a run's, so `runbook list` and `runbook verify`
  know it; sign-offs come from parameters or the CI approver (headless).
- `ctx.summary(fail_on_verdict)`: a NO-GO or INCOMPLETE phase raises `PhaseNotGo` naming its
  failing checks, so papermill exits non-zero; `fail_on_verdict=False` only shows it.

`runbook run` (which injects `params` and `run_dir` and judges the saved notebook itself) and
the lab (`RUNBOOK_INTERACTIVE` / `RUNBOOK_PARAMS_FILE`) never get here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Status
from runbook.core.parameters import (
    OVERRIDES_ENV,
    PARAMS_FILE_ENV,
    LoadedParameters,
    ParameterError,
    public_dump,
)
from runbook.core.verdict import Verdict, combine, judge
from runbook.governance.signoff import HEADLESS_ENV, INTERACTIVE_ENV

ENTRY = "papermill"


class Entry(StrEnum):
    """Who executes the notebook."""

    ORCHESTRATED = "orchestrated"  # runbook run (or a test) injected params and run_dir
    INTERACTIVE = "interactive"  # runbook lab, or a person in Jupyter with the lab's file
    STANDALONE = "standalone"  # plain papermill: this module is the orchestrator


class InvalidInput(ParameterError):
    """The notebook's parameters are invalid: nothing was executed (the message lists all)."""

    def __init__(self, problems: list[str], env: str, phase: str):
        self.env, self.phase = env, phase
        ParameterError.__init__(self, problems)

    def __str__(self) -> str:
        return (
            f"invalid input for phase {self.phase} (env={self.env!r}), nothing was executed:\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


class PhaseNotGo(RuntimeError):
    """The phase's verdict is not GO: the execution fails (its message names the checks)."""


def entry(params: Mapping[str, Any] | None, run_dir: str | None) -> Entry:
    """How this kernel's notebook is executed, from what was injected and the environment."""
    if params and run_dir:
        return Entry.ORCHESTRATED
    if os.environ.get(INTERACTIVE_ENV) == "1" or os.environ.get(PARAMS_FILE_ENV):
        return Entry.INTERACTIVE
    return Entry.STANDALONE


def as_overrides(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """A nested mapping as `key.path=value` overrides (values as JSON, which is YAML)."""
    for key, value in mapping.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from as_overrides(value, path)
        else:
            yield f"{path}={json.dumps(value, default=str)}"


@dataclass
class StandaloneRun:
    """A plain-papermill phase: its validated parameters and its own run directory."""

    phase: str
    loaded: LoadedParameters
    run_id: str
    run_dir: Path
    started_at: str
    gate_results: list[CheckResult] = field(default_factory=list)
    gate_record: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    def crashed(self, results: list[CheckResult], error: BaseException) -> None:
        """A cell raised before the phase ended: finish the run with what was recorded plus
        `runbook.<phase>.execution` naming the error (INCONCLUSIVE when a secret or a
        credential was missing, else ERROR), so the evidence gathered is kept and verifiable."""
        from runbook.orchestration.phase_exec import BLIND_ERRORS, RUN_SECTION

        name = type(error).__name__
        blind = name in BLIND_ERRORS
        failure = CheckResult(
            id=f"runbook.{self.phase}.execution",
            section=RUN_SECTION,
            title=f"Phase {self.phase} ran to the end",
            status=Status.INCONCLUSIVE if blind else Status.ERROR,
            phase=self.phase,
            explanation=f"{'could not look: ' if blind else ''}a cell raised {name}: {error}",
            evidence={"entry": ENTRY},
        )
        self.finish([*results, failure])

    def finish(self, results: list[CheckResult]) -> tuple[Verdict, list[str], list[CheckResult]]:
        """Scan the directory, judge, write (and sign) the manifest: the verdict, its reasons
        and the results that decided it (the phase's, the gates', the scan, the signature)."""
        from runbook.core.secret_refs import resolved_values
        from runbook.governance.secret_scan import secret_scan_check
        from runbook.governance.signing import prepare_signer
        from runbook.orchestration.phase_exec import declared_verdict

        params = self.loaded.params
        report = judge(results)
        verdict = declared_verdict(results) or report.verdict
        if verdict.rank < report.verdict.rank:  # a declared verdict never hides a failure
            verdict = report.verdict
        scan = secret_scan_check(self.run_dir, resolved_values(params))
        signer = prepare_signer(params.evidence)
        run_checks = [*self.gate_results, scan, *signer.checks()]
        overall = combine([verdict, judge(run_checks).verdict])
        reasons = [*report.reasons, *judge(run_checks).reasons]
        everything = [*self.gate_results, *results, scan, *signer.checks()]
        recorded = [f"{self.phase}: {r}" for r in report.reasons] + reasons[len(report.reasons) :]
        manifest = self._manifest(everything, verdict, report.reasons, overall, recorded)
        manifest["signature"] = signer.record
        ev.write_manifest(self.run_dir, manifest)
        signer.sign(self.run_dir)
        self.finished = True
        return overall, reasons, everything

    def _manifest(
        self,
        results: list[CheckResult],
        phase_verdict: Verdict,
        phase_reasons: list[str],
        overall: Verdict,
        reasons: list[str],
    ) -> dict[str, Any]:
        from runbook import __version__
        from runbook.core.checklist.view import manifest_section
        from runbook.orchestration.pipeline import _git_commit, _operator

        params = self.loaded.params
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        started = datetime.fromisoformat(self.started_at)
        return {
            "run_id": self.run_id,
            "entry": ENTRY,
            "environment": params.environment,
            "target": {"name": params.target.name, "base_url": params.target.base_url},
            "build_id": params.build_id,
            "runbook": {"version": __version__, "git": _git_commit(self.run_dir)},
            "operator": _operator(),
            "started_at": self.started_at,
            "finished_at": now,
            "parameters_file": str(self.loaded.source),
            "overrides": self.loaded.overrides,
            "parameters": public_dump(params),
            "phases": [
                {
                    "name": self.phase,
                    "notebook": None,  # where papermill was told to write it
                    "status": "completed",
                    "verdict": phase_verdict.value,
                    "reasons": phase_reasons,
                    "duration_s": round((datetime.now(UTC) - started).total_seconds(), 3),
                    "error": None,
                    "checks": len([r for r in results if r.phase == self.phase]),
                }
            ],
            "results": [r.to_payload() for r in results],
            "verdict": overall.value,
            "reasons": reasons,
            **self.gate_record,
            "checklist": manifest_section(results, params.environment),
        }


def open_run(
    phase: str, env: str, params: Mapping[str, Any] | None, run_dir: str | None
) -> StandaloneRun:
    """Validate like `runbook run --env ENV --phase PHASE` (InvalidInput naming every problem),
    then make the run directory (`run_dir` if given, else a new one under outputs/<env>/) and
    switch sign-offs to headless."""
    from runbook.core.parameters import project_root
    from runbook.core.secret_refs import missing
    from runbook.orchestration.phase_plan import UnknownPhase
    from runbook.orchestration.pipeline import RunRequest, prepare

    extra = [line for line in os.environ.get(OVERRIDES_ENV, "").splitlines() if line.strip()]
    overrides = [*extra, *as_overrides(params or {})]
    try:
        root = project_root()
        plan = prepare(RunRequest(env=env, phases=[phase], overrides=overrides, root=root))
    except ParameterError as exc:  # overrides came from `params` or $RUNBOOK_OVERRIDES
        problems = [p.replace("--param ", "override ", 1) for p in exc.problems]
        raise InvalidInput(problems, env, phase) from None
    except UnknownPhase as exc:
        raise InvalidInput([str(exc)], env, phase) from None
    loaded = plan.loaded
    unset = missing(_read_sections(loaded, plan.selected[0].params_key, plan.uses))
    if unset:  # like `runbook run`: the checks that need them will say INCOMPLETE
        print(
            "warning: not set, so the checks that need them will be INCOMPLETE: "
            + ", ".join(unset),
            file=sys.stderr,
        )
    os.environ[HEADLESS_ENV] = "1"
    if run_dir:
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        run_id = folder.name
    else:
        run_id, folder = ev.new_run_dir(plan.outputs / loaded.params.environment)
    print(f"run {run_id} → {folder}", file=sys.stderr)
    return StandaloneRun(
        phase=phase,
        loaded=loaded,
        run_id=run_id,
        run_dir=folder,
        started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        gate_results=plan.gate_results,
        gate_record=plan.gate_record,
    )


def _read_sections(loaded: LoadedParameters, key: str | None, uses: set[str]) -> dict[str, Any]:
    """The parameter sections the phase reads (their secrets must resolve)."""
    keys = ["target", *([key] if key else [])]
    keys += [part for part in ("azure", "workers", "database") if part in uses]
    return {k: getattr(loaded.params, k, None) for k in keys}


def not_go_message(phase: str, verdict: Verdict, reasons: list[str], run_dir: Path) -> str:
    """'phase verify is NO-GO: smoke.health: fail — …; … (evidence: <run dir>)'."""
    return (
        f"phase {phase} is {verdict.value}: {'; '.join(reasons) or 'no check passed'} "
        f"(evidence: {run_dir}; fail_on_verdict=False only shows the verdict)"
    )
