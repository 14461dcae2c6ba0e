"""Re-judge a saved run with other thresholds, from the raw samples its evidence keeps, without
touching the target and without changing a byte of the run directory.

Re-judged today:
- performance: the load run saved by `LoadResult.save` (evidence/performance/) goes through
  `runbook.phases.performance.load_checks` again with the new `performance.*` parameters
  (perf.probe, perf.p95.<route>, perf.error_rate, perf.rollback_lines);
- deploy: the zero-downtime probe records kept in the `<deploy.id_prefix>.zero_downtime`
  result's evidence, with the new `deploy.probe.*` parameters;
- post-deployment (only when a `post_deployment.*` override is given): the baseline checks and
  the statistical judge again, from this run's raw load samples and those of the environment's
  runs that finished before it started (e.g. `post_deployment.judge.confidence=0.9`,
  `post_deployment.judge.baseline_runs=3`, `post_deployment.judge.baseline_run=<run id>`);
- settlements (`settlement.settled=[{check, evidence_sha256, by, role, note}]`): an inconclusive
  blocker settled by a person, bound to the recorded result's hash (refused when it differs);
  the notes list every unsettled inconclusive blocker with the hash to name.
Every other result keeps its recorded status. Phase and run verdicts are recomputed with the
same rules `runbook run` used (`verdict.judge` per phase, skipped phases stay INCOMPLETE, the
worst of all wins), and so is the checklist view (`checklist`: counts before and after, the boxes
whose state changed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Status
from runbook.core.parameters import (
    ParameterError,
    Parameters,
    apply_override,
    describe_validation,
    parse_override,
)
from runbook.core.verdict import Verdict, combine, judge

REJUDGEABLE_PREFIXES = ("performance.", "deploy.", "post_deployment.", "settlement.")
PERF_EVIDENCE = "evidence/performance"


class RejudgeError(RuntimeError):
    """The run cannot be re-judged (missing, altered, or without the evidence needed)."""


class CheckChange(BaseModel):
    """One check: its recorded status and the status under the new parameters."""

    model_config = ConfigDict(extra="forbid")

    id: str
    phase: str | None
    old_status: str
    new_status: str
    old_observed: Any = None
    new_observed: Any = None
    new_explanation: str = ""

    @property
    def changed(self) -> bool:
        return self.old_status != self.new_status


@dataclass
class RejudgeReport:
    """Per-check old vs new status, per-phase and run verdicts old vs new."""

    run_dir: Path
    run_id: str
    overrides: list[str]
    old_verdict: str
    new_verdict: str
    recomputed_verdict: str  # the recorded results judged again: equals old_verdict when sane
    checks: list[CheckChange] = field(default_factory=list)
    phases: dict[str, dict[str, str]] = field(default_factory=dict)
    rejudged_sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new_results: list[CheckResult] = field(default_factory=list)
    checklist: dict[str, Any] = field(default_factory=dict)

    @property
    def flipped(self) -> bool:
        return self.old_verdict != self.new_verdict

    def lines(self) -> list[str]:
        """A readable summary (changed checks first)."""
        out = [
            f"run {self.run_id}: {self.old_verdict} -> {self.new_verdict} "
            f"(with {', '.join(self.overrides) or 'no overrides'})"
        ]
        for c in sorted(self.checks, key=lambda c: (not c.changed, c.id)):
            mark = "*" if c.changed else " "
            out.append(
                f" {mark} {c.id}: {c.old_status} -> {c.new_status}"
                + (f" — {c.new_explanation}" if c.changed else "")
            )
        out += [f"phase {name}: {v['old']} -> {v['new']}" for name, v in self.phases.items()]
        out += [
            f"checklist box {c['id']}: {c['old']} -> {c['new']}"
            for c in self.checklist.get("changed", [])
        ]
        return out + [f"note: {n}" for n in self.notes]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir), "run_id": self.run_id, "overrides": self.overrides,
            "old_verdict": self.old_verdict, "new_verdict": self.new_verdict,
            "recomputed_verdict": self.recomputed_verdict, "phases": self.phases,
            "checks": [c.model_dump(mode="json") for c in self.checks],
            "rejudged_sources": self.rejudged_sources, "notes": self.notes,
            "new_results": [r.to_payload() for r in self.new_results],
            "checklist": self.checklist,
        }  # fmt: skip


def _parameters(manifest: dict[str, Any], overrides: list[str], where: Path) -> Parameters:
    data = json.loads(json.dumps(manifest.get("parameters") or {}))
    parsed = [parse_override(o) for o in overrides]
    for parts, value in parsed:
        apply_override(data, parts, value)
    try:
        return Parameters.model_validate(data)
    except ValidationError as exc:
        keys = [".".join(parts) for parts, _ in parsed]
        raise ParameterError(describe_validation(exc, where, keys)) from None


def _perf(run_dir: Path, params: Parameters) -> list[CheckResult]:
    folder = run_dir / PERF_EVIDENCE
    if params.performance is None or not (folder / "load-run.json").is_file():
        return []
    from runbook.phases.performance.probe import LoadResult
    from runbook.phases.performance.verdicts import load_checks

    return [
        r.model_copy(update={"phase": "performance"})
        for r in load_checks(LoadResult.load(folder), params.performance)
    ]


def _zero_downtime(recorded: CheckResult, params: Parameters) -> CheckResult | None:
    """The zero-downtime rule of `ZeroDowntimeProbe.stop` applied to the kept records."""
    if params.deploy is None or "records" not in recorded.evidence:
        return None
    records = recorded.evidence["records"]
    probe = params.deploy.probe
    failed = [r for r in records if not r.get("ok")]
    observed = dict(recorded.observed or {}, requests=len(records), failed=len(failed))
    if not records:
        status, text = Status.INCONCLUSIVE, "the probe made no request"
    elif failed:
        first = failed[0]
        status = Status.FAIL
        text = (
            f"{len(failed)} of {len(records)} health requests failed; first at "
            f"t={first.get('t')} s: {first.get('error') or 'HTTP ' + str(first.get('status'))}"
        )
    elif len(records) < probe.min_requests:
        status = Status.INCONCLUSIVE
        text = f"only {len(records)} requests (< {probe.min_requests}): too few to tell"
    else:
        status = Status.PASS
        text = f"all {len(records)} health requests answered healthy during the deployment"
    return recorded.model_copy(
        update={
            "status": status,
            "observed": observed,
            "explanation": text,
            "threshold": {"failed": 0, "min_requests": probe.min_requests},
        }
    )


def _earlier(run_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The environment's post-deployment runs that finished before this one started."""
    started = str(manifest.get("started_at") or manifest.get("finished_at") or "")
    found = ev.previous_manifests(run_dir.parent, phase="post-deployment", exclude_run=run_dir.name)
    return [m for m in found if started and str(m.get("finished_at") or "") < started]


def _post_deployment(
    run_dir: Path,
    manifest: dict[str, Any],
    params: Parameters,
    overrides: list[str],
    replaced: dict[str, CheckResult],
    old: list[CheckResult],
) -> list[CheckResult]:
    """The baseline checks and the judge again, when a post_deployment override asks."""
    if params.post_deployment is None or not any(
        o.startswith("post_deployment.") for o in overrides
    ):
        return []
    from runbook.phases.post_deployment.baseline import baseline_results

    pd = params.post_deployment
    before = [replaced.get(r.id, r) for r in old if r.phase != "post-deployment"]
    recorded = next((r for r in old if r.id == pd.baseline_result_id), None)
    file = Path(str((recorded.evidence if recorded else {}).get("file") or pd.baseline_file))
    checks, _content = baseline_results(before, pd, _earlier(run_dir, manifest), file,
                                        run_id=run_dir.name, run_dir=run_dir)  # fmt: skip
    return [r.model_copy(update={"phase": "post-deployment"}) for r in checks]


def _settle(results: list[CheckResult], params: Parameters,
            report: RejudgeReport) -> list[CheckResult]:  # fmt: skip
    """Settlements of the parameters applied; notes name what was settled, refused, or waits."""
    from runbook.governance.settlement import (
        KEY,
        REFUSED_KEY,
        apply_settlements,
        is_settled,
        unsettled,
    )

    settled = apply_settlements(results, params.settlement)
    for r in settled:
        record = (r.evidence.get(KEY) or {}).get("signoff") or {}
        if is_settled(r):
            report.notes.append(
                f"{r.id} settled by {record.get('by')} ({record.get('role')}) against evidence "
                f"{record.get('evidence_sha256')}"
            )
        for refusal in r.evidence.get(REFUSED_KEY, []):
            who = refusal.get("signoff", {}).get("by")
            report.notes.append(f"{r.id}: settlement by {who} refused: {refusal.get('why')}")
    for check_id, digest in unsettled(settled):
        report.notes.append(
            f"{check_id} is inconclusive: a person may settle it with --param "
            f"'settlement.settled=[{{check: {check_id}, evidence_sha256: {digest}, by: NAME, "
            "role: ROLE, note: WHY}]'"
        )
    return settled


def _phase_verdicts(manifest: dict[str, Any], results: list[CheckResult]) -> dict[str, Verdict]:
    """Per phase as `runbook run` judged it, plus the run-level results under 'run'."""
    out: dict[str, Verdict] = {}
    for record in manifest.get("phases", []):
        name = record["name"]
        if record.get("status") == "skipped":
            out[name] = Verdict(record.get("verdict", Verdict.INCOMPLETE.value))
        else:
            out[name] = judge(r for r in results if r.phase == name).verdict
    run_level = [r for r in results if r.phase == "run"]
    if run_level:
        out["run"] = judge(run_level).verdict
    return out


def _overall(manifest: dict[str, Any], verdicts: dict[str, Verdict]) -> Verdict:
    if not manifest.get("phases"):
        return Verdict.INCOMPLETE
    return combine(verdicts.values())


def rejudge(run_dir: Path, overrides: list[str]) -> RejudgeReport:
    """Recompute the run's verdict under `overrides` (key=value, as --param) from its saved
    evidence; reads only. Raises RejudgeError for a missing or altered run, ParameterError for
    bad overrides."""
    run_dir = Path(run_dir)
    integrity = ev.verify(run_dir)
    if not integrity.ok:
        raise RejudgeError(
            f"{run_dir} does not match its recorded evidence: " + "; ".join(integrity.lines())
        )
    manifest_path = run_dir / ev.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    params = _parameters(manifest, overrides, manifest_path)
    old = [CheckResult.from_payload(p) for p in manifest.get("results", [])]
    report = RejudgeReport(
        run_dir=run_dir,
        run_id=str(manifest.get("run_id")),
        overrides=list(overrides),
        old_verdict=str(manifest.get("verdict")),
        new_verdict="",
        recomputed_verdict="",
    )
    report.notes += [
        f"{o.split('=', 1)[0]}: no saved evidence lets this be re-judged; checks "
        "that depend on it keep their recorded status"
        for o in overrides
        if not o.startswith(REJUDGEABLE_PREFIXES)
    ]
    replaced: dict[str, CheckResult] = {}
    perf = _perf(run_dir, params)
    if perf:
        report.rejudged_sources.append(f"{PERF_EVIDENCE} (raw load samples)")
        replaced.update({r.id: r for r in perf})
    if params.deploy is not None:
        zd_id = f"{params.deploy.id_prefix}.zero_downtime"
        recorded = next((r for r in old if r.id == zd_id), None)
        fresh = _zero_downtime(recorded, params) if recorded else None
        if fresh is not None:
            report.rejudged_sources.append(f"{zd_id} evidence (probe records)")
            replaced[zd_id] = fresh
    if not replaced and not (params.settlement and params.settlement.settled):
        report.notes.append(
            "this run keeps no raw samples that can be re-judged "
            "(no performance load run, no zero-downtime records)"
        )
    post = _post_deployment(run_dir, manifest, params, overrides, replaced, old)
    if post:
        report.rejudged_sources.append("evidence/performance of this and earlier runs (judge)")
        replaced.update({r.id: r for r in post})
    new = [replaced.get(r.id, r) for r in old]
    new += [r for r in replaced.values() if r.id not in {o.id for o in old}]
    new = _settle(new, params, report)
    old_by_id = {r.id: r for r in old}
    for r in new:
        before = old_by_id.get(r.id)
        report.checks.append(
            CheckChange(
                id=r.id,
                phase=r.phase,
                old_status=before.status.value if before else "absent",
                new_status=r.status.value,
                old_observed=before.observed if before else None,
                new_observed=r.observed,
                new_explanation=r.explanation,
            )
        )
    old_phases, new_phases = _phase_verdicts(manifest, old), _phase_verdicts(manifest, new)
    report.phases = {
        name: {"old": old_phases[name].value, "new": new_phases[name].value} for name in new_phases
    }
    report.recomputed_verdict = _overall(manifest, old_phases).value
    report.new_verdict = _overall(manifest, new_phases).value
    if report.recomputed_verdict != report.old_verdict:
        report.notes.append(
            f"the recorded results judge to {report.recomputed_verdict}, not the "
            f"recorded {report.old_verdict}: the verdict rules changed since"
        )
    report.new_results = new
    report.checklist = _checklist(manifest, new)
    return report


def _checklist(manifest: dict[str, Any], results: list[CheckResult]) -> dict[str, Any]:
    """The checklist view recomputed from the new results, beside the recorded one."""
    from runbook.core.checklist.view import ChecklistView, compare_views, manifest_section

    section = manifest_section(results, str(manifest.get("environment")))
    recorded = manifest.get("checklist")
    out: dict[str, Any] = {
        "new_counts": section.get("counts"),
        "coverage": section.get("coverage"),
        "error": section.get("error"),
    }
    if not recorded or "error" in recorded or "error" in section:
        return {
            **out,
            "old_counts": None,
            "changed": [],
            "note": "the recorded run has no checklist view to compare with",
        }
    old, new = ChecklistView.from_manifest(recorded), ChecklistView.from_manifest(section)
    return {
        **out,
        "old_counts": old.counts,
        "changed": [c.model_dump() for c in compare_views(old, new)],
    }


def save_rejudge(report: RejudgeReport, folder: Path) -> Path:
    """Write the report into `folder` (it must be outside the run directory); returns the file."""
    folder = Path(folder).resolve()
    run_dir = report.run_dir.resolve()
    if folder == run_dir or run_dir in folder.parents:
        raise RejudgeError(f"{folder} is inside the run directory; re-judgements never write there")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rejudge.json"
    data = report.to_json()
    data["rejudged_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def default_folder(outputs: Path, run_dir: Path) -> Path:
    """outputs/rejudge/<env>/<run-id>/rejudge-<timestamp>/ (outside every run directory)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return outputs / "rejudge" / run_dir.parent.name / run_dir.name / f"rejudge-{stamp}"
