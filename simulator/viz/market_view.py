"""Who trades with whom this step: sellers on top, buyers below, a line per purchase.

Sellers are sorted by true quality (and coloured by it), so adverse selection
shows as the right-hand, high-quality end going hollow (not offering) while
the lines crowd to the left. Buyers are coloured by trust and sorted by the
seller they bought from, so the lines fan in instead of crossing. Beyond a few
hundred agents one mark stands for a run of neighbours (mean colour, summed
sales, line width = purchases), so the picture stays readable at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

#: Most marks drawn per row; more agents than this are grouped into runs.
MAX_SELLER_MARKS = 150
MAX_BUYER_MARKS = 300

QUALITY_CMAP = "viridis"
TRUST_CMAP = "RdYlGn"


@dataclass
class Marks:
    """What to draw: one entry per mark (an agent, or a run of neighbouring agents)."""

    seller_quality: np.ndarray  # mean true quality
    seller_sales: np.ndarray  # units sold this step
    seller_offering: np.ndarray  # share of the mark's sellers offering this step
    seller_count: np.ndarray  # sellers in the mark
    buyer_trust: np.ndarray  # mean market trust
    buyer_count: np.ndarray  # buyers in the mark
    links: np.ndarray  # rows of (buyer mark, seller mark, purchases)
    buyers_gone: int  # buyers that left the market
    sellers_gone: int  # sellers that left the market


def market_marks(snapshot: dict[str, np.ndarray], max_sellers: int = MAX_SELLER_MARKS,
                 max_buyers: int = MAX_BUYER_MARKS) -> Marks:
    """Group a `MarketModel.snapshot()` into at most max_sellers + max_buyers marks."""
    quality = snapshot["seller_quality"]
    sales = snapshot["seller_sales"]
    # A seller that sold and then exited this step still appears, with its buyers.
    shown = snapshot["seller_in_market"] | (sales > 0)
    seller_rows = np.flatnonzero(shown)
    seller_rows = seller_rows[np.argsort(quality[seller_rows], kind="stable")]
    seller_groups = _runs(len(seller_rows), max_sellers)
    mark_of_seller = np.full(len(quality), -1, dtype=np.int64)
    mark_of_seller[seller_rows] = seller_groups

    active = np.flatnonzero(snapshot["buyer_active"])
    bought = snapshot["buyer_seller"][active]
    seller_mark = np.where(bought >= 0, mark_of_seller[np.maximum(bought, 0)], -1)
    n_seller_marks = int(seller_groups.max()) + 1 if len(seller_groups) else 0
    trust = snapshot["buyer_trust"][active]
    # Buyers of the same seller side by side (non-buyers last), by trust within.
    order = np.lexsort((trust, np.where(seller_mark >= 0, seller_mark, n_seller_marks)))
    buyer_groups = _runs(len(order), max_buyers)
    n_buyer_marks = int(buyer_groups.max()) + 1 if len(buyer_groups) else 0

    ordered_marks = seller_mark[order]
    bought_any = ordered_marks >= 0
    pairs = np.stack([buyer_groups[bought_any], ordered_marks[bought_any]], axis=1)
    if len(pairs):
        links, counts = np.unique(pairs, axis=0, return_counts=True)
        links = np.column_stack([links, counts])
    else:
        links = np.zeros((0, 3), dtype=np.int64)

    return Marks(
        seller_quality=_mean(quality[seller_rows], seller_groups, n_seller_marks),
        seller_sales=_sum(sales[seller_rows], seller_groups, n_seller_marks),
        seller_offering=_mean(snapshot["seller_active"][seller_rows].astype(float),
                              seller_groups, n_seller_marks),
        seller_count=np.bincount(seller_groups, minlength=n_seller_marks),
        buyer_trust=_mean(trust[order], buyer_groups, n_buyer_marks),
        buyer_count=np.bincount(buyer_groups, minlength=n_buyer_marks),
        links=links.astype(np.int64),
        buyers_gone=int(len(snapshot["buyer_active"]) - len(active)),
        sellers_gone=int(len(quality) - shown.sum()),
    )


def _runs(n: int, most: int) -> np.ndarray:
    """Mark index of each of n sorted items, in at most `most` near-equal runs."""
    marks = min(n, most)
    if marks == 0:
        return np.zeros(0, dtype=np.int64)
    return (np.arange(n) * marks) // n


def _sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)


def _mean(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return _sum(values, groups, n) / np.maximum(np.bincount(groups, minlength=n), 1)


def draw_market(marks: Marks, title: str, quality_range: tuple[float, float] = (0.0, 1.0),
                figure: Figure | None = None) -> Figure:
    """The market view as a matplotlib figure (drawn off-screen, no pyplot)."""
    fig, ax, keys = _new_view(quality_range, figure)
    _draw_marks(ax, marks, title, *keys)
    return fig


class LiveMarketView:
    """The market view kept from one step to the next: the axes and colour keys are made
    once, each step redraws only the marks, links, notes and title (the same picture as
    `draw_market`'s; a test holds the pixels equal)."""

    def __init__(self, quality_range: tuple[float, float] = (0.0, 1.0)):
        self.figure, self._ax, self._keys = _new_view(quality_range)

    def draw(self, marks: Marks, title: str) -> Figure:
        for artist in [*self._ax.collections, *self._ax.texts]:
            artist.remove()
        _draw_marks(self._ax, marks, title, *self._keys)
        return self.figure


def _new_view(quality_range: tuple[float, float], figure: Figure | None = None):
    """The figure, its axes and its two colour keys (seller quality on top, buyer trust
    below) as (quality norm, quality colormap, trust norm, trust colormap)."""
    # A fixed layout: constrained layout would double the time each live frame takes.
    fig = figure or Figure(figsize=(6.4, 3.9))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.01)
    quality_norm, trust_norm = _norms(quality_range)
    quality_cmap = _colour_key(ax, quality_norm, QUALITY_CMAP, "seller true quality", top=True)
    trust_cmap = _colour_key(ax, trust_norm, TRUST_CMAP, "buyer trust", top=False)
    return fig, ax, (quality_norm, quality_cmap, trust_norm, trust_cmap)


def _norms(quality_range: tuple[float, float]) -> tuple[Normalize, Normalize]:
    low, high = quality_range
    return Normalize(low, high if high > low else low + 1e-9), Normalize(0.0, 1.0)


def _draw_marks(ax, marks: Marks, title: str, quality_norm, quality_cmap, trust_norm,
                trust_cmap) -> None:
    """Everything of the view that changes with the step."""
    n_s, n_b = len(marks.seller_quality), len(marks.buyer_trust)
    sx = (np.arange(n_s) + 0.5) / max(n_s, 1)
    bx = (np.arange(n_b) + 0.5) / max(n_b, 1)
    seller_colours = quality_cmap(quality_norm(marks.seller_quality))

    if len(marks.links):
        b, s, count = marks.links.T
        segments = np.stack([np.column_stack([bx[b], np.zeros(len(b))]),
                             np.column_stack([sx[s], np.ones(len(s))])], axis=1)
        colours = seller_colours[s].copy()
        colours[:, 3] = 0.45
        widths = 0.5 + 2.5 * count / count.max() if count.max() > 1 else 0.7
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths,
                                         zorder=1))

    peak = max(float(marks.seller_sales.max()) if n_s else 0.0, 1.0)
    # Marker diameter (points) shrinks with crowding so that neighbours stay apart.
    widest = float(np.clip(2.2 * 440 / max(n_s, 1), 5.0, 15.0))
    sizes = (0.35 * widest) ** 2 + (widest**2 - (0.35 * widest) ** 2) * marks.seller_sales / peak
    offering = marks.seller_offering >= 0.5
    ax.scatter(sx[offering], np.ones(offering.sum()), s=sizes[offering],
               c=seller_colours[offering], edgecolors="black", linewidths=0.4, zorder=3)
    ax.scatter(sx[~offering], np.ones((~offering).sum()), s=sizes[~offering],
               facecolors="none", edgecolors=seller_colours[~offering], linewidths=1.0,
               zorder=3)
    ax.scatter(bx, np.zeros(n_b), s=10 if n_b > 100 else 22, marker="s",
               c=trust_cmap(trust_norm(marks.buyer_trust)), edgecolors="none", zorder=3)

    seller_note = "sellers, sorted by true quality\nsize = sales, hollow = not offering"
    if n_s and marks.seller_count.max() > 1:
        seller_note += f"; a mark = {marks.seller_count.max()} sellers"
    buyer_note = "buyers, coloured by trust\na line = a purchase this step"
    if n_b and marks.buyer_count.max() > 1:
        buyer_note += f"; a mark = {marks.buyer_count.max()} buyers"
    ax.text(0.0, 1.22, seller_note, fontsize=8, va="bottom", transform=ax.get_yaxis_transform())
    ax.text(0.0, -0.22, buyer_note, fontsize=8, va="top", transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, 1.6)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def _colour_key(ax, norm: Normalize, cmap: str, label: str, top: bool):
    """A small horizontal colour bar in a corner of the view; returns its colormap."""
    inset = ax.inset_axes([0.62, 0.93 if top else 0.04, 0.36, 0.035])
    bar = ax.figure.colorbar(ScalarMappable(norm, cmap), cax=inset, orientation="horizontal")
    bar.ax.tick_params(labelsize=7, length=2, pad=1)
    bar.ax.set_title(label, fontsize=8, pad=2)
    return bar.cmap
