"""Hidden quality with price-taking sellers (Akerlof 1970): every competitive equilibrium.

At a going price p the sellers whose cost is at most p offer, and buyers, who
cannot tell them apart, value the mix on offer: its quality as a belief
N(mean, variance + delivery noise), the lottery the simulated buyers value,
with their own prospect-theory preferences (risk-neutral: taste x mean).
The market clears at T(p), the highest price at which the buyers who would
pay it cover the units offered at it (the marginal buyer's reservation price
in a sellers' market, the next seller's cost in a buyers' market), as
`simulator.phases.price.clearing_price` clears the simulated pool. An equilibrium
is a fixed point p = T(p). The simulated going price starts from what buyers
pay for the whole population (their prior) and moves a share `adjustment`
toward T each step, so the equilibrium it reaches is found by iterating that
map from there.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .first_best import allocation
from .market import StaticMarket
from .outcome import Outcome

GRID = 401
TOLERANCE = 1e-7


def target(market: StaticMarket, p) -> np.ndarray:
    """T(p): the clearing price when buyers value the mix offered at p (vectorised)."""
    p = np.asarray(p, dtype=float)
    _, mean, var = market.quality.offered(p)
    r, counts = market.reservations(mean, var)
    order = np.argsort(-r, axis=-1, kind="stable")
    r_sorted = np.take_along_axis(r, order, axis=-1)
    demand = np.cumsum(counts[order], axis=-1)  # buyers with reservation >= r_sorted
    next_cost = market.quality.cost_quantile(demand / market.supply_units)
    return np.max(np.minimum(r_sorted, next_cost), axis=-1)


def equilibria(market: StaticMarket) -> list[Outcome]:
    """Every equilibrium (stable ones and interior unstable ones), the reached one marked."""
    c_lo, c_hi = market.quality.cost_range()
    top = float(target(market, np.array([max(c_hi, c_lo)]))[0])
    span = max(c_hi, top) - c_lo
    grid = np.unique(np.concatenate([
        np.linspace(c_lo, max(c_hi, top) + 0.01 * span + 1e-9, GRID), [c_lo, c_hi, top]]))
    grid = grid[grid >= c_lo]  # below the lowest cost nothing is offered
    gap = target(market, grid) - grid
    tol = TOLERANCE * max(1.0, abs(top))
    prices: list[tuple[float, bool]] = []  # (price, stable)
    share_lo = market.quality.offered(c_lo)[0]
    no_trade = gap[0] < -tol or (abs(gap[0]) <= tol and share_lo <= 0)
    if abs(gap[0]) <= tol and share_lo > 0:
        prices.append((c_lo, True))
    # T crosses the diagonal from above (stable) or from below (unstable); a root at the
    # lowest cost was settled above.
    falling = (gap[:-1] >= -tol) & (gap[1:] < -tol)
    falling[0] &= abs(gap[0]) > tol
    falling = np.flatnonzero(falling)
    rising = np.flatnonzero((gap[:-1] < -tol) & (gap[1:] >= -tol))
    for idx, stable in ((falling, True), (rising, False)):
        if len(idx):
            roots = _bisect(market, grid[idx], grid[idx + 1], rising=not stable)
            ok = np.abs(target(market, roots) - roots) <= 1e3 * tol
            prices += [(float(x), stable) for x in roots[ok]]
    reached_price = _process(market, grid, gap + grid, top)
    fb = allocation(market)
    outcomes = []
    if no_trade:
        outcomes.append(_outcome(market, None, fb, "no_trade", True))
    for price, stable in sorted(set(prices)):
        share = float(market.quality.offered(price)[0])
        name = ("pooling" if share >= 1 - 1e-9 else "lemons_only"
                if market.quality.kind == "two_type" else "partial")
        outcomes.append(_outcome(market, price, fb, name if stable else f"{name}_unstable",
                                 stable))
    marks = [(o, o.metrics["price"] if o.equilibrium != "no_trade" else c_lo)
             for o in outcomes]
    stable = [(o, x) for o, x in marks if o.reached]
    for o in outcomes:
        o.reached = False
    if stable:
        min(stable, key=lambda pair: abs(pair[1] - reached_price))[0].reached = True
    return outcomes


def _bisect(market: StaticMarket, lo, hi, rising: bool, iterations: int = 45) -> np.ndarray:
    lo, hi = lo.astype(float), hi.astype(float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = target(market, mid) - mid >= 0
        if rising:
            lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
        else:
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def _process(market: StaticMarket, grid, t, start: float, steps: int = 5000) -> float:
    """Where the going price P <- P + eta (T(P) - P) ends, starting from the prior's price."""
    eta = market.params.price.adjustment
    price = start
    for _ in range(steps):
        new = price + eta * (float(np.interp(price, grid, t)) - price)
        if abs(new - price) < 1e-12:
            break
        price = new
    return price


def _outcome(market: StaticMarket, price: float | None, fb, name: str,
             stable: bool) -> Outcome:
    q = market.quality
    if price is None:  # nothing is offered that anyone would pay for
        m = {"price": float("nan"), "volume": 0.0, "quality_traded": 0.0,
             "mean_seller_quality": 0.0, "active_sellers": 0.0, "consumer_surplus": 0.0,
             "producer_surplus": 0.0, "total_surplus": 0.0,
             "efficiency": 0.0 if fb.surplus > 1e-12 else 1.0}
        return Outcome("akerlof", name, m, reached=stable,
                       note="trade unravels: buyers value what is offered below its cost")
    share, mean, var = (float(x) for x in q.offered(price))
    r, counts = market.reservations(mean, var)
    theta = np.concatenate([g.tastes for g in market.groups])
    buying = r >= price - 1e-7 * max(1.0, abs(price))
    demand = float(counts[buying].sum())
    supply = share * market.supply_units
    volume = min(demand, supply)
    taste = float((theta * counts)[buying].sum() / demand) if demand > 0 else 0.0
    cost = q.c0 + q.c1 * mean
    total = volume * (taste * mean - cost)
    m = {"price": price if volume > 0 else float("nan"), "volume": volume,
         "quality_traded": mean if volume > 0 else 0.0,
         "mean_seller_quality": mean if share > 0 else 0.0,
         "active_sellers": share * market.sellers,
         "consumer_surplus": volume * (taste * mean - price),
         "producer_surplus": volume * (price - cost), "total_surplus": total,
         "efficiency": total / fb.surplus if fb.surplus > 1e-12 else 1.0}
    return Outcome("akerlof", name, m, reached=stable)


def pools(market: StaticMarket) -> bool:
    """Whether every seller trades at a pooled price: buyers pay the top cost for the
    whole population (the pooling equilibrium exists)."""
    c_hi = market.quality.cost_range()[1]
    return bool(target(market, np.array([c_hi]))[0] >= c_hi - TOLERANCE)


def regime(market: StaticMarket, grid: int = 161) -> str:
    """The reached equilibrium's kind (no_trade, partial, lemons_only, pooling), quickly, for
    phase diagrams: the going price falls from the prior's price to the highest price p
    with T(p) >= p (T rises with p: a better mix is worth more)."""
    c_lo, c_hi = market.quality.cost_range()
    top = float(target(market, np.array([c_hi]))[0])
    if top >= c_hi - TOLERANCE:
        return "pooling"
    points = np.linspace(c_lo, max(c_hi, top), grid)
    share = market.quality.offered(points)[0]
    holds = (target(market, points) >= points - TOLERANCE) & (share > 1e-9) \
        & (points > c_lo + 1e-9 * (1 + abs(c_hi)))
    if not holds.any():
        return "no_trade"
    return "lemons_only" if market.quality.kind == "two_type" else "partial"


def bisect_parameter(params, key: str, lo: float, hi: float, holds, iterations: int = 34):
    """The smallest value of `key` in [lo, hi] at which `holds(market)` is true, assuming it
    stays true above (nan when it never holds, lo when it always does)."""
    def at(x: float) -> bool:
        return holds(StaticMarket.of(with_value(params, key, x)))

    if not at(hi):
        return float("nan")
    if at(lo):
        return lo
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if at(mid) else (mid, hi)
    return hi


def with_value(params, key: str, value):
    """A copy of the parameters with one dotted key changed (no re-validation: fast enough to
    call inside a bisection)."""
    head, _, rest = key.partition(".")
    if not rest:
        return dataclasses.replace(params, **{head: value})
    return dataclasses.replace(params, **{head: with_value(getattr(params, head), rest, value)})
