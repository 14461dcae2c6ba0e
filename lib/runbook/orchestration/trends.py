"""The history page of an environment: each gated metric over the last finished runs (p95 per
route, error rate, deployment duration, check counts by status) against the limits each run's
saved parameters held, with releases (a new build) and rollbacks marked.

Everything is read from the runs' manifests: no run is re-executed and no run directory is
changed. A run that lacks a metric is a gap in its series, named under the figure, never an
error; a manifest that cannot be read is left out and named.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from runbook.core import evidence
from runbook.core.checks import STATUS_COLOURS, CheckResult, Status
from runbook.core.evidence_queries import MEASURED, as_number
from runbook.core.json_path import MISSING, lookup
from runbook.core.plots import MUTED, say_nothing_to_plot
from runbook.core.verdict import Verdict

DEFAULT_LAST = 20
TRENDS_FILE = "trends.html"
P95_PREFIX = "perf.p95."
ERROR_RATE_ID = "perf.error_rate"
DEPLOY_RECORD_ID = "deploy.record"
ROLLBACK_INITIATED_ID = "rollback.initiated"
DEPLOY_PHASE = "deploy"
P95_LIMIT_PATH = "performance.gates.p95_ms"
ERROR_RATE_LIMIT_PATH = "performance.gates.error_rate"
LIMIT_COLOUR, ROLLBACK_COLOUR, RELEASE_COLOUR, LINE_COLOUR = (
    "#bf8700",
    "#cf222e",
    "#0969da",
    "#1f2328",
)
VERDICT_COLOURS = {
    "GO": "#1a7f37",
    "NO-GO": "#cf222e",
    "INCOMPLETE": "#8250df",
    "ROLLBACK REQUIRED": "#cf222e",
}


class TrendsError(RuntimeError):
    """No page can be written (no finished run of the environment)."""


@dataclass
class Point:
    """One run's value of one metric (None: a gap, `gap` says why) and the limit it had."""

    value: float | None
    limit: float | None = None
    gap: str | None = None


@dataclass
class RunSummary:
    """What the trends page needs of one finished run, read from its manifest."""

    run_id: str
    path: Path
    started_at: str | None
    verdict: str
    build: str
    deployed_build: str | None
    rollback: str | None  # None, or why this run is marked as a rollback
    counts: dict[str, int]
    metrics: dict[str, Point] = field(default_factory=dict)
    limits: dict[str, float | None] = field(default_factory=dict)  # by metric kind
    release: bool = False  # a build different from the run before it (set by `load_history`)

    @property
    def label(self) -> str:
        """A short axis label: the time part of the run id and the build."""
        stamp = self.run_id.split("T", 1)[-1][:6]
        return f"{stamp[:2]}:{stamp[2:4]}:{stamp[4:6]}\n{self.build}"


@dataclass
class Metric:
    """A series: its key, a human title, its unit and how to read one run's point."""

    key: str
    title: str
    unit: str
    limit_text: str


@dataclass
class History:
    """The runs of the page (oldest first), the metrics drawn, and what was left out."""

    env: str
    outputs: Path
    runs: list[RunSummary]
    metrics: list[Metric]
    left_out: list[str] = field(default_factory=list)
    total_finished: int = 0


def _results(manifest: dict[str, Any]) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    for payload in manifest.get("results", []) or []:
        try:
            result = CheckResult.from_payload(dict(payload))
        except (ValueError, TypeError):
            continue
        out[result.id] = result
    return out


def _limit(parameters: Any, path: str) -> float | None:
    raw = lookup(parameters, path) if isinstance(parameters, dict) else MISSING
    return None if raw is MISSING else as_number(raw)


def _measured(result: CheckResult | None, path: str, what: str) -> Point:
    """The number at `path` of a result that measured something, or a gap saying why not."""
    if result is None:
        return Point(None, gap=f"no {what} result in this run")
    if result.status not in MEASURED:
        return Point(None, gap=f"{result.id} is {result.status.value}: nothing measured")
    raw = lookup(result.model_dump(mode="json"), path)
    number = None if raw is MISSING else as_number(raw)
    if number is None:
        return Point(None, gap=f"{result.id}: no number at '{path}'")
    return Point(number)


def _rollback_mark(verdict: str, results: dict[str, CheckResult]) -> str | None:
    initiated = results.get(ROLLBACK_INITIATED_ID)
    if initiated is not None and initiated.status is Status.PASS:
        return "rolled back" + (
            f" to {initiated.observed.get('restores')}"
            if isinstance(initiated.observed, dict) and initiated.observed.get("restores")
            else ""
        )
    if initiated is not None and initiated.status in {Status.FAIL, Status.ERROR}:
        return f"rollback attempted ({initiated.status.value})"
    if verdict == Verdict.ROLLBACK_REQUIRED.value:
        return "rollback required"
    return None


def _deployed_build(results: dict[str, CheckResult]) -> str | None:
    record = results.get(DEPLOY_RECORD_ID)
    if record is None or record.status is not Status.PASS or not isinstance(record.observed, dict):
        return None
    build = record.observed.get("build_id")
    return str(build) if build else None


def _deploy_duration(manifest: dict[str, Any]) -> Point:
    for phase in manifest.get("phases", []) or []:
        if phase.get("name") != DEPLOY_PHASE:
            continue
        if phase.get("status") != "completed":
            return Point(None, gap=f"deploy phase {phase.get('status')}")
        seconds = as_number(phase.get("duration_s"))
        return Point(seconds, gap=None if seconds is not None else "no duration recorded")
    return Point(None, gap="deploy phase not in this run")


def summarise(run_dir: Path, manifest: dict[str, Any]) -> RunSummary:
    """One run's page data from its manifest; a missing metric is a gap, never an error."""
    results = _results(manifest)
    parameters = manifest.get("parameters") or {}
    verdict = str(manifest.get("verdict") or "UNKNOWN")
    deployed = _deployed_build(results)
    declared = str(manifest.get("build_id") or "unknown")
    run = RunSummary(
        run_id=str(manifest.get("run_id") or run_dir.name),
        path=run_dir,
        started_at=manifest.get("started_at"),
        verdict=verdict,
        build=declared if deployed in (None, declared) else f"{declared} ({deployed})",
        deployed_build=deployed,
        rollback=_rollback_mark(verdict, results),
        counts=dict(Counter(r.status.value for r in results.values())),
    )
    p95_limit = _limit(parameters, P95_LIMIT_PATH)
    run.limits = {"p95": p95_limit, "error_rate": _limit(parameters, ERROR_RATE_LIMIT_PATH)}
    for result_id, result in results.items():
        if result_id.startswith(P95_PREFIX):
            point = _measured(result, "observed", "p95")
            point.limit = p95_limit
            run.metrics[f"p95:{result_id[len(P95_PREFIX) :]}"] = point
    error_rate = _measured(results.get(ERROR_RATE_ID), "observed.overall", ERROR_RATE_ID)
    error_rate.limit = _limit(parameters, ERROR_RATE_LIMIT_PATH)
    run.metrics["error_rate"] = error_rate
    run.metrics["deploy_duration_s"] = _deploy_duration(manifest)
    return run


def load_history(outputs: Path, env: str, last: int = DEFAULT_LAST) -> History:
    """The last `last` finished runs of `env`, oldest first; TrendsError when there is none."""
    env_dir = outputs / env
    if not env_dir.is_dir():
        raise TrendsError(f"no runs for environment {env!r} under {outputs} ({env_dir} is absent)")
    rows = evidence.list_runs(outputs, env)
    left_out: list[str] = []
    finished: list[tuple[Path, dict[str, Any]]] = []
    for row in rows:  # newest first
        run_dir = Path(row["path"])
        if row["verdict"] == "UNFINISHED":
            left_out.append(f"{row['run_id']}: unfinished (no manifest)")
            continue
        try:
            manifest = json.loads((run_dir / evidence.MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            left_out.append(f"{row['run_id']}: manifest unreadable ({exc})")
            continue
        if not isinstance(manifest, dict):
            left_out.append(f"{row['run_id']}: manifest is not an object")
            continue
        finished.append((run_dir, manifest))
    if not finished:
        more = f" ({'; '.join(left_out)})" if left_out else ""
        raise TrendsError(f"no finished runs for environment {env!r} under {outputs}{more}")
    chosen = list(reversed(finished[:last]))
    runs = [summarise(run_dir, manifest) for run_dir, manifest in chosen]
    for before, run in zip([None, *runs], runs, strict=False):
        run.release = before is None or before.build != run.build
    return History(
        env=env,
        outputs=outputs,
        runs=runs,
        metrics=_metrics(runs),
        left_out=left_out,
        total_finished=len(finished),
    )


def _metrics(runs: list[RunSummary]) -> list[Metric]:
    routes = sorted({k for r in runs for k in r.metrics if k.startswith("p95:")})
    out = [Metric(key, f"p95 {key[4:]}", "ms", f"< {P95_LIMIT_PATH}") for key in routes]
    out.append(
        Metric("error_rate", "error rate (all routes)", "share", f"< {ERROR_RATE_LIMIT_PATH}")
    )
    out.append(
        Metric(
            "deploy_duration_s",
            "deployment duration (deploy phase)",
            "s",
            "no limit: the checklist states none",
        )
    )
    return out


def point_of(run: RunSummary, metric: Metric) -> Point:
    """The run's point of a metric; a route this run did not measure is a gap."""
    point = run.metrics.get(metric.key)
    if point is not None:
        return point
    limit = run.limits.get(metric.key.split(":", 1)[0])
    return Point(None, limit, gap=f"{metric.title.split(' ', 1)[-1]} not measured in this run")


# -- figures ----------------------------------------------------------------------------------


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")


def _mark_events(ax: Axes, runs: list[RunSummary]) -> None:
    """Releases as dotted blue lines labelled with the build, rollbacks as red bands."""
    for i, run in enumerate(runs):
        if run.release:
            ax.axvline(i, color=RELEASE_COLOUR, linestyle=":", linewidth=1)
            ax.annotate(
                f"release {run.build}",
                (i, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color=RELEASE_COLOUR,
                rotation=90,
                va="top",
                ha="right",
            )
        if run.rollback:
            ax.axvspan(i - 0.4, i + 0.4, color=ROLLBACK_COLOUR, alpha=0.12, linewidth=0)


def _run_ticks(ax: Axes, runs: list[RunSummary]) -> None:
    ax.set_xticks(
        list(range(len(runs))),
        [r.label for r in runs],
        fontsize=7,
        rotation=30,
    )
    ax.set_xlim(-0.6, len(runs) - 0.4)


def metric_figure(history: History, metric: Metric) -> Figure:
    """The metric per run (gaps left open) against each run's limit, releases and rollbacks."""
    runs = history.runs
    points = [point_of(r, metric) for r in runs]
    fig = Figure(figsize=(max(8.0, 0.7 * len(runs) + 4), 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(f"{metric.title} ({metric.unit})", fontsize=10)
    if all(p.value is None for p in points):
        say_nothing_to_plot(ax, f"no run of these {len(runs)} measured it")
        return fig
    x = list(range(len(runs)))
    values = [float("nan") if p.value is None else p.value for p in points]
    ax.plot(x, values, color=LINE_COLOUR, label=f"{metric.title} (points: run verdict)")
    limits = [float("nan") if p.limit is None else p.limit for p in points]
    if any(p.limit is not None for p in points):
        ax.step(x, limits, where="mid", color=LIMIT_COLOUR, linestyle="--", label="limit")
        ax.plot(x, limits, linestyle="none", marker="_", markersize=14, color=LIMIT_COLOUR)
    for i, (run, p) in enumerate(zip(runs, points, strict=True)):
        if p.value is not None:  # each point in its run's verdict colour
            ax.plot([i], [p.value], marker="o", color=VERDICT_COLOURS.get(run.verdict, MUTED))
        if p.value is None:
            ax.annotate(
                "gap",
                (i, 0.02),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color=MUTED,
                ha="center",
            )
        elif p.limit is not None and p.value >= p.limit:
            ax.plot(
                [i], [p.value], marker="o", markersize=11, fillstyle="none", color=ROLLBACK_COLOUR
            )  # over its limit: ringed
    _mark_events(ax, runs)
    _run_ticks(ax, runs)
    ax.set_ylabel(metric.unit)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def counts_figure(history: History) -> Figure:
    """Check counts by status per run, stacked."""
    runs = history.runs
    fig = Figure(figsize=(max(8.0, 0.7 * len(runs) + 4), 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("checks by status", fontsize=10)
    x = list(range(len(runs)))
    bottom = [0.0] * len(runs)
    for status in Status:
        heights = [float(r.counts.get(status.value, 0)) for r in runs]
        if not any(heights):
            continue
        ax.bar(
            x,
            heights,
            bottom=bottom,
            color=STATUS_COLOURS.get(status, "#555"),
            label=status.value,
            width=0.6,
            hatch="//" if status is Status.PENDING_SIGN_OFF else None,  # inconclusive's colour
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    _mark_events(ax, runs)
    _run_ticks(ax, runs)
    ax.set_ylabel("checks")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    return fig


# -- the page ---------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.2%}"
    return f"{value:,.2f}"


def _relative_href(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _verdict_html(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#555")
    return f"<b style='color:{colour}'>{html.escape(verdict)}</b>"


def _run_rows(history: History, page: Path) -> str:
    e = html.escape
    rows = []
    for i, run in enumerate(history.runs):
        report = run.path / "report.html"
        link = (
            f"<a href='{e(_relative_href(report, page), quote=True)}'>{e(run.run_id)}</a>"
            if report.is_file()
            else e(run.run_id)
        )
        counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        deploy = run.metrics.get("deploy_duration_s") or Point(None)
        marks = [m for m in ("new release" if run.release else None, run.rollback) if m]
        rows.append(
            f"<tr class='run' data-run='{e(run.run_id)}'><td>{i + 1}</td><td>{link}</td>"
            f"<td>{e(str(run.started_at or '—'))}</td><td class='build'>{e(run.build)}</td>"
            f"<td class='verdict'>{_verdict_html(run.verdict)}</td>"
            f"<td>{e('; '.join(marks)) or '—'}</td><td>{_fmt(deploy.value, 's')}</td>"
            f"<td>{e(counts)}</td></tr>"
        )
    return "".join(rows)


def _metric_section(history: History, metric: Metric) -> str:
    e = html.escape
    rows = []
    gaps = []
    for run in history.runs:
        p = point_of(run, metric)
        state = (
            "gap"
            if p.value is None
            else ("no limit" if p.limit is None else ("within" if p.value < p.limit else "over"))
        )
        rows.append(
            f"<tr><td>{e(run.run_id)}</td><td>{e(run.build)}</td>"
            f"<td class='value'>{_fmt(p.value, metric.unit)}</td>"
            f"<td class='limit'>{_fmt(p.limit, metric.unit)}</td><td>{state}</td></tr>"
        )
        if p.gap:
            gaps.append(f"<li>{e(run.run_id)}: {e(p.gap)}</li>")
    gap_html = f"<p>Gaps:</p><ul class='gaps'>{''.join(gaps)}</ul>" if gaps else ""
    fig = _svg(metric_figure(history, metric))
    return (
        f"<section class='metric' id='metric-{e(metric.key, quote=True)}'>"
        f"<h2>{e(metric.title)} ({e(metric.unit)})</h2>"
        f"<p class='why'>limit: {e(metric.limit_text)}, as each run's saved parameters held it</p>"
        f"<img alt='{e(metric.title, quote=True)} per run' "
        f"src='data:image/svg+xml;base64,{fig}'>"
        f"<details><summary>values</summary><table><tr><th>run</th><th>build</th>"
        f"<th>value</th><th>limit</th><th></th></tr>{''.join(rows)}</table></details>"
        f"{gap_html}</section>"
    )


def page_data(history: History) -> dict[str, Any]:
    """The page's numbers as JSON (embedded in the page for tools and tests)."""
    return {
        "environment": history.env,
        "runs": [
            {
                "run_id": r.run_id,
                "started_at": r.started_at,
                "build": r.build,
                "verdict": r.verdict,
                "release": r.release,
                "rollback": r.rollback,
                "counts": r.counts,
            }
            for r in history.runs
        ],
        "series": {
            m.key: {
                "title": m.title,
                "unit": m.unit,
                "points": [
                    {"run_id": r.run_id, "value": p.value, "limit": p.limit, "gap": p.gap}
                    for r in history.runs
                    for p in [point_of(r, m)]
                ],
            }
            for m in history.metrics
        },
        "left_out": history.left_out,
    }


def render(history: History, page: Path) -> str:
    """The whole HTML page (links relative to where `page` is written)."""
    e = html.escape
    runs = history.runs
    span = f"{runs[0].run_id} … {runs[-1].run_id}" if len(runs) > 1 else runs[0].run_id
    left_out = (
        "<p>Left out:</p><ul>" + "".join(f"<li>{e(x)}</li>" for x in history.left_out) + "</ul>"
        if history.left_out
        else ""
    )
    sections = "".join(_metric_section(history, m) for m in history.metrics)
    counts_svg = _svg(counts_figure(history))
    data = json.dumps(page_data(history), default=str).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>PixCrawler runbook — {e(history.env)} — trends</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; }}
.why {{ color: #57606a; font-size: 12px; }}
img {{ max-width: 1000px; display: block; margin: 0.5em 0; }}
</style></head><body>
<h1>Trends — {e(history.env)}</h1>
<p>{len(runs)} of {history.total_finished} finished runs, oldest first: {e(span)}.
Releases (a build different from the run before) are dotted blue lines; rollbacks (a rollback
executed, or the verdict ROLLBACK REQUIRED) are red bands; a gap is a run that did not measure
the metric.</p>
{left_out}
<h2>Runs</h2>
<table><tr><th>#</th><th>run</th><th>started</th><th>build</th><th>verdict</th>
<th>release / rollback</th><th>deploy duration</th><th>checks</th></tr>
{_run_rows(history, page)}</table>
<section class='metric' id='metric-counts'><h2>Checks by status</h2>
<img alt='checks by status per run' src='data:image/svg+xml;base64,{counts_svg}'></section>
{sections}
<script type="application/json" id="trends-data">{data}</script>
</body></html>
"""


def write_trends(
    outputs: Path, env: str, *, last: int = DEFAULT_LAST, out: Path | None = None
) -> tuple[Path, History]:
    """Write the trends page (default outputs/<env>/trends.html); TrendsError without runs."""
    history = load_history(outputs, env, last)
    page = (out or outputs / env / TRENDS_FILE).resolve()
    evidence.write_evidence(page, render(history, page))
    return page, history
