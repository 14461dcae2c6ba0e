"""The baseline judge's error rates, measured: false alarms on no-shift data and power at 10 %
and 25 % slowdowns, per sample size, over many seeds (lognormal latency, median 60 ms).

A false alarm is a `fail` on identical distributions; power is the share of `fail` when the
candidate is slower by the factor. `bare` is the judge without a tolerance band (a fail needs
the whole interval above 0: at most half the level), `default` the shipped settings.

    uv run python bench/baseline_judge.py [--seeds 500] [--sizes 30 100 300 1000]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from runbook.core.baseline_judge import JudgeSettings, judge_samples

MEDIAN_MS, SIGMA = 60.0, 0.35


def outcome_shares(n: int, factor: float, seeds: int, settings: JudgeSettings) -> dict[str, float]:
    """Share of each outcome over `seeds` draws of n baseline and n candidate samples."""
    counts = {"pass": 0, "marginal": 0, "fail": 0, "inconclusive": 0}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.lognormal(math.log(MEDIAN_MS), SIGMA, n)
        y = rng.lognormal(math.log(MEDIAN_MS), SIGMA, n) * factor
        counts[judge_samples(x, y, settings).outcome] += 1
    return {k: v / seeds for k, v in counts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 300, 1000])
    args = parser.parse_args()
    default = JudgeSettings()
    bare = default.model_copy(update={"tolerance_relative": 0.0, "tolerance_ms": 0.0})
    band = f"{default.tolerance_relative:.0%} / {default.tolerance_ms:g} ms"
    print(f"confidence {default.confidence:.0%}, level {default.level:.0%}, tolerance {band}, "
          f"{args.seeds} seeds")  # fmt: skip
    print(f"{'n':>6} {'false alarm bare':>17} {'false alarm':>12} {'marginal@0':>11} "
          f"{'power 10%':>10} {'power 25%':>10} {'ms/judgement':>13}")  # fmt: skip
    for n in args.sizes:
        t0 = time.perf_counter()
        none = outcome_shares(n, 1.0, args.seeds, default)
        spent = (time.perf_counter() - t0) / args.seeds * 1000
        bare_fail = outcome_shares(n, 1.0, args.seeds, bare)["fail"]
        p10 = outcome_shares(n, 1.10, args.seeds, default)["fail"]
        p25 = outcome_shares(n, 1.25, args.seeds, default)["fail"]
        print(f"{n:>6} {bare_fail:>17.3f} {none['fail']:>12.3f} {none['marginal']:>11.3f} "
              f"{p10:>10.3f} {p25:>10.3f} {spent:>13.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
