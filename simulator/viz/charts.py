"""Live time-series charts of one metric, one line per arm (twin mode overlays both arms)."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..measures import axis_label, measure

#: The charts on the page, in order, with the title of each.
CHARTS = {
    "price": "Price: mean price paid this step (gaps: no trade)",
    "volume": "Volume: units traded this step",
    "trust": "Trust: mean market trust of the buyers still in the market",
    "churn": "Churn: buyers who switched seller or left, this step",
    "mean_seller_quality": "Quality on offer: mean true quality of sellers offering",
}

#: What each chart is for, in a line under it.
CAPTIONS = {
    "price": "What buyers pay. With hidden quality it follows what buyers expect on "
             "average, not what each seller offers.",
    "volume": "How much trade the market sustains; a market that unravels falls to zero.",
    "trust": "Buyers' confidence in the market, from 0 to 1: it rises after good "
             "purchases, falls after disappointments, and buyers below a threshold leave.",
    "churn": "Share of the buyers at the start of the step who bought from a different "
             "seller or left the market.",
    "mean_seller_quality": "Adverse selection shows here: when good sellers withdraw, the "
                           "quality still offered falls (0: nobody offers).",
}

ARM_COLOURS = ("tab:blue", "tab:orange")


def draw_metric(metric: str, series: list[tuple[str, pd.Series]],
                figure: Figure | None = None) -> Figure:
    """A line per (arm name, per-step values indexed by step)."""
    # A fixed layout: constrained layout would double the time each live frame takes.
    fig = figure or Figure(figsize=(5.2, 3.2))
    ax = fig.subplots()
    twin = len(series) > 1
    fig.subplots_adjust(left=0.14, right=0.97, top=0.8 if twin else 0.88, bottom=0.15)
    ax.set_title(CHARTS.get(metric, metric), fontsize=9, pad=16 if twin else 6)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel(axis_label(metric), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    _draw_lines(ax, metric, series)
    return fig


def _draw_lines(ax, metric: str, series: list[tuple[str, pd.Series]]) -> None:
    """The lines, the limits they call for and (twin) their legend."""
    last_step = 1
    for i, (name, values) in enumerate(series):
        ax.plot(values.index, values.to_numpy(dtype=float), label=name, linewidth=1.6,
                marker="." if len(values) <= 60 else None, markersize=4,
                color=ARM_COLOURS[i % len(ARM_COLOURS)])
        if len(values):
            last_step = max(last_step, int(values.index[-1]))
    ax.set_xlim(0.5, max(last_step, 10) + 0.5)
    low, high = measure(metric).low, measure(metric).high
    if math.isfinite(low) and math.isfinite(high):  # a share: a fixed axis compares steps
        pad = 0.02 * (high - low)
        ax.set_ylim(low - pad, high + pad)
    elif math.isfinite(low):
        ax.set_ylim(bottom=low)
    if len(series) > 1:  # above the plot, under the title: never on the lines
        ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(series),
                  frameon=False, borderaxespad=0.2)


class LiveChart:
    """A metric's chart kept from one step to the next: only its lines and limits change.

    Making the figure, axes, ticks and labels anew for every frame took about
    40% of the page's redraw; the picture is the same as `draw_metric`'s (a
    test holds the pixels equal).
    """

    def __init__(self, metric: str):
        self.metric = metric
        self.figure: Figure | None = None
        self._names: list[str] = []

    def draw(self, series: list[tuple[str, pd.Series]]) -> Figure:
        names = [name for name, _ in series]
        if self.figure is None or names != self._names:
            self.figure, self._names = draw_metric(self.metric, series), names
            return self.figure
        ax = self.figure.axes[0]
        for line in list(ax.lines):
            line.remove()
        ax.relim()   # forget the old lines' data, as a new axes would
        ax.set_autoscale_on(True)
        _draw_lines(ax, self.metric, series)
        return self.figure
