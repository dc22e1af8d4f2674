"""Certificates as a signal (Spence 1973), for two seller types.

A badge separates the types when the high type buys it and the low type does
not: the price premium it earns per step, units x (R(high) - R(low)), must
cover its cost for the high type and not for the low type:
cost_high <= premium <= cost_low. Then buyers know each type, every seller
trades at its own price and only the certificates' cost is lost. Otherwise no
separating equilibrium exists: too dear for the high type, nobody certifies;
cheap for the low type too, a badge says nothing. The market is then Akerlof's.
"""

from __future__ import annotations

from .buyers import reservation
from .first_best import allocation, full_information
from .market import StaticMarket
from .outcome import ArmTheory, Threshold


def premium(market: StaticMarket) -> float:
    """The per-step price premium of a known high type over a known low type."""
    q = market.quality
    fb = allocation(market)
    group = market.groups[fb.marginal_group]
    r = reservation(group.prospect, fb.marginal_taste, [q.low, q.high], market.noise_var,
                    market.nodes)
    units = min(market.units_per_seller, market.buyers / market.sellers)
    return float(units * (r[1] - r[0]))


def add(theory: ArmTheory, market: StaticMarket) -> bool:
    """Add the Spence benchmark; True when the certificate separates (the prediction)."""
    c = market.params.certification
    q = market.quality
    gain = premium(market)
    theory.facts.append(("spence", "cost_range", "premium", gain))
    theory.thresholds.append(Threshold(
        "spence", "separates_if_cost_high_below", "certification.cost_high", gain,
        "the high type's certificate cost at most the premium"))
    theory.thresholds.append(Threshold(
        "spence", "separates_if_cost_low_above", "certification.cost_low", gain,
        "the low type's certificate cost at least the premium"))
    separates = c.cost_high <= gain <= c.cost_low
    if not separates:
        why = ("too dear for the high type: nobody certifies" if c.cost_high > gain
               else "cheap for the low type too: a badge cannot separate")
        theory.notes.append(f"spence: no separating equilibrium ({why}; premium {gain:.4g}, "
                            f"costs high {c.cost_high:g}, low {c.cost_low:g})")
        return False
    outcome = full_information(market, benchmark="spence")
    outcome.equilibrium = "separating"
    # Surpluses and efficiency as the simulation counts them (certificates are a cost of
    # the sellers' profit, not of the trades); what certificates burn per step is a fact.
    theory.facts.append(("spence", "separating", "certificate_cost",
                         c.cost_high * q.share_high * market.sellers))
    outcome.metrics["certified_share"] = q.share_high
    outcome.note = (f"high types certify (premium {gain:.4g} per step, between the costs "
                    f"{c.cost_high:g} and {c.cost_low:g})")
    theory.outcomes.append(outcome)
    return True
