"""A least-squares trend per hour: the one slope behind every "memory usage stable" check."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def slope_per_hour(
    seconds: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
) -> tuple[float, float] | None:
    """(slope in value units per hour, fitted value at the first time) of `values` against
    `seconds`; None with fewer than two points or no time between them."""
    t = np.asarray(seconds, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.size < 2 or np.ptp(t) == 0:
        return None
    per_second, intercept = np.polyfit(t - t[0], v, 1)
    return float(per_second * 3600), float(intercept)
