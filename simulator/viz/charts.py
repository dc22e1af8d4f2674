"""Live time-series charts of one metric, one line per arm (twin mode overlays both arms)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: The charts on the page, in order, with what each one shows.
CHARTS = {
    "price": "Price: mean transaction price (gaps: no trade)",
    "volume": "Volume: trades per step",
    "trust": "Trust: mean market trust of active buyers",
    "churn": "Churn: switchers + leavers, share of buyers",
    "mean_seller_quality": "Mean true quality of sellers offering (0: none)",
}

#: Metrics that are shares, drawn on a fixed 0..1 axis so steps compare at a glance.
SHARES = ("trust", "churn")

ARM_COLOURS = ("tab:blue", "tab:orange")


def draw_metric(metric: str, series: list[tuple[str, pd.Series]],
                figure: Figure | None = None) -> Figure:
    """A line per (arm name, per-step values indexed by step)."""
    # A fixed layout: constrained layout would double the time each live frame takes.
    fig = figure or Figure(figsize=(5.2, 3.0))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.15)
    last_step = 1
    for i, (name, values) in enumerate(series):
        ax.plot(values.index, values.to_numpy(dtype=float), label=name, linewidth=1.6,
                marker="." if len(values) <= 60 else None, markersize=4,
                color=ARM_COLOURS[i % len(ARM_COLOURS)])
        if len(values):
            last_step = max(last_step, int(values.index[-1]))
    ax.set_xlim(0.5, max(last_step, 10) + 0.5)
    if metric in SHARES:
        ax.set_ylim(-0.02, 1.02)
    ax.set_title(CHARTS.get(metric, metric), fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="best")
    return fig
