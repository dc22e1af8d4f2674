"""Panels placed by margins measured once, instead of matplotlib's constrained layout.

Constrained layout finds room for every title and label by measuring every
text of every panel twice before the figure is drawn: about 1 s of the 2.3 s
that `metrics.png` (13 panels) took, for margins that are nearly the same
from one figure to the next. Here the vertical room (suptitle, panel titles,
x tick labels and x labels, a legend below) is fixed in inches, and the one
margin that depends on the data, the width of the y tick labels, is measured
from the labels the panels will draw: one string per panel.
"""

from __future__ import annotations

import numpy as np

#: Room around a panel's y tick labels (inches): ticks and their pad (7 pt), a y label in
#: the small font with its pad, and a gap to whatever is on the left.
TICKS = 7 / 72
Y_LABEL = 0.2
GAP = 0.1
#: Height (inches) of an x tick label's line: DejaVu Sans' ascent plus descent, 1 em of 10 pt.
X_TICK_LABEL = 10 / 72


def panel_grid(fig, rows: int, columns: int, *, count: int | None = None, top: float = 0.58,
               bottom: float = 0.8, right: float = 0.15, hgap: float = 0.58,
               **subplots) -> np.ndarray:
    """A `rows` x `columns` array of panels, `top`, `bottom` and `right` inches from the
    figure's edges and `hgap` inches apart (room for a suptitle, panel titles, x tick
    labels and x labels, and a legend below). With `count`, only the first `count` panels
    (row by row) are made and the rest of the array is None: a panel costs about 20 ms to
    make even hidden. Plot, then call `fit_y_labels`."""
    width, height = fig.get_size_inches()
    left, wgap = 0.75, 0.85  # until fit_y_labels measures them
    panel_w = (width - left - right - (columns - 1) * wgap) / columns
    panel_h = (height - top - bottom - (rows - 1) * hgap) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wgap / panel_w, hspace=hgap / panel_h)
    if count is None:
        return fig.subplots(rows, columns, squeeze=False, **subplots)
    spec = fig.add_gridspec(rows, columns)
    axes = np.full((rows, columns), None, dtype=object)
    for i in range(count):
        axes[divmod(i, columns)] = fig.add_subplot(spec[divmod(i, columns)], **subplots)
    return axes


def fit_y_labels(fig, axes: np.ndarray) -> None:
    """Set the left margin, and the gap between columns, to the room the widest y tick
    labels and y labels of the panels need (`axes`: the grid from `panel_grid`), and pin
    the axis labels next to the tick labels.

    Pinned, the labels need no measuring at draw time: matplotlib would otherwise compute
    every tick label's box once more for each axis to place its label.
    """
    rows, columns = axes.shape
    labels = np.zeros(axes.shape)
    panels = [(at, ax) for at, ax in np.ndenumerate(axes) if ax is not None]
    for at, ax in panels:
        if ax.get_visible() and ax.yaxis.get_tick_params()["labelleft"]:
            labels[at] = _widest_label(ax.yaxis)  # 0 for inner panels sharing y
    need = labels.max(axis=0) + TICKS + GAP
    need += [Y_LABEL if any(ax is not None and ax.get_ylabel() for ax in axes[:, c]) else 0.0
             for c in range(columns)]
    width, height = fig.get_size_inches()
    params = fig.subplotpars
    left = need[0]
    wgap = need[1:].max(initial=0.0)
    panel_w = (width * params.right - left - (columns - 1) * wgap) / columns
    fig.subplots_adjust(left=left / width, wspace=wgap / panel_w)
    panel_h = height * (params.top - params.bottom) / (rows + (rows - 1) * params.hspace)
    for at, ax in panels:
        pad = ax.yaxis.labelpad / 72
        ax.yaxis.set_label_coords(-(TICKS + labels[at] + pad) / panel_w, 0.5)
        ax.xaxis.set_label_coords(0.5, -(TICKS + X_TICK_LABEL + pad) / panel_h)


def _widest_label(axis) -> float:
    """Width (inches) of the widest major tick label `axis` will draw at its current limits."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    locs = [x for x in axis.get_majorticklocs() if low - slack <= x <= high + slack]
    labels = axis.get_major_formatter().format_ticks(locs)
    if not labels:
        return 0.0
    longest = max(len(s) for s in labels)
    prop = FontProperties(size=rcParams["ytick.labelsize"])
    widths = [text_to_path.get_text_width_height_descent(s, prop, ismath="$" in s)[0]
              for s in labels if len(s) == longest]
    return max(widths) / 72
