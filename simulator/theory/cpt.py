"""What a buyer would pay for a purchase from an unknown seller (prospect theory).

Before any learning a buyer's belief about an unknown seller is the
population of quality: the lottery theta x q with q ~ N(mean, variance +
delivery noise) at the buyers' Gauss-Hermite nodes. Its certainty equivalent
(the sure amount valued the same), the reservation price (the price at which
buying is worth nothing: lower than the CE under loss aversion, since paying
turns the bad outcomes into losses) and the expected value show the risk
premium prospect theory puts on a blind purchase.
"""

from __future__ import annotations

import numpy as np

from ..prospect import normal_nodes
from .buyers import certainty_equivalent, reservation
from .market import StaticMarket


def unknown_seller(market: StaticMarket) -> list[tuple[str, str, str, float]]:
    """(benchmark, equilibrium, metric, value) rows for the typical buyer of each group."""
    mean, var = market.quality.mean_var()
    var += market.noise_var
    z, probs = normal_nodes(market.nodes)
    rows = []
    for i, group in enumerate(market.groups):
        taste = float(np.average(group.tastes, weights=group.counts))
        name = "unknown_seller" if len(market.groups) == 1 else \
            f"unknown_seller:{list(market.params.segments)[i]}"
        lottery = taste * (mean + np.sqrt(var) * z)
        reserve = float(reservation(group.prospect, taste, mean, var, market.nodes))
        # Against an expectation reference point the value is linear in money: CE = reservation.
        ce = reserve if group.prospect.reference == "expectation" else \
            certainty_equivalent(group.prospect, lottery, probs)
        rows += [("cpt", name, "expected_value", taste * mean),
                 ("cpt", name, "certainty_equivalent", ce),
                 ("cpt", name, "reservation", reserve)]
    return rows
