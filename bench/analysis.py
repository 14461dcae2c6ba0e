"""Time the per-window statistics on synthetic request records (goal: ≤ 0.5 s at 1e7).

Run: uv run python bench/analysis.py [--sizes 100000 1000000 10000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from runbook.phases.performance.stats import route_stats, window_stats


def synthetic(n: int, *, routes: int = 3, duration_s: float = 600.0, seed: int = 1) -> pd.DataFrame:
    """n request records over duration_s: lognormal latencies around 20 ms, 1 % errors."""
    rng = np.random.default_rng(seed)
    labels = [f"GET /api/v1/route{i}" for i in range(routes)]
    return pd.DataFrame(
        {
            "t_s": np.sort(rng.uniform(0, duration_s, n)),
            "route": pd.Categorical.from_codes(rng.integers(0, routes, n), categories=labels),
            "latency_ms": rng.lognormal(np.log(20.0), 0.3, n),
            "ok": rng.random(n) >= 0.01,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--window-s", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'records':>10}  {'windows':>7}  {'window_stats s':>14}  {'route_stats s':>13}")
    for n in args.sizes:
        frame = synthetic(n)
        best_w = best_r = float("inf")
        for _ in range(args.repeat):
            began = time.perf_counter()
            table = window_stats(frame, args.window_s)
            best_w = min(best_w, time.perf_counter() - began)
            began = time.perf_counter()
            route_stats(frame, duration_s=600.0)
            best_r = min(best_r, time.perf_counter() - began)
        n_windows = table["window_start_s"].nunique()
        print(f"{n:>10}  {n_windows:>7}  {best_w:>14.3f}  {best_r:>13.3f}")
    print("(best of", args.repeat, "runs; goal: window_stats ≤ 0.5 s at 1e7 records)")


if __name__ == "__main__":
    main()
