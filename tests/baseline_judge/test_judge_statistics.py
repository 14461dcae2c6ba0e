"""The baseline judge on samples of known distributions (seeded numpy draws): a true 25 % shift
is caught, no shift is not, the false-alarm rate over 500 seeds stays at the configured level,
the interval is the textbook one, and error rates are judged the same way."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from runbook.core.baseline_judge import (
    JudgeSettings,
    judge_rates,
    judge_samples,
    rate_interval,
    shift_interval,
)

SETTINGS = JudgeSettings()  # 98 % confidence, 10 % / 5 ms tolerance, 30 samples at least
MEDIAN_MS, SIGMA = 60.0, 0.35  # a lognormal latency: median 60 ms, p95 about 107 ms
SEEDS = 500


def latencies(rng: np.random.Generator, n: int, factor: float = 1.0) -> np.ndarray:
    """n latencies (ms) of the reference distribution, scaled by factor (1.25: 25 % slower)."""
    return rng.lognormal(math.log(MEDIAN_MS), SIGMA, n) * factor


def binomial_margin(rate: float, trials: int, z: float = 3.0) -> float:
    """How far an observed rate may lie above `rate` by chance (z standard errors)."""
    return z * math.sqrt(rate * (1 - rate) / trials) + 1 / trials


def test_the_interval_is_the_order_statistics_of_the_pairwise_differences() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(10, 2, 40), rng.normal(11, 2, 50)
    diffs = np.sort((y[None, :] - x[:, None]).ravel())
    total = diffs.size
    z = stats.norm.ppf(0.975)
    k = math.floor(total / 2 - z * math.sqrt(40 * 50 * 91 / 12))
    estimate, low, high = shift_interval(x, y, 0.95)
    assert estimate == pytest.approx(np.median(diffs), abs=1e-6)
    assert low == pytest.approx(diffs[k - 1], abs=1e-6)
    assert high == pytest.approx(diffs[total - k], abs=1e-6)


def test_a_true_25_percent_shift_fails_with_its_interval_in_words() -> None:
    rng = np.random.default_rng(25)
    judgement = judge_samples(latencies(rng, 400), latencies(rng, 400, 1.25), SETTINGS,
                              metric="GET /api/v1/projects/")  # fmt: skip
    assert judgement.outcome == "fail" and judgement.real
    low, band = judgement.ci_low, judgement.tolerance
    assert low is not None and band is not None and low > band
    text = judgement.explanation
    assert text.startswith("GET /api/v1/projects/: latency rose ")
    assert f"98 % CI +{judgement.ci_low:.1f} to +{judgement.ci_high:.1f} ms" in text
    assert f"wholly beyond the tolerance of {band:.1f} ms (10% of the baseline median" in text
    assert "p95 " in text and "Mann-Whitney p = " in text


def test_no_shift_passes() -> None:
    rng = np.random.default_rng(7)
    judgement = judge_samples(latencies(rng, 400), latencies(rng, 400), SETTINGS)
    assert judgement.outcome == "pass", judgement.explanation
    assert "within the tolerance" in judgement.explanation


def test_a_shift_near_the_tolerance_is_marginal_not_a_failure() -> None:
    rng = np.random.default_rng(11)
    judgement = judge_samples(latencies(rng, 300), latencies(rng, 300, 1.10), SETTINGS)
    assert judgement.outcome == "marginal", judgement.explanation
    low, band, high = judgement.ci_low, judgement.tolerance, judgement.ci_high
    assert low is not None and band is not None and high is not None and low < band < high
    assert "may or may not be real" in judgement.explanation


def test_an_improvement_passes_and_says_so() -> None:
    rng = np.random.default_rng(5)
    judgement = judge_samples(latencies(rng, 400), latencies(rng, 400, 0.7), SETTINGS)
    assert judgement.outcome == "pass" and judgement.improved
    assert "latency fell" in judgement.explanation and "an improvement" in judgement.explanation


def test_too_few_samples_or_no_baseline_is_inconclusive() -> None:
    rng = np.random.default_rng(1)
    few = judge_samples(latencies(rng, 12), latencies(rng, 400, 2.0), SETTINGS)
    assert few.outcome == "inconclusive"
    assert "too few samples to tell: 12 baseline, 400 candidate (at least 30 each)" in (
        few.explanation
    )
    none = judge_samples([], latencies(rng, 400), SETTINGS)
    assert none.outcome == "inconclusive" and "no baseline samples" in none.explanation


@pytest.mark.parametrize("n", [50, 200])
def test_the_false_alarm_rate_without_a_shift_is_at_most_the_configured_level(n: int) -> None:
    """500 seeds of identical distributions. With no tolerance at all a fail needs the whole
    interval above 0, which the 98 % interval allows in 1 % of cases; with the default
    tolerance it must be rarer still. Both stay within 2 % plus a binomial margin."""
    level = SETTINGS.level
    bare = SETTINGS.model_copy(update={"tolerance_relative": 0.0, "tolerance_ms": 0.0})
    alarms = {"bare": 0, "default": 0}
    for seed in range(SEEDS):
        rng = np.random.default_rng(10_000 + seed)
        x, y = latencies(rng, n), latencies(rng, n)
        alarms["bare"] += judge_samples(x, y, bare).outcome == "fail"
        alarms["default"] += judge_samples(x, y, SETTINGS).outcome == "fail"
    bare_rate, default_rate = alarms["bare"] / SEEDS, alarms["default"] / SEEDS
    assert bare_rate <= level / 2 + binomial_margin(level / 2, SEEDS), bare_rate
    assert default_rate <= level + binomial_margin(level, SEEDS), default_rate
    assert default_rate <= bare_rate


def test_a_25_percent_shift_is_caught_in_nearly_every_seed() -> None:
    caught = 0
    for seed in range(100):
        rng = np.random.default_rng(20_000 + seed)
        caught += judge_samples(latencies(rng, 400), latencies(rng, 400, 1.25), SETTINGS).real
    assert caught >= 95


def test_the_rate_interval_is_newcombes() -> None:
    """Newcombe (1998), table II example (h): 56/70 vs 48/80 at 95 %: −0.0524 to 0.3339 for
    the first minus the second (here candidate 56/70, baseline 48/80)."""
    diff, low, high = rate_interval(48, 80, 56, 70, 0.95)
    assert diff == pytest.approx(0.2, abs=1e-9)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)


def test_an_error_rate_that_rose_from_half_a_percent_to_four_fails() -> None:
    judgement = judge_rates(5, 1000, 40, 1000, SETTINGS)
    assert judgement.outcome == "fail"
    assert "0.50% → 4.00%" in judgement.explanation and "98 % CI" in judgement.explanation


def test_equal_error_rates_pass_and_tiny_samples_are_inconclusive() -> None:
    assert judge_rates(3, 2000, 4, 2000, SETTINGS).outcome == "pass"
    assert judge_rates(0, 10, 5, 10, SETTINGS).outcome == "inconclusive"


def test_the_error_rate_false_alarm_rate_is_at_most_the_level() -> None:
    rng = np.random.default_rng(99)
    alarms = sum(
        judge_rates(int(rng.binomial(1000, 0.01)), 1000, int(rng.binomial(1000, 0.01)), 1000,
                    SETTINGS.model_copy(update={"tolerance_error_rate": 0.0,
                                                "tolerance_relative": 0.0})).real
        for _ in range(SEEDS)
    )  # fmt: skip
    assert alarms / SEEDS <= SETTINGS.level / 2 + binomial_margin(SETTINGS.level / 2, SEEDS)
