"""Live time-series charts of one metric, one line per arm (twin mode overlays both arms).

Drawn as SVG text (`svg.py`): a chart is the title, axes with ticks and grid,
a line per arm (broken where a step has no value) and, for two arms, a legend
above the plot.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..measures import axis_label, measure
from .svg import document, num, tick_labels
from .svg import text as svg_text

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

ARM_COLOURS = ("#1f77b4", "#ff7f0e")  # matplotlib's tab:blue and tab:orange

#: Pixel size of a chart, and the plot area's edges as shares of it (left, right, top, bottom).
WIDTH, HEIGHT = 520, 320
EDGES = (0.14, 0.97, 0.12, 0.85)
TWIN_TOP = 0.17  # room for the legend under the title

#: Markers on the lines up to this many steps.
MARKERS_UP_TO = 60

X_TICKS = MaxNLocator(nbins=9, integer=True)
Y_TICKS = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])


def x_limits(series: list[tuple[str, pd.Series]]) -> tuple[float, float]:
    """Steps 1 to the last one (at least 10), half a step of room at each end."""
    last = max([int(values.index[-1]) for _, values in series if len(values)], default=1)
    return 0.5, max(last, 10) + 0.5


def y_limits(metric: str, series: list[tuple[str, pd.Series]]) -> tuple[float, float]:
    """A share (bounded metric) gets its whole range, so steps compare; otherwise the
    data with 5% room (from the metric's floor when it has one)."""
    low, high = measure(metric).low, measure(metric).high
    if math.isfinite(low) and math.isfinite(high):
        pad = 0.02 * (high - low)
        return low - pad, high + pad
    values = np.concatenate([values.to_numpy(dtype=float) for _, values in series] or [[]])
    values = values[np.isfinite(values)]
    if len(values):
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
        bottom, top = lo - 0.05 * span, hi + 0.05 * span
    else:
        bottom, top = 0.0, 1.0
    if math.isfinite(low):
        bottom = low
        top = max(top, low + 1e-9)
    return bottom, top


def path_of(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data through the points, broken at every missing (NaN) value."""
    parts, pen_down = [], False
    for x, y in zip(xs, ys, strict=True):
        if not math.isfinite(y):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{num(x)} {num(y)}")
        pen_down = True
    return "".join(parts)


def draw_metric(metric: str, series: list[tuple[str, pd.Series]]) -> str:
    """The chart of `metric` as an SVG document: a line per (arm name, per-step values
    indexed by step)."""
    twin = len(series) > 1
    left, right, top, bottom = (EDGES[0] * WIDTH, EDGES[1] * WIDTH,
                                (TWIN_TOP if twin else EDGES[2]) * HEIGHT, EDGES[3] * HEIGHT)
    x0, x1 = x_limits(series)
    y0, y1 = y_limits(metric, series)

    def px(x):
        return left + (np.asarray(x, dtype=float) - x0) / (x1 - x0) * (right - left)

    def py(y):
        return bottom - (np.asarray(y, dtype=float) - y0) / (y1 - y0) * (bottom - top)

    body = [svg_text(WIDTH / 2, 17, CHARTS.get(metric, metric), 12.5, "middle")]
    xticks = [t for t in X_TICKS.tick_values(x0, x1) if x0 <= t <= x1]
    yticks = np.array([t for t in Y_TICKS.tick_values(y0, y1)
                       if y0 - 1e-9 * abs(y1 - y0) <= t <= y1 + 1e-9 * abs(y1 - y0)])
    grid, ticks = [], []
    for t, label in zip(xticks, tick_labels(np.array(xticks, dtype=float)), strict=True):
        x = float(px(t))
        grid.append(f"M{num(x)} {num(top)}V{num(bottom)}")
        ticks.append(f"M{num(x)} {num(bottom)}v3.5")
        body.append(svg_text(x, bottom + 5.5, label, 11, "middle", "hanging"))
    for t, label in zip(yticks, tick_labels(yticks), strict=True):
        y = float(py(t))
        grid.append(f"M{num(left)} {num(y)}H{num(right)}")
        ticks.append(f"M{num(left)} {num(y)}h-3.5")
        body.append(svg_text(left - 5.5, y, label, 11, "end", "middle"))
    body.append(f'<path d="{"".join(grid)}" stroke="#b0b0b0" stroke-opacity="0.3" '
                f'stroke-width="1.1"/>')
    body.append(f'<path d="{"".join(ticks)}" stroke="black" stroke-width="1.1"/>')
    body.append(svg_text(WIDTH / 2, bottom + 34, "step", 11, "middle"))
    mid = (top + bottom) / 2
    body.append(svg_text(14, mid, axis_label(metric), 11, "middle", "middle",
                         f' transform="rotate(-90 14 {num(mid)})"'))

    body.append(f'<clipPath id="plot"><rect x="{num(left)}" y="{num(top)}" '
                f'width="{num(right - left)}" height="{num(bottom - top)}"/></clipPath>')
    lines = []
    for i, (name, values) in enumerate(series):
        hue = ARM_COLOURS[i % len(ARM_COLOURS)]
        xs, ys = px(values.index.to_numpy()), py(values.to_numpy(dtype=float))
        lines.append(f'<path class="arm" data-arm="{escape(name)}" d="{path_of(xs, ys)}" fill="none" '
                     f'stroke="{hue}" stroke-width="2.2" stroke-linejoin="round"/>')
        if len(values) <= MARKERS_UP_TO:
            lines.append(f'<g fill="{hue}">' + "".join(
                f'<circle cx="{num(x)}" cy="{num(y)}" r="2.1"/>'
                for x, y in zip(xs, ys, strict=True) if math.isfinite(y)) + "</g>")
    body.append(f'<g clip-path="url(#plot)">{"".join(lines)}</g>')
    body.append(f'<rect x="{num(left)}" y="{num(top)}" width="{num(right - left)}" '
                f'height="{num(bottom - top)}" fill="none" stroke="black" stroke-width="1.1"/>')
    if twin:  # above the plot, under the title: never on the lines
        body.append(_legend([name for name, _ in series], top - 11))
    return document(WIDTH, HEIGHT, body)


def _legend(names: list[str], y: float) -> str:
    """A line sample and the name of each arm, in a row centred over the plot."""
    widths = [34 + 6.5 * len(name) for name in names]  # sample, gap, about 6.5 px a letter
    x = (WIDTH - sum(widths)) / 2
    parts = ['<g class="legend">']
    for i, (name, width) in enumerate(zip(names, widths, strict=True)):
        hue = ARM_COLOURS[i % len(ARM_COLOURS)]
        parts.append(f'<path d="M{num(x)} {num(y)}h20" stroke="{hue}" stroke-width="2.2"/>'
                     f'<circle cx="{num(x + 10)}" cy="{num(y)}" r="2.1" fill="{hue}"/>')
        parts.append(svg_text(x + 26, y, name, 11, "start", "middle"))
        x += width
    parts.append("</g>")
    return "".join(parts)

