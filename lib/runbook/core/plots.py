"""Shared pieces of the threshold plots: a figure that says why there is nothing to draw."""

from __future__ import annotations

from matplotlib.axes import Axes

MUTED = "#57606a"


def say_nothing_to_plot(ax: Axes, why: str) -> None:
    """Turn `ax` into a sentence saying why it holds no plot (a figure never raises)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"nothing to plot: {why}", ha="center", va="center", wrap=True,
            fontsize=10, color=MUTED, transform=ax.transAxes)  # fmt: skip
