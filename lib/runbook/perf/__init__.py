"""Performance phase (checklist §2.4 Performance Tests, §3.4 Monitor Production): a load probe
that measures the server and not itself, vectorized window statistics, gate checks, figures.

Exports load lazily so the probe's worker processes (`runbook.perf.worker`) start without
pandas or matplotlib.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "LoadResult": "runbook.perf.probe",
    "PerfGates": "runbook.perf.params",
    "PerformanceParams": "runbook.perf.params",
    "RouteSpec": "runbook.perf.params",
    "database_time_check": "runbook.perf.verdicts",
    "error_rate_figure": "runbook.perf.figures",
    "latency_figure": "runbook.perf.figures",
    "load_checks": "runbook.perf.verdicts",
    "memory_slope_check": "runbook.perf.verdicts",
    "route_stats": "runbook.perf.stats",
    "run_load": "runbook.perf.probe",
    "run_target_load": "runbook.perf.target",
    "database_check": "runbook.perf.target",
    "memory_check": "runbook.perf.target",
    "window_stats": "runbook.perf.stats",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
