"""Solara components for the page: the market view and the metric charts, one tile each.

Each is a function of the page's model, as Mesa's pages expect; it redraws when
Mesa's step counter (`update_counter`) moves. Figures are matplotlib PNGs
because they render without any browser-side library (Altair's charts need
assets from the internet that an offline machine cannot fetch).
"""

from __future__ import annotations

from html import escape

import pandas as pd
import solara
from mesa.visualization.utils import update_counter

from ..model import MarketModel
from .charts import CAPTIONS, CHARTS, LiveChart
from .controls import get_dotted, mechanism_switches
from .live import TwinMarket, markets_of
from .market_view import LiveMarketView, market_marks


def _series(market: MarketModel, metric: str) -> pd.Series:
    frame = market.datacollector.get_model_vars_dataframe()
    if metric not in frame.columns:
        return pd.Series(dtype=float)
    values = frame[metric].astype(float)
    values.index = pd.RangeIndex(1, len(values) + 1, name="step")
    return values


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
def MarketView(model, side: int = 0):
    """Who trades with whom in one market (side 1 is the twin's right arm)."""
    update_counter.get()
    name, market = markets_of(model)[side]
    q = market.params.quality
    view = solara.use_memo(lambda: LiveMarketView((q.low, q.high)), [market])  # kept across steps

    def figure():
        marks = market_marks(market.snapshot())
        return view.draw(marks, f"{name}: who bought from whom at step {market.steps}")

    with solara.Column(gap="4px") as column:
        solara.HTML(tag="div", unsafe_innerHTML=describe(name, market, model),
                    classes=["infogap-market-line"])
        solara.FigureMatplotlib(solara.use_memo(figure, [market, market.steps]), format="png",
                                dependencies=[market, market.steps])
    return column


@solara.component
def MetricChart(model, metric: str):
    """One metric over time, a line per arm."""
    update_counter.get()
    sides = markets_of(model)
    chart = solara.use_memo(lambda: LiveChart(metric), [model, metric])  # kept across steps
    fig = solara.use_memo(
        lambda: chart.draw([(name, _series(m, metric)) for name, m in sides]),
        [model, model.steps, metric])
    with solara.Column(gap="2px") as column:
        solara.FigureMatplotlib(fig, format="png", dependencies=[model, model.steps, metric])
        if metric in CAPTIONS:
            solara.HTML(tag="div", unsafe_innerHTML=escape(CAPTIONS[metric]),
                        classes=["infogap-caption"], style="font-size: 0.85em; color: #555")
    return column


def market_view(side: int):
    """A tile function (of the page's model) showing market `side`."""

    def view(model):
        return MarketView(model, side)

    view.__name__ = f"market_view_{side}"
    return view


def metric_chart(metric: str):
    """A tile function (of the page's model) charting `metric`."""

    def chart(model):
        return MetricChart(model, metric)

    chart.__name__ = f"chart_{metric}"
    return chart


def page_components(twin: bool) -> list:
    """The page's tiles, in order: market view(s) first, then one chart per metric."""
    views = [market_view(0), market_view(1)] if twin else [market_view(0)]
    return views + [metric_chart(metric) for metric in CHARTS]
