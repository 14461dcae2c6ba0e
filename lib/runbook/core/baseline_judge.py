"""The statistical baseline judge: is a change between two releases real, and beyond tolerance?

Latency: this run's raw samples (candidate) against a baseline's, with a Mann-Whitney U test,
the Hodges-Lehmann shift estimate (the median of every candidate − baseline difference) and its
distribution-free confidence interval (Lehmann/Moses: the k-th smallest and k-th largest of the
sorted pairwise differences, k from the U statistic's normal approximation; found by bisection
over a counting function, so m×n differences are never held in memory). Error rate: Fisher's
exact test, and the Newcombe hybrid-score (Wilson) interval of the difference of the two rates.

The tolerance band is max(relative × baseline centre, absolute) (the median for latency, the
rate for errors). Classification, as Spinnaker's Kayenta judge does it:
- inconclusive: no baseline, or fewer samples than `min_samples` on either side;
- fail: the whole interval lies beyond the band (worse);
- marginal: the interval straddles the band's upper edge;
- pass: the whole interval lies within the band (an interval wholly below −band is an
  improvement, still a pass).
Higher is worse for both metrics. This module only computes; checks are built by the phases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

Outcome = Literal["pass", "marginal", "fail", "inconclusive"]
LATENCY_METHOD = "Mann-Whitney U; Hodges-Lehmann shift, distribution-free CI (pairwise differences)"
RATE_METHOD = "Fisher's exact test; Newcombe hybrid-score (Wilson) CI of the rate difference"


class JudgeSettings(BaseModel):
    """Confidence, tolerance band and minimum sample count of the baseline judge."""

    model_config = ConfigDict(extra="forbid")

    confidence: float = Field(
        0.98, gt=0.5, lt=1, description="confidence of the shift's interval (Kayenta: 98 %)"
    )
    tolerance_relative: float = Field(
        0.10, ge=0, description="tolerated worsening, share of the baseline's median (or rate)"
    )
    tolerance_ms: float = Field(
        5.0, ge=0, description="tolerated latency shift in ms whatever the relative share"
    )
    tolerance_error_rate: float = Field(
        0.005, ge=0, le=1, description="tolerated error-rate rise (absolute, 0.005 = 0.5 points)"
    )
    min_samples: int = Field(
        30, ge=2, description="fewer samples (requests) on either side: inconclusive"
    )

    @property
    def level(self) -> float:
        """The false-alarm level: 1 − confidence."""
        return 1 - self.confidence


class Judgement(BaseModel):
    """The judge's view of one metric: outcome, shift and interval, and why in words."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    outcome: Outcome
    explanation: str
    unit: str = "ms"
    method: str = LATENCY_METHOD
    confidence: float
    n_baseline: int
    n_candidate: int
    baseline_center: float | None = None
    candidate_center: float | None = None
    baseline_p95: float | None = None
    candidate_p95: float | None = None
    shift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tolerance: float | None = None
    p_value: float | None = None
    improved: bool = False

    @property
    def real(self) -> bool:
        """True when the change is real and beyond tolerance (a fail)."""
        return self.outcome == "fail"


def _classify(low: float, high: float, band: float) -> tuple[Outcome, bool]:
    if low > band:
        return "fail", False
    if high > band:
        return "marginal", False
    return "pass", high < -band


def _kth_difference(x: np.ndarray, y: np.ndarray, k: float) -> float:
    """The k-th smallest (1-based, may be fractional: the mean of its neighbours) of y_j − x_i,
    x and y sorted; bisection on the count of differences ≤ d."""
    if k != math.floor(k):
        return (_kth_difference(x, y, math.floor(k)) + _kth_difference(x, y, math.ceil(k))) / 2
    m = x.size
    lo, hi = float(y[0] - x[-1]), float(y[-1] - x[0])
    eps = max(1e-9, 1e-12 * max(abs(lo), abs(hi)))
    for _ in range(200):
        if hi - lo <= eps:
            break
        mid = (lo + hi) / 2
        count = int((m - np.searchsorted(x, y - mid, side="left")).sum())
        if count >= k:
            hi = mid
        else:
            lo = mid
    return hi


def shift_interval(
    baseline: Sequence[float] | np.ndarray, candidate: Sequence[float] | np.ndarray,
    confidence: float,
) -> tuple[float, float, float]:  # fmt: skip
    """(Hodges-Lehmann shift, CI low, CI high) of candidate − baseline at `confidence`."""
    x = np.sort(np.asarray(baseline, dtype=float))
    y = np.sort(np.asarray(candidate, dtype=float))
    m, n = x.size, y.size
    total = m * n
    estimate = _kth_difference(x, y, (total + 1) / 2)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    k = math.floor(total / 2 - z * math.sqrt(m * n * (m + n + 1) / 12))
    k = min(max(k, 1), total)
    return estimate, _kth_difference(x, y, k), _kth_difference(x, y, total - k + 1)


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    return data[np.isfinite(data)]


def _too_few(metric: str, unit: str, method: str, n_b: int, n_c: int,
             settings: JudgeSettings) -> Judgement | None:  # fmt: skip
    if n_b == 0:
        why = "no baseline samples to compare with"
    elif n_b < settings.min_samples or n_c < settings.min_samples:
        why = (
            f"too few samples to tell: {n_b} baseline, {n_c} candidate "
            f"(at least {settings.min_samples} each)"
        )
    else:
        return None
    return Judgement(metric=metric, outcome="inconclusive", explanation=f"{metric}: {why}",
                     unit=unit, method=method, confidence=settings.confidence,
                     n_baseline=n_b, n_candidate=n_c)  # fmt: skip


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g} %"


def judge_samples(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    settings: JudgeSettings,
    *,
    metric: str = "latency",
) -> Judgement:
    """Judge a latency change (ms) from raw samples: outcome, shift with its CI, why in words."""
    x, y = _clean(baseline), _clean(candidate)
    early = _too_few(metric, "ms", LATENCY_METHOD, x.size, y.size, settings)
    if early is not None:
        return early
    estimate, low, high = shift_interval(x, y, settings.confidence)
    median_b, median_c = float(np.median(x)), float(np.median(y))
    band = max(settings.tolerance_relative * median_b, settings.tolerance_ms)
    outcome, improved = _classify(low, high, band)
    p_value = float(stats.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    p95_b, p95_c = float(np.percentile(x, 95)), float(np.percentile(y, 95))
    verb = "rose" if estimate > 0 else "fell" if estimate < 0 else "did not move"
    moved = f"{abs(estimate):.1f} ms" if estimate else ""
    interval = f"{_pct(settings.confidence)} CI {low:+.1f} to {high:+.1f} ms"
    tolerance = (
        f"the tolerance of {band:.1f} ms ({settings.tolerance_relative:.0%} of the baseline "
        f"median {median_b:.1f} ms, at least {settings.tolerance_ms:g} ms)"
    )
    where = _placement(outcome, tolerance, improved)
    text = (
        f"{metric}: latency {verb} {moved} (Hodges-Lehmann shift; {interval}), {where}; "
        f"p95 {p95_b:.1f} → {p95_c:.1f} ms, median {median_b:.1f} → {median_c:.1f} ms, "
        f"Mann-Whitney p = {p_value:.2g}, {x.size} baseline vs {y.size} candidate samples"
    ).replace(f" {verb}  (", f" {verb} (")
    return Judgement(
        metric=metric, outcome=outcome, explanation=text, confidence=settings.confidence,
        n_baseline=int(x.size), n_candidate=int(y.size),
        baseline_center=round(median_b, 3), candidate_center=round(median_c, 3),
        baseline_p95=round(p95_b, 3), candidate_p95=round(p95_c, 3),
        shift=round(estimate, 3), ci_low=round(low, 3), ci_high=round(high, 3),
        tolerance=round(band, 3), p_value=p_value, improved=improved,
    )  # fmt: skip


def _wilson(count: int, n: int, confidence: float) -> tuple[float, float]:
    ci = stats.binomtest(count, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def rate_interval(
    baseline_errors: int, baseline_n: int, candidate_errors: int, candidate_n: int,
    confidence: float,
) -> tuple[float, float, float]:  # fmt: skip
    """(difference, CI low, CI high) of candidate rate − baseline rate (Newcombe's method 10)."""
    p_b, p_c = baseline_errors / baseline_n, candidate_errors / candidate_n
    low_b, high_b = _wilson(baseline_errors, baseline_n, confidence)
    low_c, high_c = _wilson(candidate_errors, candidate_n, confidence)
    diff = p_c - p_b
    low = diff - math.sqrt((p_c - low_c) ** 2 + (high_b - p_b) ** 2)
    high = diff + math.sqrt((high_c - p_c) ** 2 + (p_b - low_b) ** 2)
    return diff, low, high


def judge_rates(
    baseline_errors: int,
    baseline_n: int,
    candidate_errors: int,
    candidate_n: int,
    settings: JudgeSettings,
    *,
    metric: str = "error rate",
) -> Judgement:
    """Judge an error-rate change from request counts: outcome, difference with its CI, why."""
    early = _too_few(metric, "rate", RATE_METHOD, baseline_n, candidate_n, settings)
    if early is not None:
        return early
    if not (0 <= baseline_errors <= baseline_n and 0 <= candidate_errors <= candidate_n):
        raise ValueError("error counts must lie between 0 and the request counts")
    diff, low, high = rate_interval(
        baseline_errors, baseline_n, candidate_errors, candidate_n, settings.confidence
    )
    p_b, p_c = baseline_errors / baseline_n, candidate_errors / candidate_n
    band = max(settings.tolerance_relative * p_b, settings.tolerance_error_rate)
    outcome, improved = _classify(low, high, band)
    table = [[candidate_errors, candidate_n - candidate_errors],
             [baseline_errors, baseline_n - baseline_errors]]  # fmt: skip
    p_value = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    tolerance = (
        f"the tolerance of {band:.2%} ({settings.tolerance_relative:.0%} of the baseline rate, "
        f"at least {settings.tolerance_error_rate:.2%})"
    )
    where = _placement(outcome, tolerance, improved)
    text = (
        f"{metric}: {p_b:.2%} → {p_c:.2%} ({baseline_errors}/{baseline_n} → "
        f"{candidate_errors}/{candidate_n}), a change of {diff * 100:+.2f} points "
        f"({_pct(settings.confidence)} CI {low * 100:+.2f} to {high * 100:+.2f} points), "
        f"{where}; Fisher's exact p = {p_value:.2g}"
    )
    return Judgement(
        metric=metric, outcome=outcome, explanation=text, unit="rate", method=RATE_METHOD,
        confidence=settings.confidence, n_baseline=baseline_n, n_candidate=candidate_n,
        baseline_center=round(p_b, 6), candidate_center=round(p_c, 6), shift=round(diff, 6),
        ci_low=round(low, 6), ci_high=round(high, 6), tolerance=round(band, 6),
        p_value=p_value, improved=improved,
    )  # fmt: skip


def _placement(outcome: str, tolerance: str, improved: bool) -> str:
    """Where the interval lies against the tolerance band, in words."""
    return {
        "fail": f"wholly beyond {tolerance}: a real regression",
        "marginal": f"straddling {tolerance}: it may or may not be real",
        "pass": f"within {tolerance}" + ("; an improvement" if improved else ""),
    }[outcome]
