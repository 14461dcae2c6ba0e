"""Vectorized statistics of request samples: per route and per (route, time window).

A sample frame has one row per request with at least the columns
  t_s (float, seconds since the run's start), route (category or str), latency_ms (float),
  ok (bool: expected status and no transport error).
Percentiles are over the successful samples of a group (numpy 'linear' method); throughput
and error rate are over all samples. Warm-up samples (t_s < warmup_s) are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALL_ROUTES = "(all)"
PERCENTILES = (50.0, 95.0, 99.0)
STAT_COLUMNS = ["n", "ok", "errors", "error_rate", "throughput_rps", "p50_ms", "p95_ms", "p99_ms"]


def _route_codes(route: pd.Series) -> tuple[np.ndarray, list[str]]:
    if isinstance(route.dtype, pd.CategoricalDtype):
        return route.cat.codes.to_numpy(), [str(c) for c in route.cat.categories]
    codes, uniques = pd.factorize(route, sort=True)
    return codes, [str(u) for u in uniques]


_MAX_TABLE = 20_000_000  # cells of the (group x latency bin) count table


def _exact_percentiles(group: np.ndarray, n_groups: int, latency: np.ndarray) -> np.ndarray:
    """Exact percentiles (numpy 'linear') per group in O(n), shape (n_groups, 3); samples with
    group id == n_groups (or beyond) are ignored.

    A float's bit pattern is monotonic in its value (for values >= 0), so its top bits are a
    log-scale histogram bin. One bincount gives the counts per (group, bin); the cumulative
    counts tell which bin holds each wanted rank; only the samples in those few bins are then
    sorted to read the exact order statistics.
    """
    out = np.full((n_groups, len(PERCENTILES)), np.nan)
    if latency.size == 0 or n_groups == 0:
        return out
    latency = np.ascontiguousarray(latency, dtype=np.float64)
    low_ms, high_ms = float(latency.min()), float(latency.max())
    if low_ms < 0 or np.isnan(low_ms) or np.isnan(high_ms):
        raise ValueError("negative or NaN latency in the samples")
    shift = 52 - 6  # 64 bins per octave to start with, coarser if the table would be too big
    ends = np.array([low_ms, high_ms]).view(np.int64)
    while True:
        low, n_bins = int(ends[0] >> shift), int((ends[1] >> shift) - (ends[0] >> shift)) + 1
        if (n_groups + 1) * n_bins <= _MAX_TABLE or shift >= 62:
            break
        shift += 1
    index_type = np.int32 if (n_groups + 1) * n_bins < np.iinfo(np.int32).max else np.int64
    flat: np.ndarray = (latency.view(np.int64) >> shift).astype(index_type)
    np.subtract(flat, low, out=flat, casting="unsafe")
    np.add(flat, group.astype(index_type) * n_bins, out=flat, casting="unsafe")
    counts = np.bincount(flat, minlength=(n_groups + 1) * n_bins)
    counts = counts[: n_groups * n_bins].reshape(n_groups, n_bins)
    cum = counts.cumsum(axis=1)
    total = cum[:, -1]
    have = np.flatnonzero(total)
    # wanted ranks (0-based) per group: lower and upper neighbour of q * (n - 1)
    position = np.asarray(PERCENTILES)[None, :] / 100 * (total[have, None] - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, total[have, None] - 1)
    ranks = np.concatenate((lower, upper), axis=1)  # (groups with data, 6)
    rank_bin = (cum[have, None, :] <= ranks[:, :, None]).sum(axis=2)
    target = np.zeros((n_groups + 1, n_bins), dtype=bool)
    target[have[:, None], rank_bin] = True
    chosen = np.flatnonzero(target.ravel()[flat])
    cand_group, cand_value = flat[chosen] // n_bins, latency[chosen]
    by_value = np.argsort(cand_value)
    key = cand_group[by_value]
    if n_groups <= np.iinfo(np.uint16).max:
        key = key.astype(np.uint16)  # stable sort of 16-bit keys is a radix sort
    ordered = cand_value[by_value][np.argsort(key, kind="stable")]
    cand_start = np.concatenate(([0], np.cumsum(np.bincount(cand_group, minlength=n_groups))))
    cand_counts = np.where(target[:n_groups], counts, 0)
    cand_before = np.cumsum(cand_counts, axis=1) - cand_counts
    cum_before = cum - counts
    rows = have[:, None]
    index = cand_start[rows] + cand_before[rows, rank_bin] + ranks - cum_before[rows, rank_bin]
    values = ordered[index]
    k = len(PERCENTILES)
    low_v, high_v = values[:, :k], values[:, k:]
    out[have] = low_v + (high_v - low_v) * (position - lower)
    return out


def _group_stats(
    groups: np.ndarray, n_groups: int, latency: np.ndarray, ok: np.ndarray
) -> dict[str, np.ndarray]:
    """Counts, error rate and percentiles (of the ok samples) per integer group id."""
    n = np.bincount(groups, minlength=n_groups)
    ok_groups = groups if ok.all() else np.where(ok, groups, n_groups)  # n_groups = left out
    good = np.bincount(ok_groups, minlength=n_groups + 1)[:n_groups]
    pct = _exact_percentiles(ok_groups, n_groups, latency)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = np.where(n > 0, (n - good) / np.maximum(n, 1), np.nan)
    return {"n": n, "ok": good, "errors": n - good, "error_rate": error_rate, "pct": pct}


def _columns(
    frame: pd.DataFrame, warmup_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    t = frame["t_s"].to_numpy(dtype=np.float64)
    codes, labels = _route_codes(frame["route"])
    latency = frame["latency_ms"].to_numpy(dtype=np.float64)
    ok = frame["ok"].to_numpy(dtype=bool)
    keep = t >= warmup_s
    if not keep.all():
        t, codes, latency, ok = t[keep], codes[keep], latency[keep], ok[keep]
    return (t - warmup_s if warmup_s else t), codes.astype(np.int64), latency, ok, labels


def _table(stats: dict[str, np.ndarray], seconds: np.ndarray | float) -> pd.DataFrame:
    table = pd.DataFrame({k: stats[k] for k in ("n", "ok", "errors", "error_rate")})
    with np.errstate(invalid="ignore", divide="ignore"):
        table["throughput_rps"] = stats["n"] / seconds
    for i, p in enumerate(PERCENTILES):
        table[f"p{p:g}_ms"] = stats["pct"][:, i]
    return table


def route_stats(
    frame: pd.DataFrame, *, warmup_s: float = 0.0, duration_s: float | None = None
) -> pd.DataFrame:
    """One row per route plus '(all)': counts, error rate, throughput, p50/p95/p99 (ms)."""
    t, codes, latency, ok, labels = _columns(frame, warmup_s)
    seconds = duration_s if duration_s else (float(t.max()) if t.size else np.nan)
    n_routes = len(labels)
    per_route = _table(_group_stats(codes, n_routes, latency, ok), seconds)
    overall = _table(_group_stats(np.zeros(t.size, np.int64), 1, latency, ok), seconds)
    table = pd.concat([per_route, overall], ignore_index=True)
    table.insert(0, "route", [*labels, ALL_ROUTES])
    return table.set_index("route")[STAT_COLUMNS]


def window_stats(frame: pd.DataFrame, window_s: float, *, warmup_s: float = 0.0) -> pd.DataFrame:
    """One row per (route, window) plus '(all)' per window; window_start_s counts from the end
    of the warm-up. Empty windows appear with n == 0 (and NaN percentiles)."""
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    t, codes, latency, ok, labels = _columns(frame, warmup_s)
    windows = (t / window_s).astype(np.int64)  # t >= 0: truncation is floor
    n_windows = int(windows.max()) + 1 if windows.size else 0
    n_routes = len(labels)
    per_route = _table(
        _group_stats(windows * n_routes + codes, n_windows * n_routes, latency, ok), window_s
    )
    per_route.insert(0, "window_start_s", np.repeat(np.arange(n_windows), n_routes) * window_s)
    per_route.insert(0, "route", np.tile(np.array(labels, dtype=object), n_windows))
    overall = _table(_group_stats(windows, n_windows, latency, ok), window_s)
    overall.insert(0, "window_start_s", np.arange(n_windows) * window_s)
    overall.insert(0, "route", ALL_ROUTES)
    table = pd.concat([per_route, overall], ignore_index=True)
    return table[["route", "window_start_s", *STAT_COLUMNS]]
