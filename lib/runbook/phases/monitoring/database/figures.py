"""The connection pool during the load, against the pool line and the usable slots."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from runbook.core.plots import say_nothing_to_plot
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.database.pool_window import series_of

LINE_COLOUR, FULL_COLOUR = "#bf8700", "#cf222e"


def pool_figure(source: Any, params: DatabaseParams | None) -> Figure:
    """Client connections per reading over the load (refused readings marked), with the
    `pool_usage_max_pct` line and the usable slots; says why when there is nothing to draw."""
    series = series_of(source)
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Connection pool during the load", fontsize=10)
    read = [r for r in series.readings if r.connections is not None] if series else []
    if params is None or series is None or not series.readings:
        why = (
            "no 'database' section"
            if params is None
            else (series.error if series is not None and series.error else "no pool readings")
        )
        say_nothing_to_plot(ax, why)
        return fig
    ax.plot(
        [r.t_s for r in read],
        [float(r.connections or 0) for r in read],
        marker=".",
        label="client connections",
    )
    refused = [r.t_s for r in series.readings if r.connections is None and r.exhausted]
    if refused:
        ax.scatter(
            refused,
            [series.usable or 0] * len(refused),
            marker="x",
            color=FULL_COLOUR,
            label="connection refused (pool full)",
            zorder=3,
        )
    usable = series.usable
    if usable:
        ax.axhline(usable, color=FULL_COLOUR, linestyle="--", label=f"usable slots ({usable})")
        line = usable * params.pool_usage_max_pct / 100
        ax.axhline(
            line, color=LINE_COLOUR, linestyle=":", label=f"{params.pool_usage_max_pct:g} % line"
        )
    if series.warmup_s:
        ax.axvspan(0, series.warmup_s, color="#d0d7de", alpha=0.4, label="warm-up")
    ax.set_xlabel(f"seconds since the load began (a reading every {series.interval_s:g} s)")
    ax.set_ylabel("connections")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig
