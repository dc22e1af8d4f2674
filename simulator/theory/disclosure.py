"""Verifiable disclosure (Grossman 1981, Milgrom 1981): silence is read as bad news.

If disclosing is free, the best seller among the silent ones always gains by
disclosing, so disclosure unravels from the top: every seller above the lowest
quality discloses (the lowest is indifferent) and the market is the
full-information one. With a cost d per step, a seller discloses when the
premium over the pooled price of the silent sellers below it pays for d:
units x (R(q) - R(mix below q)) >= d; the cutoff quality is where equality holds.
"""

from __future__ import annotations

import numpy as np

from .first_best import full_information
from .market import StaticMarket
from .outcome import ArmTheory, Threshold


def add(theory: ArmTheory, market: StaticMarket) -> None:
    p = market.params
    q = market.quality
    cost = p.disclosure.cost if p.disclosure.mode == "voluntary" else 0.0
    if cost <= 0:
        outcome = full_information(market, benchmark="grossman_milgrom")
        above_lowest = (q.share_high if q.kind == "two_type" and q.high > q.low
                        else 0.0 if q.high <= q.low else 1.0)
        outcome.metrics["disclosure_rate"] = 1.0 if p.disclosure.mode == "mandatory" \
            else above_lowest
        outcome.equilibrium = "full_disclosure"
        outcome.note = ("mandatory: every seller discloses" if p.disclosure.mode == "mandatory"
                        else "unravelling: every seller above the lowest quality discloses "
                        "(the lowest is indifferent)")
        theory.outcomes.append(outcome)
        return
    cutoff = disclosure_cutoff(market, cost)
    share = 1.0 - float(q.offered(q.cost(cutoff))[0]) if np.isfinite(cutoff) else 0.0
    from .outcome import Outcome

    theory.outcomes.append(Outcome(
        "grossman_milgrom", "partial_disclosure", {"disclosure_rate": share},
        note=f"sellers above quality {cutoff:.4g} disclose (cost {cost:g} a step)"))
    theory.thresholds.append(Threshold("grossman_milgrom", "disclosure_cutoff", "quality",
                                       cutoff, "lowest quality that discloses"))


def disclosure_cutoff(market: StaticMarket, cost: float, points: int = 2001) -> float:
    """The lowest quality whose disclosure premium per step covers `cost` (nan: none)."""
    q = market.quality
    grid = np.linspace(q.low, q.high, points)
    _, mean, var = q.offered(q.cost(grid))
    taste, group = _marginal(market)
    from .buyers import reservation

    own = reservation(group.prospect, taste, grid, market.noise_var, market.nodes)
    pooled = reservation(group.prospect, taste, mean, var + market.noise_var, market.nodes)
    units = min(market.units_per_seller, market.buyers / market.sellers)
    pays = units * (own - pooled) >= cost
    return float(grid[np.argmax(pays)]) if pays.any() else float("nan")


def _marginal(market: StaticMarket):
    from .first_best import allocation

    fb = allocation(market)
    return fb.marginal_taste, market.groups[fb.marginal_group]
