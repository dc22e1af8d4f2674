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
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from .svg import colours, document, lines_of_text, num, text, tick_labels

#: Most marks drawn per row; more agents than this are grouped into runs.
MAX_SELLER_MARKS = 150
MAX_BUYER_MARKS = 300

QUALITY_CMAP = "viridis"
TRUST_CMAP = "RdYlGn"

#: Pixel size of the view, the drawing area's edges as shares of it (left, right, top,
#: bottom), and its vertical data range (buyers at 0, sellers at 1, notes beyond).
WIDTH, HEIGHT = 640, 390
EDGES = (0.01, 0.99, 0.07, 0.99)
Y_RANGE = (-0.6, 1.6)
PX = 100 / 72  # pixels per point (sizes below are in points, as in print)
KEY_TICKS = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])


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


def draw_market(marks: Marks, title: str, quality_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """The market view as an SVG document."""
    quality_norm, trust_norm = _norms(quality_range)
    quality_cmap, trust_cmap = colormaps[QUALITY_CMAP], colormaps[TRUST_CMAP]
    left, right, top, bottom = (EDGES[0] * WIDTH, EDGES[1] * WIDTH, EDGES[2] * HEIGHT,
                                EDGES[3] * HEIGHT)

    def px(x):
        return left + np.asarray(x, dtype=float) * (right - left)

    def py(y):
        return bottom - (np.asarray(y, dtype=float) - Y_RANGE[0]) / (
            Y_RANGE[1] - Y_RANGE[0]) * (bottom - top)

    n_s, n_b = len(marks.seller_quality), len(marks.buyer_trust)
    sx = px((np.arange(n_s) + 0.5) / max(n_s, 1))
    bx = px((np.arange(n_b) + 0.5) / max(n_b, 1))
    seller_y, buyer_y = float(py(1.0)), float(py(0.0))
    seller_colours = colours(quality_cmap(quality_norm(marks.seller_quality)))
    body = []

    b, s, count = marks.links.T
    if len(count):
        widths = PX * (0.5 + 2.5 * count / count.max() if count.max() > 1
                       else np.full(len(count), 0.7))
    else:
        widths = np.zeros(0)
    body.append('<g class="links" stroke-opacity="0.45">' + "".join(
        f'<line x1="{num(bx[i])}" y1="{num(buyer_y)}" x2="{num(sx[j])}" '
        f'y2="{num(seller_y)}" stroke="{seller_colours[j]}" stroke-width="{w:.2f}"/>'
        for i, j, w in zip(b, s, widths, strict=True)) + "</g>")

    peak = max(float(marks.seller_sales.max()) if n_s else 0.0, 1.0)
    # Marker diameter (points) shrinks with crowding so that neighbours stay apart.
    widest = float(np.clip(2.2 * 440 / max(n_s, 1), 5.0, 15.0))
    area = (0.35 * widest) ** 2 + (widest**2 - (0.35 * widest) ** 2) * marks.seller_sales / peak
    radii = PX * np.sqrt(area) / 2
    sellers = ['<g class="sellers">']
    for x, r, hue, offering in zip(sx, radii, seller_colours, marks.seller_offering >= 0.5,
                                   strict=True):
        paint = (f'fill="{hue}" stroke="black" stroke-width="{0.4 * PX:.2f}"' if offering
                 else f'fill="none" stroke="{hue}" stroke-width="{PX:.2f}"')
        sellers.append(f'<circle cx="{num(x)}" cy="{num(seller_y)}" r="{r:.2f}" {paint}/>')
    body.append("".join(sellers) + "</g>")
    side = PX * (10 ** 0.5 if n_b > 100 else 22 ** 0.5)
    buyer_colours = colours(trust_cmap(trust_norm(marks.buyer_trust)))
    body.append('<g class="buyers">' + "".join(
        f'<rect x="{num(x - side / 2)}" y="{num(buyer_y - side / 2)}" width="{side:.2f}" '
        f'height="{side:.2f}" fill="{hue}"/>' for x, hue in zip(bx, buyer_colours, strict=True))
        + "</g>")

    seller_note = ["sellers, sorted by true quality", "size = sales, hollow = not offering"]
    if n_s and marks.seller_count.max() > 1:
        seller_note[1] += f"; a mark = {marks.seller_count.max()} sellers"
    buyer_note = ["buyers, coloured by trust", "a line = a purchase this step"]
    if n_b and marks.buyer_count.max() > 1:
        buyer_note[1] += f"; a mark = {marks.buyer_count.max()} buyers"
    body.append(lines_of_text(left, float(py(1.22)), seller_note, 11, below=False))
    body.append(lines_of_text(left, float(py(-0.22)), buyer_note, 11, below=True))
    body.append(text(WIDTH / 2, top - 8, title, 14, "middle", extra=' class="title"'))
    inner = (left, right, top, bottom)
    body.append(_colour_key(inner, quality_norm, quality_cmap, "seller true quality", top=True))
    body.append(_colour_key(inner, trust_norm, trust_cmap, "buyer trust", top=False))
    return document(WIDTH, HEIGHT, body)


def _norms(quality_range: tuple[float, float]) -> tuple[Normalize, Normalize]:
    low, high = quality_range
    return Normalize(low, high if high > low else low + 1e-9), Normalize(0.0, 1.0)


def _colour_key(inner: tuple[float, float, float, float], norm: Normalize, cmap, label: str,
                top: bool) -> str:
    """A small horizontal colour bar in a corner of the view (seller quality at the top
    right, buyer trust at the bottom right), its ticks below and its label above."""
    left, right, top_edge, bottom = inner
    x, width = left + 0.62 * (right - left), 0.36 * (right - left)
    height = 0.035 * (bottom - top_edge)
    y = bottom - ((0.93 if top else 0.04) + 0.035) * (bottom - top_edge)
    gradient = f"key-{'quality' if top else 'trust'}"
    shares = np.linspace(0.0, 1.0, 17)
    stops = "".join(f'<stop offset="{share:.4f}" stop-color="{hue}"/>'
                    for share, hue in zip(shares, colours(cmap(shares)), strict=True))
    ticks = np.array([t for t in KEY_TICKS.tick_values(norm.vmin, norm.vmax)
                      if norm.vmin - 1e-9 <= t <= norm.vmax + 1e-9])
    tick_x = x + (ticks - norm.vmin) / (norm.vmax - norm.vmin) * width
    marks = "".join(f"M{num(t)} {num(y + height)}v{num(2 * PX)}" for t in tick_x)
    labels = "".join(text(t, y + height + 2 * PX + 1, label_text, 9.7, "middle", "hanging")
                     for t, label_text in zip(tick_x, tick_labels(ticks), strict=True))
    return (f'<linearGradient id="{gradient}">{stops}</linearGradient>'
            f'<rect x="{num(x)}" y="{num(y)}" width="{num(width)}" height="{num(height)}" '
            f'fill="url(#{gradient})" stroke="black" stroke-width="0.6"/>'
            f'<path d="{marks}" stroke="black" stroke-width="0.6"/>{labels}'
            + text(x + width / 2, y - 2 * PX, label, 11, "middle"))
