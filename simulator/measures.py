"""What plots and tables call each metric and market key, in which unit, and what a metric can be.

A metric's range is what its definition allows (a share lies in [0, 1], a count
or a price is never negative, efficiency never passes 1). A t interval over a
handful of replications knows nothing of that and can reach below zero, so
intervals and bands are clipped to the range before they are shown.
Market keys get short readable names for axes (`taste.value` -> "buyer taste
k"); a key without one falls back to the first words of its documentation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

INF = math.inf


class Measure(NamedTuple):
    """How a metric is shown: axis label with its unit, and the values it can take."""

    label: str
    low: float = -INF
    high: float = INF


def _share(what: str, of: str) -> Measure:
    return Measure(f"{what} (share of {of})", 0.0, 1.0)


MEASURES: dict[str, Measure] = {
    "price": Measure("price (money/unit)", 0.0),
    "volume": Measure("volume (units/step)", 0.0),
    "trust": Measure("trust (0 to 1)", 0.0, 1.0),
    "churn": _share("churn", "buyers/step"),
    "switch_rate": _share("switchers", "buyers/step"),
    "exit_rate": _share("leavers", "buyers/step"),
    "quality_traded": Measure("quality delivered (per unit)"),
    "mean_seller_quality": Measure("quality on offer (0 to 1)", 0.0, 1.0),
    "consumer_surplus": Measure("consumer surplus (money/step)"),
    "producer_surplus": Measure("producer surplus (money/step)"),
    "total_surplus": Measure("total surplus (money/step)"),
    "efficiency": Measure("efficiency (share of first best)", -INF, 1.0),
    "active_buyers": Measure("active buyers (count)", 0.0),
    "active_sellers": Measure("sellers offering (count)", 0.0),
    "entries": Measure("seller entries (per step)", 0.0),
    "exits": Measure("seller exits (per step)", 0.0),
    "satisfaction": Measure("satisfaction (CPT value/trade)"),
    "expectation_gap": Measure("expected - delivered quality"),
    "disclosure_rate": _share("disclosing", "sellers"),
    "certified_share": _share("certified", "sellers"),
    "claim_inflation": Measure("claim - true quality"),
    "deception_rate": _share("deceptive", "trades"),
    "review_coverage": _share("reviewed", "sellers offering"),
    "review_coverage_top_half": _share("reviewed", "better half of sellers offering"),
}


def measure(metric: str) -> Measure:
    """The metric's measure; an unknown name gets itself as label and no range."""
    return MEASURES.get(metric, Measure(metric))


def axis_label(metric: str) -> str:
    return measure(metric).label


def bounds(metric: str) -> tuple[float, float]:
    """The lowest and highest value `metric` can take (infinite where unbounded)."""
    m = measure(metric)
    return m.low, m.high


#: Short names of market keys for plot axes and tables (dotted keys below `market.`).
KEY_NAMES: dict[str, str] = {
    "buyers": "buyers",
    "sellers": "sellers",
    "taste.value": "buyer taste k",
    "taste.mean": "mean buyer taste",
    "quality.low": "lowest quality L",
    "quality.high": "highest quality",
    "quality.share_high": "share of high-quality sellers",
    "quality_noise": "delivery noise (sd)",
    "signal.noise": "public signal noise (sd)",
    "prospect.lam": "loss aversion λ",
    "trust.gain": "trust gained per good purchase",
    "trust.loss": "trust lost per bad purchase",
    "trust.tolerance": "shortfall still tolerated",
    "trust.leave_below": "trust at which buyers leave",
    "choice.candidates": "sellers sampled per step K",
    "certification.cost_high": "certificate cost, best seller",
    "certification.cost_low": "certificate cost, worst seller",
    "arrivals.rate": "new buyers per step (share)",
    "delay.steps": "steps until quality is public",
    "price.markup": "markup m",
    "cost.c1": "cost of one unit of quality",
}

#: Fallback names are cut to this many characters (at a word).
FALLBACK_LENGTH = 40


def key_name(key: str) -> str:
    """A readable name for a dotted key (`market.taste.value` -> "buyer taste k")."""
    short = key.removeprefix("market.")
    if short in KEY_NAMES:
        return KEY_NAMES[short]
    first = _doc(short).split(". ")[0].split(" (")[0].split(":")[0].rstrip(".")
    if len(first.split()) < 2:  # no doc, or one that starts with a choice ("learned (...)")
        return short
    if len(first) > FALLBACK_LENGTH:
        first = first[:FALLBACK_LENGTH].rsplit(" ", 1)[0] + "…"
    return first[:1].lower() + first[1:]


def _doc(key: str) -> str:
    from .params import MarketParams, iter_fields

    for dotted, _kind, _default, meta in iter_fields(MarketParams):
        if dotted == key:
            return str(meta.get("doc", ""))
    return ""
