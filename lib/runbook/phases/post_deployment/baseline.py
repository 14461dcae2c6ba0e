"""Post-Deployment Tasks §4 Performance Baseline: the new baseline (p50/p95/p99, error rate,
throughput, CPU, memory) from this run's perf and monitor results, written as a JSON evidence
file and compared with the previous deployment's baseline ("Performance degradation > 20 %"),
suggested monitoring thresholds. The §1–§3 tasks (documentation, communication, cleanup) are
sign-off items of `governance.signoff` (phase post-deployment), one per checklist box, signed by
widget or headlessly like every other sign-off.

The baseline travels in the evidence of result `post.baseline.documented`, so the next run finds
it in this run's manifest (`previous_manifests(env_dir, phase="post-deployment")`).

Whether a change is *real* is the statistical judge's call (`judge.py`, `core.baseline_judge`):
where this run and a baseline run kept raw load samples, "degradation > 20 %" fails only when
the whole confidence interval of the shift lies beyond 20 %, is INCONCLUSIVE (a person settles
it, `governance.settlement`) when the fixed comparison says degraded and the interval straddles
the limit, and passes when the interval lies within it (the fixed figure was noise). Without
samples on both sides the fixed comparison decides, as the checklist states it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.baseline_judge import Judgement
from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence_queries import SourceRef, read_values, usable
from runbook.phases.post_deployment.judge import (
    ERROR_RATE,
    JudgeParams,
    baseline_samples,
    judge_checks,
    judge_runs,
    read_samples,
    worst,
)

SECTION = "Post-Deployment Tasks §4 Performance Baseline"
SECTION_FAILED = "Success Criteria — Deployment Failed If"
METRICS = ("p50_ms", "p95_ms", "p99_ms", "error_rate", "throughput_rps", "cpu_percent",
           "memory_percent")  # fmt: skip
LOWER_IS_WORSE = {"throughput_rps"}
LATENCY_METRICS = {"p50_ms", "p95_ms", "p99_ms"}
_ALL = "evidence.routes.(all)"
_LOGS_P95 = "monitor.logs.p95"


def _refs(*items: str | dict[str, str]) -> list[SourceRef]:
    return [SourceRef.model_validate(i) for i in items]


class BaselineSources(BaseModel):
    """Where each baseline metric is read, in priority order (the first with a number wins)."""

    model_config = ConfigDict(extra="forbid")

    p50_ms: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.error_rate", "path": f"{_ALL}.p50_ms"},
            {"id": _LOGS_P95, "path": "observed.p50_ms"},
        )
    )
    p95_ms: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.error_rate", "path": f"{_ALL}.p95_ms"},
            {"id": _LOGS_P95, "path": "observed.p95_ms"},
        )
    )
    p99_ms: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.error_rate", "path": f"{_ALL}.p99_ms"},
            {"id": _LOGS_P95, "path": "observed.p99_ms"},
        )
    )
    error_rate: list[SourceRef] = Field(
        default_factory=lambda: _refs(
            {"id": "perf.error_rate", "path": "observed.overall"},
            {"id": "monitor.logs.error-rate", "path": "observed.error_rate"},
            {"id": "monitor.metrics.error-rate", "path": "observed.overall"},
        )
    )
    throughput_rps: list[SourceRef] = Field(
        default_factory=lambda: _refs({"id": "perf.error_rate", "path": f"{_ALL}.throughput_rps"})
    )
    cpu_percent: list[SourceRef] = Field(
        default_factory=lambda: _refs({"id": "monitor.metrics.cpu", "path": "observed.mean"})
    )
    memory_percent: list[SourceRef] = Field(
        default_factory=lambda: _refs({"id": "monitor.metrics.memory", "path": "observed.mean"})
    )


class PostDeploymentParams(BaseModel):
    """The post-deployment phase: baseline sources, the degradation limit, sign-off items."""

    model_config = ConfigDict(extra="forbid")

    degradation_limit: float = Field(
        default_factory=CatalogueLimit("performance_degradation"),
        ge=0,
        description="'Performance degradation > 20 %': relative change that fails",
    )
    compare: list[str] = Field(
        default_factory=lambda: ["p95_ms", "error_rate", "throughput_rps"],
        description="metrics whose degradation fails (throughput: a drop is a degradation)",
    )
    error_rate_min_delta: float = Field(
        0.001, ge=0, description="an error-rate rise smaller than this (absolute) never counts"
    )
    required_metrics: list[str] = Field(default_factory=lambda: ["p95_ms", "error_rate"])
    sources: BaselineSources = Field(default_factory=BaselineSources)
    deployment_result_id: str = Field("deploy.record", description="where build id/sha256 are")
    baseline_result_id: str = "post.baseline.documented"
    baseline_file: str = "performance-baseline.json"
    skip_verdicts: list[str] = Field(
        default_factory=lambda: ["ROLLBACK REQUIRED", "NO-GO"],
        description="earlier runs with these verdicts never provide the previous baseline",
    )
    threshold_factors: dict[str, float] = Field(
        default_factory=lambda: {"p95_ms": 1.5, "p99_ms": 1.5},
        description="suggested alert threshold = baseline × factor, rounded up",
    )
    threshold_round: dict[str, float] = Field(
        default_factory=lambda: {"p95_ms": 10.0, "p99_ms": 10.0},
        description="rounding step per metric (default 10 ms)",
    )
    judge: JudgeParams = Field(
        default_factory=JudgeParams,
        description="the statistical baseline judge (raw samples against the last GO run's)",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            retired = [k for k in ("signoffs", "signoff_severity") if k in data]
            if retired:
                raise ValueError(
                    f"post_deployment.{retired[0]} is retired: the post-deployment tasks are "
                    "sign-off items now (signoff.items, phase post-deployment; sign them under "
                    "signoff.signed)"
                )
        return data

    @model_validator(mode="after")
    def _known_metrics(self) -> PostDeploymentParams:
        unknown = [m for m in [*self.compare, *self.required_metrics, *self.threshold_factors]
                   if m not in METRICS]  # fmt: skip
        if unknown:
            raise ValueError(f"unknown baseline metrics {unknown}; known: {', '.join(METRICS)}")
        return self


class Baseline(BaseModel):
    """A deployment's performance baseline; an absent metric is None (listed in `missing`)."""

    model_config = ConfigDict(extra="forbid")

    metrics: dict[str, float | None]
    sources: dict[str, dict[str, Any] | None]
    missing: list[str]
    deployment: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    recorded_at: str = Field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )


def build_baseline(results: Iterable[CheckResult], params: PostDeploymentParams,
                   run_id: str | None = None) -> Baseline:  # fmt: skip
    """The baseline from this run's results: per metric, the first source with a number."""
    results = list(results)
    metrics: dict[str, float | None] = {}
    sources: dict[str, dict[str, Any] | None] = {}
    for name in METRICS:
        found = usable(read_values(results, getattr(params.sources, name)))
        metrics[name] = found[0].value if found else None
        sources[name] = found[0].model_dump() if found else None
    deployment: dict[str, Any] = {}
    record = next((r for r in results if r.id == params.deployment_result_id), None)
    if record is not None and isinstance(record.observed, dict):
        deployment = {k: record.observed.get(k) for k in ("build_id", "sha256")}
    return Baseline(metrics=metrics, sources=sources, deployment=deployment, run_id=run_id,
                    missing=[m for m in METRICS if metrics[m] is None])  # fmt: skip


def previous_baseline(manifests: Iterable[dict[str, Any]], params: PostDeploymentParams
                      ) -> tuple[Baseline | None, dict[str, Any]]:  # fmt: skip
    """The newest earlier baseline (manifests newest first), and which runs were passed over."""
    passed_over = []
    for manifest in manifests:
        run = manifest.get("run_id")
        if manifest.get("verdict") in params.skip_verdicts:
            passed_over.append({"run_id": run, "why": f"verdict {manifest.get('verdict')}"})
            continue
        for payload in manifest.get("results", []):
            if payload.get("id") != params.baseline_result_id:
                continue
            data = (payload.get("evidence") or {}).get("baseline")
            try:
                found = Baseline.model_validate(data)
            except ValueError:
                passed_over.append({"run_id": run, "why": "unreadable baseline"})
                break
            return found, {"run_id": run, "finished_at": manifest.get("finished_at"),
                           "passed_over": passed_over}  # fmt: skip
        else:
            passed_over.append({"run_id": run, "why": "no baseline result"})
    return None, {"passed_over": passed_over}


def compare_baselines(current: Baseline, previous: Baseline, params: PostDeploymentParams
                      ) -> list[dict[str, Any]]:  # fmt: skip
    """Per metric: before, after, relative change, degraded / improved beyond the limit."""
    rows = []
    for name in METRICS:
        before, after = previous.metrics.get(name), current.metrics.get(name)
        row: dict[str, Any] = {"metric": name, "before": before, "after": after, "change": None,
                               "degraded": None, "improved": None,
                               "judged": name in params.compare}  # fmt: skip
        if before is not None and after is not None:
            worse = (before - after) if name in LOWER_IS_WORSE else (after - before)
            change = (worse / before) if before > 0 else (math.inf if worse > 0 else 0.0)
            small = name == "error_rate" and abs(after - before) < params.error_rate_min_delta
            row["change"] = None if math.isinf(change) else round(change, 4)
            row["degraded"] = change > params.degradation_limit and not small
            row["improved"] = change < -params.degradation_limit and not small
        rows.append(row)
    return rows


def _fmt_change(row: dict[str, Any]) -> str:
    change = "new" if row["change"] is None else f"{row['change']:+.0%} worse"
    return f"{row['metric']} {row['before']:g} → {row['after']:g} ({change})"


class StatisticalView(BaseModel):
    """The judge's view of this run against the baseline runs' raw samples: at its own
    tolerance (`judged`) and at the degradation limit (`degradation`); None where a side
    has no samples (`why`)."""

    model_config = ConfigDict(extra="forbid")

    baseline: dict[str, Any] = Field(default_factory=dict)
    judged: dict[str, Judgement] = Field(default_factory=dict)
    degradation: dict[str, Judgement] = Field(default_factory=dict)
    why: str | None = None


def statistical_view(
    run_dir: Path | None, manifests: list[dict[str, Any]], params: PostDeploymentParams
) -> StatisticalView:
    """This run's samples judged against the baseline runs' (see `judge.baseline_samples`)."""
    settings = params.judge
    try:
        candidate = read_samples(run_dir, settings.samples_dir) if run_dir is not None else None
    except (OSError, ValueError, KeyError) as exc:
        why = f"this run's load samples cannot be read: {type(exc).__name__}: {exc}"
        return StatisticalView(why=why)
    if run_dir is None or candidate is None:
        return StatisticalView(why="this run kept no load samples (no performance phase here)")
    baseline, info = baseline_samples(run_dir.parent, manifests, settings)
    at_limit = settings.settings(
        tolerance_relative=params.degradation_limit,
        tolerance_error_rate=params.error_rate_min_delta,
    )
    return StatisticalView(
        baseline=info,
        judged=judge_runs(candidate, baseline, settings.settings()),
        degradation=judge_runs(candidate, baseline, at_limit) if baseline else {},
        why=None if baseline else info.get("why"),
    )


def _run_dir_of(evidence_dir: Path) -> Path | None:
    """outputs/<env>/<run>/evidence/<phase> -> outputs/<env>/<run> (None for another layout)."""
    return evidence_dir.parent.parent if evidence_dir.parent.name == "evidence" else None


def baseline_results(
    results: Iterable[CheckResult],
    params: PostDeploymentParams,
    previous_manifests: Iterable[dict[str, Any]],
    file: Path,
    *,
    run_id: str | None = None,
    run_dir: Path | None = None,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """The checks and the baseline file's content, writing nothing (`rejudge` uses this)."""
    manifests = list(previous_manifests)
    current = build_baseline(results, params, run_id)
    previous, found = previous_baseline(manifests, params)
    rows = compare_baselines(current, previous, params) if previous else []
    view = statistical_view(run_dir, manifests, params)
    content = {
        "baseline": current.model_dump(), "previous": previous.model_dump() if previous else None,
        "previous_run": found, "comparison": rows, "judge": view.model_dump(mode="json"),
    }  # fmt: skip
    checks = [
        _documented(current, params, file),
        _degradation(current, previous, found, rows, params, view),
        _improvements(rows, previous is not None, params),
        _thresholds(current, params),
        *_judge_checks(view, params),
    ]
    return checks, content


def baseline_checks(
    results: Iterable[CheckResult],
    params: PostDeploymentParams,
    previous_manifests: Iterable[dict[str, Any]],
    evidence_dir: Path | str,
    *,
    run_id: str | None = None,
    run_dir: Path | str | None = None,
) -> list[CheckResult]:
    """Document, compare (fixed lines and the statistical judge) and suggest thresholds (the
    §1–§3 tasks are sign-off items); run_dir defaults to the one evidence_dir lies in."""
    path = Path(evidence_dir) / params.baseline_file
    where = Path(run_dir) if run_dir is not None else _run_dir_of(Path(evidence_dir))
    checks, content = baseline_results(
        results, params, previous_manifests, path, run_id=run_id, run_dir=where
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
    return checks


def _judge_checks(view: StatisticalView, params: PostDeploymentParams) -> list[CheckResult]:
    if view.judged:
        return judge_checks(view.judged, view.baseline, params.judge)
    return [
        CheckResult(
            id="post.judge.latency", section=SECTION, severity=params.judge.severity,
            title="Latency compared with the baseline release (statistical judge)",
            status=Status.INCONCLUSIVE, explanation=view.why or "no samples",
            evidence={"baseline": view.baseline},
        )
    ]  # fmt: skip


def _documented(current: Baseline, params: PostDeploymentParams, path: Path) -> CheckResult:
    lacking = [m for m in params.required_metrics if current.metrics[m] is None]
    present = {k: v for k, v in current.metrics.items() if v is not None}
    if lacking:
        status = Status.INCONCLUSIVE
        text = (
            f"no baseline for {', '.join(lacking)} (no result of this run has them); "
            f"absent: {', '.join(current.missing)}"
        )
    else:
        status = Status.PASS
        text = f"baseline of {len(present)} metric(s) written to {path.name}" + (
            f"; absent: {', '.join(current.missing)}" if current.missing else ""
        )
    return CheckResult(
        id=params.baseline_result_id, section=SECTION, title="Document new performance baselines",
        status=status, observed=current.metrics, threshold={"required": params.required_metrics},
        explanation=text, evidence={"baseline": current.model_dump(), "file": str(path)},
    )  # fmt: skip


def _statistical(row: dict[str, Any], view: StatisticalView) -> Judgement | None:
    """The judge's call on a compared metric at the degradation limit (None: not judged)."""
    if row["metric"] == "error_rate":
        found = view.degradation.get(ERROR_RATE)
    elif row["metric"] in LATENCY_METRICS:
        found = worst([j for k, j in view.degradation.items() if k != ERROR_RATE])
    else:
        return None
    return found if found is not None and found.outcome != "inconclusive" else None


def _degradation(
    current: Baseline,
    previous: Baseline | None,
    found: dict[str, Any],
    rows: list[dict[str, Any]],
    params: PostDeploymentParams,
    view: StatisticalView,
) -> CheckResult:
    common: dict[str, Any] = {
        "id": "post.baseline.degradation", "section": f"{SECTION}; {SECTION_FAILED}",
        "title": f"Compare before/after metrics: no performance degradation > "
                 f"{params.degradation_limit:.0%}",
        "threshold": {"degradation_limit": params.degradation_limit, "metrics": params.compare,
                      "confidence": params.judge.confidence},
    }  # fmt: skip
    if previous is None:
        return CheckResult(**common, status=Status.SKIP, evidence={"previous_run": found},
                           explanation="no previous baseline in this environment: first "
                           "deployment with a baseline, nothing to compare with")  # fmt: skip
    judged = [r for r in rows if r["judged"]]
    real, undecided, noise, degraded, notes = [], [], [], [], []
    for row in judged:
        call = _statistical(row, view)
        row["judge"] = call.outcome if call else None
        fixed = bool(row["degraded"])
        if call is None:
            if fixed:
                degraded.append(row)
        elif call.outcome == "fail":
            real.append(call.explanation)
        elif fixed and call.outcome == "marginal":
            undecided.append(f"{_fmt_change(row)}, but {call.explanation}")
        elif fixed:
            noise.append(f"{_fmt_change(row)}, not real: {call.explanation}")
        if call is not None and row["metric"] in LATENCY_METRICS:
            row["judge_explanation"] = "see the latency judgements"
        elif call is not None:
            row["judge_explanation"] = call.explanation
    latency_calls = {k: j.explanation for k, j in view.degradation.items() if k != ERROR_RATE}
    real = list(dict.fromkeys(real))  # one line per route, however many latency metrics
    undecided = list(dict.fromkeys(undecided))
    unknown = [r["metric"] for r in judged if r["degraded"] is None and r.get("judge") is None]
    observed = {r["metric"]: r["change"] for r in judged}
    evidence = {"comparison": rows, "previous_run": found, "previous": previous.model_dump(),
                "current": current.model_dump(), "judge": {
                    "baseline": view.baseline, "why": view.why,
                    "at_limit": {k: j.model_dump(mode="json")
                                 for k, j in view.degradation.items()}}}  # fmt: skip
    if noise:
        notes.append("judged noise: " + "; ".join(noise))
    if real or degraded:
        status = Status.FAIL
        text = "degraded: " + "; ".join([*real, *(_fmt_change(r) for r in degraded)])
    elif undecided:
        status = Status.INCONCLUSIVE
        text = "perhaps degraded, a person decides: " + "; ".join(undecided)
    elif unknown:
        status = Status.INCONCLUSIVE
        text = f"cannot compare {', '.join(unknown)}: absent before or after"
    else:
        status = Status.PASS
        lead = "no real degradation beyond" if noise else "within"
        text = f"{lead} {params.degradation_limit:.0%} of run {found.get('run_id')}: " + ", ".join(
            f"{r['metric']} {r['change']:+.0%}" for r in judged
        )
        if latency_calls:
            text += "; judged on raw samples: " + "; ".join(latency_calls.values())
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return CheckResult(
        **common, status=status, observed=observed, explanation=text, evidence=evidence
    )


def _improvements(rows: list[dict[str, Any]], compared: bool,
                  params: PostDeploymentParams) -> CheckResult:  # fmt: skip
    better = [r for r in rows if r["improved"]]
    common: dict[str, Any] = {
        "id": "post.baseline.improvements",
        "section": SECTION,
        "title": "Document any performance improvements",
        "severity": Severity.WARNING,
        "threshold": f"better by more than {params.degradation_limit:.0%}",
    }
    if not compared:
        return CheckResult(
            **common, status=Status.SKIP, explanation="no previous baseline to improve on"
        )
    text = ("improved: " + "; ".join(
        f"{r['metric']} {r['before']:g} → {r['after']:g} ({-r['change']:.0%} better)"
        for r in better) if better else "no metric improved beyond the limit")  # fmt: skip
    return CheckResult(**common, status=Status.PASS, explanation=text,
                       observed={r["metric"]: r["change"] for r in better},
                       evidence={"comparison": rows})  # fmt: skip


def _thresholds(current: Baseline, params: PostDeploymentParams) -> CheckResult:
    suggested: dict[str, float] = {}
    for name, factor in params.threshold_factors.items():
        value = current.metrics.get(name)
        if value is None:
            continue
        step = params.threshold_round.get(name, 1.0) or 1.0
        suggested[name] = math.ceil(value * factor / step) * step
    common: dict[str, Any] = {
        "id": "post.baseline.thresholds",
        "section": SECTION,
        "title": "Update monitoring thresholds if needed (suggested from the baseline)",
        "severity": Severity.WARNING,
        "threshold": {"factors": params.threshold_factors},
    }
    if not suggested:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation="no baseline metric to derive a threshold from",
        )
    text = ", ".join(
        f"{k} alert at {v:g} ({current.metrics[k]:g} × {params.threshold_factors[k]:g})"
        for k, v in suggested.items()
    )
    return CheckResult(**common, status=Status.PASS, observed=suggested,
                       explanation=f"suggested: {text}; a person decides whether to apply them",
                       evidence={"baseline": current.metrics})  # fmt: skip
