"""Pricing policies: markup, adaptive, and the price-taking `market` policy.

Under `market` pricing sellers take the going price of the group buyers can
tell them apart in: sellers whose quality is not public share one pooled price
P (Akerlof's used-car market); sellers whose quality is public (or signalled)
each ask what the marginal buyer would pay for their public quality (a
hedonic price schedule indexed by that buyer's taste). Each going price moves
toward the level that would clear its group given buyers' current beliefs
(partial adjustment, so the sign of each move is the sign of excess demand),
and a seller withdraws while its going price is below its cost.
"""

from __future__ import annotations

import numpy as np


def clearing_price(reservations: np.ndarray, costs: np.ndarray, units: int,
                   demand_weight: float = 1.0) -> float:
    """The highest price at which demand still covers supply.

    Demand at P is the number of buyers whose reservation price is >= P;
    supply is `units` per seller whose cost is <= P. With more buyers than
    units the price rises to the marginal buyer's reservation price (a
    sellers' market); with more units than buyers it falls to the cost of the
    next seller (Bertrand). When nothing can trade it is the lowest cost.
    `demand_weight` scales demand when the reservations are a sample of buyers.
    """
    if len(costs) == 0:
        return float("nan")
    r = np.sort(reservations)
    c = np.sort(costs)
    demand_at_r = demand_weight * (len(r) - np.searchsorted(r, r, side="left"))  # buyers with r_i >= x
    supply_at_r = units * np.searchsorted(c, r, side="right")  # units with c_j <= x
    ok_r = r[demand_at_r >= supply_at_r]
    demand_at_c = demand_weight * (len(r) - np.searchsorted(r, c, side="left"))
    supply_below_c = units * np.searchsorted(c, c, side="left")  # units with c_j < x
    ok_c = c[demand_at_c >= supply_below_c]
    best = ok_c.max()  # the lowest cost always qualifies
    if len(ok_r):
        best = max(best, ok_r.max())
    return float(best)


def adaptive_prices(price: np.ndarray, cost: np.ndarray, sales: np.ndarray, strong: np.ndarray,
                    step: float) -> np.ndarray:
    """Raise after strong demand, cut after an unsold period, never below cost."""
    new = np.where(strong, price * (1 + step), np.where(sales == 0, price * (1 - step), price))
    return np.maximum(new, cost)
