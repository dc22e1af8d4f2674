"""First best and the full-information market: every gain from trade taken.

With c = c0 + c1 q the surplus of a pair, (theta - c1) q - c0, is
supermodular, so the efficient allocation matches the highest tastes with the
best units (as `simulator.metrics.first_best` scores each simulated step);
with unlimited capacity every buyer takes the best seller for it. Under full
information a competitive market reaches this allocation; the price of each
quality lies between its cost and what the marginal buyer would pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .market import StaticMarket
from .outcome import Outcome


@dataclass
class Allocation:
    """Per-step traded units, surplus, and the means over traded units."""

    volume: float
    surplus: float
    quality: float
    cost: float
    value: float  # mean theta * q of traded units
    marginal_taste: float
    marginal_group: int
    buyers_short: bool  # more units than buyers: a buyers' market

    @property
    def mean_taste(self) -> float:
        return (self.value / self.quality) if self.quality > 0 else self.marginal_taste


def allocation(market: StaticMarket, markup: float = 0.0) -> Allocation:
    """The first-best allocation of one step; with a markup, the trades buyers make when
    every price is cost times (1 + markup) (surplus still counted at cost)."""
    theta, counts, group = market.tastes()
    c0, c1 = market.quality.c0, market.quality.c1
    k0, k1 = c0 * (1 + markup), c1 * (1 + markup)
    q, share = market.quality.atoms()
    if market.params.capacity <= 0:  # each buyer takes the seller best for it
        best = np.where(theta > k1, q.max(), q.min())
        pair = (theta - c1) * best - c0
        choice = (theta - k1) * best - k0
        length, qq, tt, kk = counts, best, theta, group
    else:
        order = np.argsort(-q, kind="stable")
        q, units = q[order], share[order] * market.supply_units
        b_cum, u_cum = np.cumsum(counts), np.cumsum(units)
        end = min(b_cum[-1], u_cum[-1])
        cuts = np.unique(np.concatenate([[0.0], b_cum[b_cum < end], u_cum[u_cum < end], [end]]))
        length = np.diff(cuts)
        mid = (cuts[:-1] + cuts[1:]) / 2
        bi = np.minimum(np.searchsorted(b_cum, mid), len(theta) - 1)
        ui = np.minimum(np.searchsorted(u_cum, mid), len(q) - 1)
        tt, qq, kk = theta[bi], q[ui], group[bi]
        pair = (tt - c1) * qq - c0
        choice = (tt - k1) * qq - k0
    gain = choice > 1e-12
    volume = float(length[gain].sum())
    if volume <= 0:
        return Allocation(0.0, 0.0, 0.0, 0.0, 0.0, float(theta[0]), int(group[0]),
                          market.supply_units > market.buyers)
    w = length * gain
    last = np.flatnonzero(gain)[-1]
    return Allocation(
        volume=volume, surplus=float((w * pair).sum()),
        quality=float((w * qq).sum() / volume), cost=float((w * (c0 + c1 * qq)).sum() / volume),
        value=float((w * tt * qq).sum() / volume),
        marginal_taste=float(tt[last]), marginal_group=int(kk[last]),
        buyers_short=market.supply_units > market.buyers)


def first_best(market: StaticMarket, fb: Allocation | None = None) -> Outcome:
    """Who trades and the surplus (prices only split it: the range is cost to value)."""
    fb = fb or allocation(market)
    return Outcome("first_best", "efficient", {
        "volume": fb.volume, "quality_traded": fb.quality, "total_surplus": fb.surplus,
        "efficiency": 1.0, "price_low": fb.cost, "price_high": fb.value},
        reached=True, note="every trade with theta q > c(q); prices anywhere from the "
        "seller's cost (price_low) to the buyer's value (price_high)")


def full_information(market: StaticMarket, fb: Allocation | None = None,
                     benchmark: str = "full_information") -> Outcome:
    """The competitive market when every seller's quality is public."""
    p = market.params
    if p.pricing == "markup":
        fb = allocation(market, p.price.markup)
        best = allocation(market).surplus
    else:
        fb = fb or allocation(market)
        best = fb.surplus
    metrics = {"volume": fb.volume, "quality_traded": fb.quality,
               "mean_seller_quality": market.quality.mean_var()[0],
               "total_surplus": fb.surplus,
               "efficiency": fb.surplus / best if best > 1e-12 else 1.0}
    price = _price(market, fb)
    note = ""
    if price is None:
        note = f"{p.pricing} pricing: the price is not pinned down by theory"
    else:
        metrics["price"] = price
        metrics["consumer_surplus"] = fb.volume * (fb.value - price)
        metrics["producer_surplus"] = fb.volume * (price - fb.cost)
    return Outcome(benchmark, "full_information", metrics, reached=True, note=note)


def _price(market: StaticMarket, fb: Allocation) -> float | None:
    """Mean price of traded units in the competitive full-information market."""
    p = market.params
    if fb.volume <= 0:
        return float("nan")
    if p.pricing == "markup":
        return fb.cost * (1 + p.price.markup)
    if p.pricing != "market":
        return None
    if fb.buyers_short:  # sellers compete down to cost (Bertrand)
        return fb.cost
    # A hedonic schedule: each quality at the marginal buyer's reservation price for it.
    q, share = market.quality.atoms()
    group = market.groups[fb.marginal_group]
    from .buyers import reservation

    asks = reservation(group.prospect, fb.marginal_taste, q, market.noise_var, market.nodes)
    trades = (fb.marginal_taste - market.quality.c1) * q - market.quality.c0 > 1e-12
    if market.params.capacity > 0 and market.supply_units > fb.volume:  # best units trade
        order = np.argsort(-q, kind="stable")
        units = np.cumsum(share[order]) * market.supply_units
        keep = np.zeros_like(trades)
        keep[order] = units - share[order] * market.supply_units < fb.volume
        trades &= keep
    w = share * trades
    return float((w * asks).sum() / w.sum()) if w.sum() > 0 else float("nan")
