"""Checks of the performance phase: latency and error gates of a load run, the rollback lines,
the probe's own health, the database timing and the memory slope."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import pandas as pd

from runbook.core.checks import CheckResult, Status
from runbook.core.json_path import MISSING, lookup
from runbook.core.trend import slope_per_hour
from runbook.phases.performance.params import PerfGates, PerformanceParams
from runbook.phases.performance.probe import LoadResult
from runbook.phases.performance.stats import ALL_ROUTES, route_stats, window_stats
from runbook.providers.http import exchange

SECTION_PERF = "Deployment Steps §2.4 Performance Tests (Staging)"
SECTION_MONITOR = "Deployment Steps §3.4 Monitor Production (First 24 Hours)"
SECTION_ROLLBACK = "Rollback Procedures — When to Rollback"
SKIPPED_ROUTES = "skipped_routes"  # LoadResult.probe key: route label -> why it was not loaded


def _num(value: Any, digits: int = 2) -> float | None:
    """A JSON-able rounded float (None for NaN / missing)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def _route_row(row: pd.Series) -> dict[str, Any]:
    return {
        "n": int(row["n"]), "ok": int(row["ok"]), "errors": int(row["errors"]),
        "error_rate": _num(row["error_rate"], 5), "throughput_rps": _num(row["throughput_rps"]),
        "p50_ms": _num(row["p50_ms"]), "p95_ms": _num(row["p95_ms"]), "p99_ms": _num(row["p99_ms"]),
    }  # fmt: skip


def _probe_problem(result: LoadResult, params: PerformanceParams) -> str | None:
    """Why this run's latencies cannot be trusted, or None."""
    if result.failures:
        return "the probe did not run cleanly: " + "; ".join(result.failures)
    busiest = result.max_worker_cpu()
    if busiest is None:
        return "no probe worker reported its CPU use"
    if busiest > params.max_worker_cpu:
        return (
            f"the probe itself was saturated: a worker used {busiest:.0%} of a core (limit "
            f"{params.max_worker_cpu:.0%}); its latencies would measure the probe, not the server"
        )
    return None


def load_checks(result: LoadResult, params: PerformanceParams) -> list[CheckResult]:
    """Probe health, p95 per route, error rate, and the rollback lines, for one load run;
    a route the run could not load (no token) has an INCONCLUSIVE p95 saying why."""
    skipped: dict[str, str] = dict(result.probe.get(SKIPPED_ROUTES) or {})
    if not result.routes:
        return _not_loaded_checks(result, params, skipped)
    checks = _load_checks(result, params)
    if skipped:
        note = "; not loaded: " + ", ".join(skipped)
        checks = [
            c
            if c.id.startswith("perf.p95.")
            else c.model_copy(
                update={
                    "explanation": c.explanation + note,
                    "evidence": {**c.evidence, SKIPPED_ROUTES: skipped},
                }
            )
            for c in checks
        ]
        checks += [_skipped_p95(route, why, params.gates) for route, why in skipped.items()]
    return checks


def _skipped_p95(route: str, why: str, gates: PerfGates) -> CheckResult:
    return CheckResult(
        id=f"perf.p95.{route}",
        section=f"{SECTION_PERF}; {SECTION_MONITOR}",
        title=f"API response time p95 < {gates.p95_ms:g} ms — {route}",
        status=Status.INCONCLUSIVE,
        threshold=f"< {gates.p95_ms:g} ms",
        explanation=f"{route} not loaded: {why}",
        evidence={"route": route, "reason": why},
    )


def _not_loaded_checks(
    result: LoadResult, params: PerformanceParams, skipped: dict[str, str]
) -> list[CheckResult]:
    """No route could be loaded: every check says why, none passes."""
    why = "; ".join(sorted(set(skipped.values()))) or "no route was loaded"
    gates = params.gates
    evidence = {"base_url": result.base_url, SKIPPED_ROUTES: skipped}
    common: dict[str, Any] = {
        "status": Status.INCONCLUSIVE,
        "evidence": evidence,
        "explanation": f"no load was run: every route {why}",
    }
    return [
        CheckResult(
            id="perf.probe",
            section=SECTION_PERF,
            title="The load probe measured the server, not itself",
            **common,
        ),
        *[_skipped_p95(route, reason, gates) for route, reason in skipped.items()],
        CheckResult(
            id="perf.error_rate",
            section=f"{SECTION_MONITOR}; {SECTION_PERF}",
            title=f"Error rate < {gates.error_rate:.0%}",
            threshold=f"< {gates.error_rate:.0%} overall and per route",
            **common,
        ),
        CheckResult(
            id="perf.rollback_lines",
            section=SECTION_ROLLBACK,
            title=f"Not in rollback territory (p95 ≤ {gates.rollback_p95_ms:g} ms, "
            f"errors ≤ {gates.rollback_error_rate:.0%})",
            **common,
        ),
    ]


def _load_checks(result: LoadResult, params: PerformanceParams) -> list[CheckResult]:
    gates = params.gates
    measured = result.measured
    table = route_stats(result.frame, warmup_s=result.warmup_s, duration_s=result.duration_s)
    rows = {route: _route_row(table.loc[route]) for route in table.index}
    windows = window_stats(result.frame, result.window_s, warmup_s=result.warmup_s)
    worst_window = windows[windows["route"] == ALL_ROUTES]["p95_ms"].max()
    transport_errors = measured["error"][measured["status"] == 0].value_counts().head(5)
    base_evidence = {
        "base_url": result.base_url, "concurrency": result.concurrency,
        "workers": result.workers, "duration_s": result.duration_s,
        "warmup_s": result.warmup_s, "rate_per_s": result.rate_per_s,
        "started_at": result.started_at, "probe": result.probe,
        "samples_measured": len(measured),
    }  # fmt: skip
    problem = _probe_problem(result, params)  # latencies untrustworthy
    no_data = None  # nothing at all to judge an error rate on
    responded = int((measured["status"] > 0).sum())
    if result.failures:
        no_data = problem
    elif len(measured) == 0:
        no_data = "no request was sent in the measured period"
    elif responded == 0:
        reasons = ", ".join(f"{k} ×{v}" for k, v in transport_errors.items()) or "none"
        no_data = f"the target never answered ({len(measured)} requests; errors: {reasons})"
    problem = problem or no_data

    checks = [_probe_check(result, params, problem, base_evidence)]
    for route in result.routes:
        checks.append(_p95_check(route, rows[route], gates, problem, base_evidence))
    checks.append(
        _error_check(rows, result.routes, gates, no_data, transport_errors, base_evidence)
    )
    checks.append(_rollback_check(rows, gates, problem, no_data, _num(worst_window), base_evidence))
    return checks


def _probe_check(
    result: LoadResult, params: PerformanceParams, problem: str | None, evidence: dict[str, Any]
) -> CheckResult:
    busiest = result.max_worker_cpu()
    return CheckResult(
        id="perf.probe", section=SECTION_PERF,
        title="The load probe measured the server, not itself",
        status=Status.ERROR if problem else Status.PASS,
        observed={"max_worker_cpu_share": busiest,
                  "machine_busy_share": result.probe.get("machine_busy_share")},
        threshold=f"each worker ≤ {params.max_worker_cpu:.0%} of a core",
        explanation=problem or (
            f"{result.workers} worker(s), busiest at {busiest:.0%} of a core; "
            f"{len(result.measured)} requests measured"),
        evidence=evidence,
    )  # fmt: skip


def _p95_check(
    route: str, row: dict[str, Any], gates: PerfGates, problem: str | None, evidence: dict[str, Any]
) -> CheckResult:
    p95 = row["p95_ms"]
    if problem:
        status, why = Status.ERROR, f"no p95 reported: {problem}"
    elif row["ok"] == 0:
        status = Status.INCONCLUSIVE
        why = f"{route}: no successful response among {row['n']} requests, so no latency to judge"
    elif p95 is not None and p95 < gates.p95_ms:
        status, why = Status.PASS, f"{route}: p95 {p95:.1f} ms over {row['ok']} responses"
    else:
        status = Status.FAIL
        why = f"{route}: p95 {p95:.1f} ms is not below {gates.p95_ms:g} ms"
        if p95 is not None and p95 > gates.rollback_p95_ms:
            why += f" and is above the rollback line {gates.rollback_p95_ms:g} ms"
    return CheckResult(
        id=f"perf.p95.{route}", section=f"{SECTION_PERF}; {SECTION_MONITOR}",
        title=f"API response time p95 < {gates.p95_ms:g} ms — {route}",
        status=status, observed=None if problem else p95, threshold=f"< {gates.p95_ms:g} ms",
        explanation=why, evidence={**evidence, "route": route, "stats": row},
    )  # fmt: skip


def _error_check(
    rows: dict[str, dict[str, Any]],
    routes: list[str],
    gates: PerfGates,
    no_data: str | None,
    transport: pd.Series,
    evidence: dict[str, Any],
) -> CheckResult:
    overall = rows[ALL_ROUTES]["error_rate"]
    above = [r for r in routes if (rows[r]["error_rate"] or 0) >= gates.error_rate]
    if no_data or overall is None:
        status, why = Status.ERROR, no_data or "no request in the measured period"
    elif above or overall >= gates.error_rate:
        status = Status.FAIL
        why = f"error rate {overall:.2%} overall; at or above {gates.error_rate:.0%}: " + (
            ", ".join(f"{r} {rows[r]['error_rate']:.2%}" for r in above) or "overall"
        )
    else:
        status, why = Status.PASS, f"error rate {overall:.2%} over {rows[ALL_ROUTES]['n']} requests"
    return CheckResult(
        id="perf.error_rate", section=f"{SECTION_MONITOR}; {SECTION_PERF}",
        title=f"Error rate < {gates.error_rate:.0%}",
        status=status,
        observed={"overall": overall, **{r: rows[r]["error_rate"] for r in routes}},
        threshold=f"< {gates.error_rate:.0%} overall and per route",
        explanation=why,
        evidence={**evidence, "routes": rows,
                  "transport_errors": {str(k): int(v) for k, v in transport.items()}},
    )  # fmt: skip


def _rollback_check(
    rows: dict[str, dict[str, Any]],
    gates: PerfGates,
    problem: str | None,
    no_data: str | None,
    worst_window_p95: float | None,
    evidence: dict[str, Any],
) -> CheckResult:
    overall = rows[ALL_ROUTES]
    worst_p95 = max((r["p95_ms"] for r in rows.values() if r["p95_ms"] is not None), default=None)
    observed = {
        "worst_route_p95_ms": worst_p95,
        "worst_window_p95_ms": worst_window_p95,
        "error_rate": overall["error_rate"],
    }
    crossed = []
    if worst_p95 is not None and worst_p95 > gates.rollback_p95_ms:
        crossed.append(f"p95 {worst_p95:.0f} ms > {gates.rollback_p95_ms:g} ms")
    if overall["error_rate"] is not None and overall["error_rate"] > gates.rollback_error_rate:
        crossed.append(f"error rate {overall['error_rate']:.1%} > {gates.rollback_error_rate:.0%}")
    if no_data:
        status, why = Status.ERROR, f"cannot tell: {no_data}"
    elif crossed:
        status, why = Status.FAIL, "rollback line crossed: " + "; ".join(crossed)
    elif problem:
        status, why = Status.ERROR, f"cannot tell: {problem}"
    else:
        status, why = Status.PASS, "below both rollback lines"
    return CheckResult(
        id="perf.rollback_lines", section=SECTION_ROLLBACK,
        title=f"Not in rollback territory (p95 ≤ {gates.rollback_p95_ms:g} ms, "
              f"errors ≤ {gates.rollback_error_rate:.0%})",
        status=status, observed=observed,
        threshold={"p95_ms": gates.rollback_p95_ms, "error_rate": gates.rollback_error_rate},
        explanation=why, evidence={**evidence, "routes": rows},
    )  # fmt: skip


# -- database timing ---------------------------------------------------------------------------
def _dig(body: Any, dotted: str) -> Any:
    value = lookup(body, dotted)
    return None if value is MISSING else value


def _reason(body: Any, fields: Sequence[str]) -> str | None:
    for dotted in fields:
        value = _dig(body, dotted)
        if value not in (None, ""):
            return str(value)
    return None


def database_time_check(
    base_url: str,
    detailed_health_path: str | None,
    *,
    headers: dict[str, str] | None = None,
    field: str = "database.response_time_ms",
    limit_ms: float = 100.0,
    samples: int = 5,
    timeout_s: float = 5.0,
    status_field: str | None = "database.status",
    unhealthy_values: Sequence[str] = ("unhealthy", "degraded"),
    reason_fields: Sequence[str] = ("database.error", "database.message", "database.detail"),
) -> CheckResult:
    """Database time from the detailed health (worst of `samples` reads) < limit_ms; a database
    the body reports unhealthy (whatever the HTTP status) FAILS quoting the target's reason;
    only a body that says nothing about the database is INCONCLUSIVE."""
    common: dict[str, Any] = {
              "id": "perf.database_time", "section": f"{SECTION_PERF}; {SECTION_MONITOR}",
              "title": f"Database query time < {limit_ms:g} ms",
              "threshold": f"< {limit_ms:g} ms"}  # fmt: skip
    if not detailed_health_path:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation="no detailed health path configured (parameter detailed_health_path)",
        )
    url = base_url.rstrip("/") + detailed_health_path
    values: list[float] = []
    reads: list[dict[str, Any]] = []
    with httpx.Client(timeout=timeout_s) as client:
        for _ in range(samples):
            ex = exchange(client, "GET", url, headers=headers)
            state = _dig(ex.json, status_field) if status_field else None
            value = _dig(ex.json, field) if ex.status == 200 else None
            reads.append(
                {
                    "status": ex.status,
                    "error": ex.error,
                    "value": value,
                    "database_status": state,
                    "elapsed_ms": None if ex.elapsed_ms is None else round(ex.elapsed_ms, 2),
                }
            )
            if ex.ok and isinstance(state, str) and state in unhealthy_values:
                why = _reason(ex.json, reason_fields) or "the target gives no reason"
                return CheckResult(
                    **common,
                    status=Status.FAIL,
                    observed={"database": state},
                    explanation=f"GET {detailed_health_path} reports the database {state}: {why}",
                    evidence={"url": url, "reads": reads, "body_excerpt": ex.body_text[:2000]},
                )
            if ex.error or ex.status != 200:
                return CheckResult(
                    **common,
                    status=Status.ERROR,
                    explanation=f"GET {detailed_health_path}: "
                    f"{ex.error or f'answered {ex.status}'}",
                    evidence={"url": url, "reads": reads, "last": ex.evidence()},
                )
            if not isinstance(value, int | float) or isinstance(value, bool):
                said = (
                    f"reports the database {state!r} but has no number at '{field}'"
                    if state is not None
                    else f"says nothing about the database (no '{field}'"
                    + (f", no '{status_field}')" if status_field else ")")
                )
                return CheckResult(
                    **common,
                    status=Status.INCONCLUSIVE,
                    explanation=f"the detailed health {said}",
                    evidence={"url": url, "reads": reads, "body_excerpt": ex.body_text[:2000]},
                )
            values.append(float(value))
    worst = max(values)
    status = Status.PASS if worst < limit_ms else Status.FAIL
    return CheckResult(
        **common, status=status, observed=round(worst, 3),
        explanation=f"worst of {len(values)} reads of '{field}': {worst:.3f} ms "
                    f"(median {float(np.median(values)):.3f} ms)",
        evidence={"url": url, "field": field, "reads": reads},
    )  # fmt: skip


# -- memory slope ------------------------------------------------------------------------------
def memory_slope_check(
    samples: pd.DataFrame | Sequence[tuple[float, float]] | None,
    *,
    source: str | None = None,
    max_slope_mb_per_h: float = 20.0,
    min_span_s: float = 3600.0,
    min_points: int = 6,
) -> CheckResult:
    """Least-squares slope of memory (MiB) over time (s); FAIL above max_slope_mb_per_h.

    samples: a DataFrame with columns t_s and memory_mb (or pairs (t_s, memory_mb));
    source names where they come from; neither samples nor a source means SKIP."""
    common: dict[str, Any] = {
        "id": "perf.memory_slope",
        "section": f"{SECTION_PERF}; {SECTION_MONITOR}",
        "title": "No memory leaks (memory slope)",
        "threshold": f"≤ {max_slope_mb_per_h:g} MiB/h over ≥ {min_span_s:g} s",
    }
    if samples is None and not source:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation="no memory source configured (parameter memory_source)",
        )
    source = source or "caller-supplied series"
    if samples is None:
        return CheckResult(
            **common,
            status=Status.ERROR,
            explanation=f"memory source {source!r} is configured but gave no series",
            evidence={"source": source},
        )
    frame = (
        samples
        if isinstance(samples, pd.DataFrame)
        else pd.DataFrame(list(samples), columns=["t_s", "memory_mb"])
    )
    frame = frame[["t_s", "memory_mb"]].dropna().sort_values("t_s")
    t = frame["t_s"].to_numpy(dtype=float)
    mb = frame["memory_mb"].to_numpy(dtype=float)
    span = float(t[-1] - t[0]) if t.size else 0.0
    evidence: dict[str, Any] = {"source": source, "points": int(t.size), "span_s": span}
    if t.size < min_points or span < min_span_s:
        return CheckResult(
            **common,
            status=Status.INCONCLUSIVE,
            evidence=evidence,
            explanation=f"{t.size} points over {span:.0f} s: need ≥ {min_points} points "
            f"over ≥ {min_span_s:g} s",
        )
    slope, intercept = slope_per_hour(t, mb) or (0.0, float(mb[0]))
    fitted = intercept + slope / 3600 * (t - t[0])
    ss_res, ss_tot = float(((mb - fitted) ** 2).sum()), float(((mb - mb.mean()) ** 2).sum())
    evidence.update({
        "slope_mb_per_h": round(slope, 4), "intercept_mb": round(float(intercept), 3),
        "r2": round(1 - ss_res / ss_tot, 4) if ss_tot > 0 else None,
        "first_mb": float(mb[0]), "last_mb": float(mb[-1]), "max_mb": float(mb.max()),
        "series": [[float(a), float(b)] for a, b in zip(t[:500], mb[:500], strict=True)],
    })  # fmt: skip
    status = Status.FAIL if slope > max_slope_mb_per_h else Status.PASS
    verb = "grows" if slope > 0 else "changes"
    return CheckResult(
        **common,
        status=status,
        observed=round(slope, 3),
        evidence=evidence,
        explanation=f"memory {verb} {slope:+.2f} MiB/h over {span / 3600:.2f} h "
        f"({t.size} points, {source})",
    )
