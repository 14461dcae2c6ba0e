"""The baseline judge applied to runs: this run's raw load samples (the performance phase's
`evidence/performance/load-samples.csv.gz`, after its warm-up) against those of the last GO run
of the environment (or the last N pooled, or a named run), judged by `core.baseline_judge`.

An earlier run's samples are used only when their sha256 is the one its manifest recorded (an
altered or missing file passes that run over, with the reason). The judge sits beside the
checklist's fixed lines: its checks (`post.judge.latency.<route>`, `post.judge.error-rate`) are
warnings by default, and the ">20 % degradation" check asks it whether a change is real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from runbook.core.baseline_judge import Judgement, JudgeSettings, judge_rates, judge_samples
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence import sha256_file

SECTION = "Post-Deployment Tasks §4 Performance Baseline"
ERROR_RATE = "error_rate"
STATUS = {"pass": Status.PASS, "fail": Status.FAIL, "marginal": Status.WARN,
          "inconclusive": Status.INCONCLUSIVE}  # fmt: skip
ORDER = {"fail": 3, "marginal": 2, "pass": 1, "inconclusive": 0}


class JudgeParams(JudgeSettings):
    """`post_deployment.judge`: the judge's settings and which runs give the baseline."""

    baseline_runs: int = Field(1, ge=1, description="pool the samples of the last N such runs")
    baseline_run: str | None = Field(None, description="a named run id instead of the last ones")
    baseline_verdicts: list[str] = Field(
        default_factory=lambda: ["GO"], description="verdicts a baseline run must have"
    )
    samples_dir: str = Field(
        "evidence/performance", description="where a run keeps its raw load samples"
    )
    severity: Severity = Field(
        Severity.WARNING, description="of the judge's own checks (beside the fixed lines)"
    )

    def settings(self, **changes: Any) -> JudgeSettings:
        """The statistical settings alone (with changes)."""
        data = {k: getattr(self, k) for k in JudgeSettings.model_fields}
        return JudgeSettings.model_validate({**data, **changes})


@dataclass
class RunSamples:
    """One run's (or several pooled runs') measured samples: latency of successful responses
    per route, requests and errors per route."""

    runs: list[str]
    latency: dict[str, np.ndarray] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    def pooled(self, other: RunSamples) -> RunSamples:
        """These samples and other's together."""
        out = RunSamples(runs=self.runs + other.runs)
        for route in {*self.requests, *other.requests}:
            parts = [s.latency[route] for s in (self, other) if route in s.latency]
            out.latency[route] = np.concatenate(parts) if parts else np.array([])
            out.requests[route] = self.requests.get(route, 0) + other.requests.get(route, 0)
            out.errors[route] = self.errors.get(route, 0) + other.errors.get(route, 0)
        return out


def read_samples(run_dir: Path, samples_dir: str = "evidence/performance") -> RunSamples | None:
    """The measured samples a run saved (None when it saved none)."""
    from runbook.phases.performance.probe import RUN_FILE, LoadResult

    folder = Path(run_dir) / samples_dir
    if not (folder / RUN_FILE).is_file():
        return None
    measured = LoadResult.load(folder).measured
    out = RunSamples(runs=[Path(run_dir).name])
    for route, rows in measured.groupby("route", observed=True):
        ok = rows["ok"].astype(bool)
        out.latency[str(route)] = rows.loc[ok, "latency_ms"].to_numpy(dtype=float)
        out.requests[str(route)] = len(rows)
        out.errors[str(route)] = int((~ok).sum())
    return out


def _intact(run_dir: Path, manifest: dict[str, Any], samples_dir: str) -> str | None:
    """Why a run's saved samples cannot be trusted (None: they are what its manifest hashed)."""
    from runbook.phases.performance.probe import RUN_FILE, SAMPLES_FILE

    recorded = manifest.get("files") or {}
    for name in (SAMPLES_FILE, RUN_FILE):
        rel = f"{samples_dir.strip('/')}/{name}"
        if rel not in recorded:
            return f"no {rel} in its manifest"
        path = run_dir / rel
        if not path.is_file():
            return f"{rel} is missing"
        if sha256_file(path) != recorded[rel]:
            return f"{rel} does not match its manifest's sha256"
    return None


def baseline_samples(
    env_dir: Path, manifests: list[dict[str, Any]], params: JudgeParams
) -> tuple[RunSamples | None, dict[str, Any]]:
    """The baseline's samples from earlier runs (manifests newest first), and which runs were
    used or passed over and why."""
    used: list[RunSamples] = []
    passed_over: list[dict[str, Any]] = []
    for manifest in manifests:
        run = str(manifest.get("run_id"))
        if params.baseline_run is not None and run != params.baseline_run:
            continue
        verdict = manifest.get("verdict")
        if params.baseline_run is None and verdict not in params.baseline_verdicts:
            passed_over.append({"run_id": run, "why": f"verdict {verdict}"})
            continue
        problem = _intact(env_dir / run, manifest, params.samples_dir)
        samples = None
        if problem is None:
            try:
                samples = read_samples(env_dir / run, params.samples_dir)
            except (OSError, ValueError, KeyError) as exc:
                problem = f"its load samples cannot be read: {type(exc).__name__}: {exc}"
        if samples is None:
            passed_over.append({"run_id": run, "why": problem or "no load samples"})
            continue
        used.append(samples)
        if params.baseline_run is not None or len(used) >= params.baseline_runs:
            break
    info: dict[str, Any] = {"runs": [s.runs[0] for s in used], "passed_over": passed_over}
    if params.baseline_run is not None and not used:
        info["why"] = f"the named run {params.baseline_run} gives no usable samples"
    elif not used:
        info["why"] = f"no earlier run with verdict {' or '.join(params.baseline_verdicts)} " \
                      "kept usable load samples"  # fmt: skip
    if not used:
        return None, info
    pooled = used[0]
    for more in used[1:]:
        pooled = pooled.pooled(more)
    return pooled, info


def judge_runs(
    candidate: RunSamples, baseline: RunSamples | None, settings: JudgeSettings
) -> dict[str, Judgement]:
    """Per candidate route its latency judgement, and the overall error rate's (key
    'error_rate')."""
    empty = np.array([])
    out = {
        route: judge_samples(
            baseline.latency.get(route, empty) if baseline else empty,
            values,
            settings,
            metric=route,
        )
        for route, values in candidate.latency.items()
    }
    out[ERROR_RATE] = judge_rates(
        baseline.total_errors if baseline else 0,
        baseline.total_requests if baseline else 0,
        candidate.total_errors,
        candidate.total_requests,
        settings,
    )
    return out


def worst(judgements: list[Judgement]) -> Judgement | None:
    """The most serious of several judgements (fail, marginal, pass, inconclusive)."""
    return max(judgements, key=lambda j: ORDER[j.outcome], default=None)


def judge_checks(
    judgements: dict[str, Judgement], info: dict[str, Any], params: JudgeParams
) -> list[CheckResult]:
    """The judge's own checks: one per route's latency, one for the error rate."""
    out = []
    basis = ", ".join(info.get("runs") or []) or "none"
    for key, j in judgements.items():
        is_rate = key == ERROR_RATE
        check_id = "post.judge.error-rate" if is_rate else f"post.judge.latency.{key}"
        title = (
            "Error rate compared with the baseline release (statistical judge)"
            if is_rate
            else f"Latency compared with the baseline release (statistical judge) — {key}"
        )
        text = j.explanation if j.n_baseline else f"{j.metric}: {info.get('why', 'no baseline')}"
        out.append(CheckResult(
            id=check_id, section=SECTION, title=title, severity=params.severity,
            status=STATUS[j.outcome],
            observed={"outcome": j.outcome, "shift": j.shift, "ci": [j.ci_low, j.ci_high],
                      "unit": j.unit},
            threshold={"tolerance": j.tolerance, "confidence": j.confidence,
                       "tolerance_relative": params.tolerance_relative,
                       "min_samples": params.min_samples},
            explanation=f"{text} (baseline: run {basis})" if j.n_baseline else text,
            evidence={"judgement": j.model_dump(mode="json"), "baseline": info},
        ))  # fmt: skip
    return out
