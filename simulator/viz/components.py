"""Solara components for the page: the market view and the metric charts, one tile each.

Each is a function of the page's model, as Mesa's pages expect; `Tiles` redraws
them all when Mesa's step counter (`update_counter`) moves. Pictures are SVG images drawn by
infogap itself (`svg.py`): they need no browser-side library (Altair's charts
need assets from the internet that an offline machine cannot fetch), and they
cost the server about a millisecond each where matplotlib PNGs took 70-140 ms.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import solara
from mesa.visualization.utils import update_counter
from solara.alias import rw

from ..model import MarketModel
from .charts import CAPTIONS, CHARTS, draw_metric
from .controls import get_dotted, mechanism_switches
from .live import TwinMarket, markets_of
from .market_view import draw_market, market_marks


def _series(market: MarketModel, metric: str) -> pd.Series:
    """The metric's value at each step so far (read from the collector's lists: making
    its whole data frame for each chart took half the time of drawing the charts)."""
    values = market.datacollector.model_vars.get(metric, [])
    return pd.Series(np.asarray(values, dtype=float),
                     index=pd.RangeIndex(1, len(values) + 1, name="step"))


@solara.component
def Picture(svg: str):
    """An SVG document shown as an image (the browser draws it)."""
    return rw.Image(value=svg.encode(), format="svg+xml")


def describe(name: str, market: MarketModel, model=None) -> str:
    """One line of HTML saying which market this is and what it did this step.

    (Plain HTML, not Markdown: solara's Markdown fetches KaTeX from a CDN.)
    """
    p = market.params
    changed = getattr(market, "changed", [])
    label = f"<b>{escape(name)}</b>" + (
        f" (changed: {escape(', '.join(changed))})" if changed else "")
    parts = [label, f"information <code>{p.information}</code>",
             f"pricing <code>{p.pricing}</code>", f"{p.buyers} buyers, {p.sellers} sellers",
             f"&lambda; {p.prospect.lam:g}"]
    if p.information == "noisy":
        parts.append(f"signal sd {p.signal.noise:g}")
    switched_on = [key.rpartition(".")[0] for key in mechanism_switches()
                   if get_dotted(p, key)]
    if switched_on:
        parts.append("on: " + ", ".join(switched_on))
    parts.append(f"seed {getattr(market, 'seed', '?')}")
    if isinstance(model, TwinMarket) and model.differences:
        own = 0 if model.sides[0][1] is market else 1
        parts.append("differs in " + ", ".join(
            f"<code>{escape(key)} = {escape(str(values[own]))}</code>"
            for key, values in model.differences.items()))
    trades = int(market.metrics.get("volume", 0)) if market.steps else 0
    parts.append(f"<b>step {market.steps}</b>: {trades} trade{'' if trades == 1 else 's'}")
    line = " &middot; ".join(parts)
    problem = getattr(model if model is not None else market, "problem", "")
    if problem:
        line = f'<div class="infogap-problem" style="color: #c62828">{escape(problem)}</div>{line}'
    return line


@solara.component
def MarketView(model, side: int = 0, counter: int = 0):
    """Who trades with whom in one market (side 1 is the twin's right arm); `counter`
    is Mesa's step counter, which tells the page to draw again."""
    name, market = markets_of(model)[side]
    q = market.params.quality

    def picture():
        return draw_market(market_marks(market.snapshot()),
                           f"{name}: who bought from whom at step {market.steps}", (q.low, q.high))

    with solara.Column(gap="4px") as column:
        solara.HTML(tag="div", unsafe_innerHTML=describe(name, market, model),
                    classes=["infogap-market-line"])
        Picture(solara.use_memo(picture, [market, market.steps]))
    return column


@solara.component
def MetricChart(model, metric: str, counter: int = 0):
    """One metric over time, a line per arm (`counter`: as for `MarketView`)."""
    sides = markets_of(model)
    svg = solara.use_memo(
        lambda: draw_metric(metric, [(name, _series(m, metric)) for name, m in sides]),
        [model, model.steps, metric])
    with solara.Column(gap="2px") as column:
        Picture(svg)
        if metric in CAPTIONS:
            solara.HTML(tag="div", unsafe_innerHTML=escape(CAPTIONS[metric]),
                        classes=["infogap-caption"], style="font-size: 0.85em; color: #555")
    return column


@solara.component
def Tiles(model, tiles: list):
    """Every tile of the page, in a grid of two columns, redrawn after each Step.

    The only reader of Mesa's step counter, which it hands to each tile (a tile
    whose arguments did not change is not drawn again): a tile that read the
    counter itself got a render pass of its own, six passes over the page per Step.
    """
    counter = update_counter.get()
    with solara.GridFixed(columns=2, align_items="start") as grid:
        for tile in tiles:
            tile(model, counter)
    return grid


def market_view(side: int):
    """A tile function (of the page's model and step counter) showing market `side`."""

    def view(model, counter: int = 0):
        return MarketView(model, side, counter)

    view.__name__ = f"market_view_{side}"
    return view


def metric_chart(metric: str):
    """A tile function (of the page's model and step counter) charting `metric`."""

    def chart(model, counter: int = 0):
        return MetricChart(model, metric, counter)

    chart.__name__ = f"chart_{metric}"
    return chart


def page_components(twin: bool) -> list:
    """The page's tiles, in order: market view(s) first, then one chart per metric."""
    views = [market_view(0), market_view(1)] if twin else [market_view(0)]
    return views + [metric_chart(metric) for metric in CHARTS]
