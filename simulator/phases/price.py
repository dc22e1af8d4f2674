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

from ..market import MarketState


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


#: Longest a seller holds a selling price before it tries a raise again.
MAX_HOLD = 64


def adaptive_prices(s, live: np.ndarray, strong: np.ndarray) -> None:
    """Raise after strong demand, cut after an unsold period, never below cost.

    A raise that loses every sale goes back to the last price that sold, and the
    seller then holds that price for twice as long as after its previous failed raise
    before it tries again (1, 2, 4, ... steps): a price probing the buyers' reservation
    settles below it instead of jumping over and back every other step. Each seller's
    step is its own (drawn at entry around `price.adaptive_step`), so sellers facing the
    same demand do not move in lockstep.
    """
    price, sales, sold_at = s.price[live], s.sales[live], s.sold_price[live]
    unsold = sales == 0
    overshot = unsold & (sold_at > 0) & (price > sold_at)
    holding = s.holding[live]
    raise_ = strong & (holding == 0)
    step = s.price_step[live]
    new = np.where(raise_, price * (1 + step), np.where(unsold, price * (1 - step), price))
    new = np.where(overshot, sold_at, new)
    patience = np.where(overshot, np.minimum(np.maximum(2 * s.patience[live], 1), MAX_HOLD),
                        s.patience[live])
    s.patience[live] = patience
    s.holding[live] = np.where(overshot, patience, np.maximum(holding - strong, 0))
    s.sold_price[live] = np.where(unsold, np.where(overshot, sold_at, 0.0), price)
    s.price[live] = np.maximum(new, s.unit_cost[live])


def move_toward(current: float, target: float, eta: float) -> float:
    """Partial adjustment: close a share `eta` of the gap (the first step jumps there)."""
    if np.isnan(current):
        return target
    return current + eta * (target - current)


#: Buyers whose reservation prices set the going `market` price; beyond this a
#: random sample stands in for everyone (clearing is an aggregate, so a sample
#: of this size moves it by well under a cent).
CLEARING_SAMPLE = 2000


def set_prices(m: MarketState) -> None:
    """Posted prices under the scenario's policy; a seller offers while its price covers
    this step's unit cost."""
    p, s = m.params, m.sellers
    live = m.live_sellers()
    if p.pricing == "markup":  # on the cost of the quality it claims to deliver
        s.price[live] = s.cost[live] * (1 + p.price.markup)
    elif p.pricing == "adaptive" and m.now > 1:
        sales = s.sales[live]
        if p.capacity > 0:
            strong = sales >= p.capacity
        else:
            strong = sales > max(sales.mean(), 0.0) if len(sales) else sales > 0
        adaptive_prices(s, live, strong)
    elif p.pricing == "market":
        market_prices(m, live)
    s.offering[:] = False
    s.offering[live] = s.price[live] >= s.unit_cost[live] - 1e-12


def market_prices(model: MarketState, live: np.ndarray) -> None:
    """Price-takers: each pool's going price moves toward its clearing price."""
    p, s, b = model.params, model.sellers, model.buyers
    buyers = model.active_buyers()
    if len(buyers) > CLEARING_SAMPLE:
        sample = np.sort(model.rng.choice(buyers, CLEARING_SAMPLE, replace=False))
    else:
        sample = buyers
    weight = len(buyers) / max(len(sample), 1)
    units = p.capacity if p.capacity > 0 else max(len(buyers), 1)
    eta = p.price.adjustment
    graded = np.isfinite(s.pub_var[live])

    pooled = live[~graded]
    for pool in np.unique(s.pool[pooled]) if len(sample) else ():
        members = pooled[s.pool[pooled] == pool]
        bel = model.beliefs
        sd = np.sqrt(1 / bel.pool_precision[sample, pool] + model.noise_var
                     + bel.pool_spread(sample, pool, model.noise_var))
        floor = model.quality_floor(np.full(len(sample), pool))
        r = model.by_segment(sample, "reservation", b.theta[sample],
                            model.beliefs.pool_mean[sample, pool], sd, floor)
        # Sellers meet buyers at random, not in an auction, so a going price above what
        # the median buyer would pay leaves units unsold: it is capped there.
        target = min(clearing_price(r, s.unit_cost[members], units, weight), np.median(r))
        # A going price above what buyers pay sells nothing; approached from above by
        # partial adjustment it would stall just over a common reservation price, so
        # after a step without a sale it drops to the target at once.
        stalled = not s.sales[members].any() and model.pool_price[pool] > target
        model.pool_price[pool] = move_toward(model.pool_price[pool], target,
                                             1.0 if stalled else eta)
        s.price[members] = model.pool_price[pool]

    graded = live[graded]
    if len(graded) and len(sample):
        target = _graded_taste(model, b.theta[sample], graded, units, weight)
        stalled = not s.sales[graded].any() and model.grade_taste > target
        model.grade_taste = move_toward(model.grade_taste, target, 1.0 if stalled else eta)
        g, sd = s.pub_mean[graded], np.sqrt(s.pub_var[graded] + model.noise_var)
        s.price[graded] = model.valuations[0].reservation(
            np.full(len(graded), model.grade_taste), g, sd)


def _graded_taste(model, tastes, graded, units, weight) -> float:
    """Taste of the marginal buyer when every public-quality seller asks that buyer's
    reservation price: the highest taste at which demand covers supply."""
    s = model.sellers
    g, sd = s.pub_mean[graded], np.sqrt(s.pub_var[graded] + model.noise_var)
    levels = np.unique(tastes)[::-1]  # highest first
    demand = weight * np.searchsorted(np.sort(-tastes), -levels, side="right")

    def supply(taste: float) -> float:
        asks = model.valuations[0].reservation(np.full(len(graded), taste), g, sd)
        return units * np.count_nonzero(asks >= s.unit_cost[graded])

    lo, hi = 0, len(levels) - 1  # smallest index with demand >= supply
    while lo < hi:
        mid = (lo + hi) // 2
        if demand[mid] >= supply(levels[mid]):
            hi = mid
        else:
            lo = mid + 1
    return float(min(levels[lo], np.median(tastes)))  # random matching: see pool prices
