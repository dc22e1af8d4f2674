"""The page's tiles: the market view(s) and the metric charts, and `Tiles`, which shows them.

A tile is a function of the page's model that returns its HTML; `Tiles` draws
them all again when Mesa's step counter (`update_counter`) moves, into one HTML
widget. Pictures are SVG images drawn by infogap itself (`svg.py`): they need no
browser-side library (Altair's charts need assets from the internet that an
offline machine cannot fetch), and they cost the server a few milliseconds each
where matplotlib PNGs took 70-140 ms.
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np
import pandas as pd
import solara
from mesa.visualization.utils import update_counter

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
        line = (f'<span class="infogap-problem" style="display: block; color: #c62828">'
                f"{escape(problem)}</span>{line}")
    return line


def picture_html(svg: str, alt: str) -> str:
    """An SVG document as an image in the page (a data URL: it travels with the HTML)."""
    data = base64.b64encode(svg.encode()).decode("ascii")
    return (f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}" '
            f'style="max-width: 100%; height: auto; display: block">')


def market_view_html(model, side: int = 0) -> str:
    """Who trades with whom in one market (side 1 is the twin's right arm), under the
    market's status line."""
    name, market = markets_of(model)[side]
    q = market.params.quality
    title = f"{name}: who bought from whom at step {market.steps}"
    svg = draw_market(market_marks(market.snapshot()), title, (q.low, q.high))
    return (f'<div class="infogap-market-line">{describe(name, market, model)}</div>'
            + picture_html(svg, title))


def metric_chart_html(model, metric: str) -> str:
    """One metric over time, a line per arm, with the line that says what it shows."""
    svg = draw_metric(metric, [(name, _series(m, metric)) for name, m in markets_of(model)])
    html = picture_html(svg, CHARTS.get(metric, metric))
    if metric in CAPTIONS:
        html += (f'<div class="infogap-caption" style="font-size: 0.85em; color: #555">'
                 f"{escape(CAPTIONS[metric])}</div>")
    return html


def tiles_html(model, tiles: list) -> str:
    """Every tile, in a grid of two columns."""
    cells = "".join(f'<div class="infogap-tile">{tile(model)}</div>' for tile in tiles)
    return (f'<div style="display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); '
            f'gap: 12px 16px; align-items: start">{cells}</div>')


@solara.component
def Tiles(model, tiles: list):
    """Every tile of the page, redrawn after each Step, as one HTML widget.

    The only reader of Mesa's step counter (a component that reads it gets a
    render pass of its own). One widget, so a Step sends the browser one message:
    the server sends each changed widget separately and waits for each send, which
    on a busy machine took 10-25 ms a widget.
    """
    counter = update_counter.get()
    html = solara.use_memo(lambda: tiles_html(model, tiles), [model, counter])
    return solara.HTML(tag="div", unsafe_innerHTML=html, classes=["infogap-tiles"])


def market_view(side: int):
    """A tile function (of the page's model: HTML) showing market `side`."""

    def view(model) -> str:
        return market_view_html(model, side)

    view.__name__ = f"market_view_{side}"
    return view


def metric_chart(metric: str):
    """A tile function (of the page's model: HTML) charting `metric`."""

    def chart(model) -> str:
        return metric_chart_html(model, metric)

    chart.__name__ = f"chart_{metric}"
    return chart


def page_components(twin: bool) -> list:
    """The page's tiles, in order: market view(s) first, then one chart per metric."""
    views = [market_view(0), market_view(1)] if twin else [market_view(0)]
    return views + [metric_chart(metric) for metric in CHARTS]
