"""Who is in the market: new sellers and buyers drawn from the scenario's distributions.

Rows are added to the tables here; the model gives each new row its Mesa
agent. Buyer rows of leavers are recycled for newcomers, seller rows never
(buyers' memories refer to sellers by row).
"""

from __future__ import annotations

import numpy as np

from ..market import MarketState
from ..params import TasteParams
from . import publish


def draw_quality(m: MarketState, n: int) -> np.ndarray:
    q = m.params.quality
    if q.distribution == "two_type":
        return np.where(m.rng.random(n) < q.share_high, q.high, q.low)
    if q.distribution == "beta":
        return q.low + (q.high - q.low) * m.rng.beta(q.a, q.b, n)
    return m.rng.uniform(q.low, q.high, n)


def draw_segments(m: MarketState, n: int) -> np.ndarray:
    """Initial buyers: exact shares (largest remainder); newcomers: drawn by share."""
    shares = np.array([seg.share for seg in m.segments])
    if len(shares) == 1:
        return np.zeros(n, dtype=np.int64)
    if m.now > 0:
        return m.rng.choice(len(shares), size=n, p=shares / shares.sum())
    counts = np.floor(shares * n).astype(np.int64)
    order = np.argsort(-(shares * n - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return m.rng.permutation(np.repeat(np.arange(len(shares)), counts))


def draw_taste(m: MarketState, n: int, t: TasteParams) -> np.ndarray:
    if t.distribution == "uniform":
        return m.rng.uniform(t.low, t.high, n)
    if t.distribution == "normal":
        return np.maximum(m.rng.normal(t.mean, t.sd, n), 0.0)
    return np.full(n, t.value)


def add_sellers(m: MarketState, n: int) -> np.ndarray:
    """New sellers: quality, cost, an opening price and what the regime makes public."""
    p, s = m.params, m.sellers
    rows = s.add(n)
    s.in_market[rows] = True
    s.quality[rows] = draw_quality(m, n)
    s.cost[rows] = p.cost.c0 + p.cost.c1 * s.quality[rows]
    if p.cost.noise > 0:
        s.cost[rows] = np.maximum(s.cost[rows] + p.cost.noise * m.rng.standard_normal(n), 0.0)
    s.unit_cost[rows] = s.cost[rows]
    s.price[rows] = s.cost[rows] * (1 + p.price.markup)
    s.signal[rows] = s.quality[rows] + p.signal.noise * m.rng.standard_normal(n)
    s.entered[rows] = m.now
    if p.pricing == "adaptive":  # sellers who all adjust alike move in lockstep
        s.price_step[rows] = p.price.adaptive_step * m.rng.uniform(0.5, 1.5, n)
    for mech in m.mechanisms:
        mech.sellers_added(m, rows)
    publish.publish_regime(m, rows)
    return rows


def add_buyers(m: MarketState, n: int, free_rows: list[int]) -> np.ndarray:
    """New buyers, in rows freed by leavers first (taken from `free_rows`)."""
    reuse = np.array(free_rows[:n], dtype=np.int64)
    del free_rows[:n]
    fresh = m.buyers.add(n - len(reuse))
    m.beliefs.grow(m.buyers.capacity)
    rows = np.concatenate([reuse, fresh])
    b = m.buyers
    if len(rows):
        m.buyers_version += 1
    b.fill(rows)
    b.active[rows] = True
    b.segment[rows] = draw_segments(m, n)
    for k, seg in enumerate(m.segments):
        mine = rows[b.segment[rows] == k]
        b.theta[mine] = draw_taste(m, len(mine), seg.taste)
    b.trust[rows] = m.segment_trust["initial"][b.segment[rows]]
    b.joined[rows] = m.now
    for mech in m.mechanisms:
        mech.buyers_added(m, rows)
    m.beliefs.reset(rows)
    return rows


def remove_sellers(m: MarketState, rows: np.ndarray) -> None:
    m.sellers.in_market[rows] = False
    m.sellers.offering[rows] = False
    m.beliefs.forget_seller(rows)


def remove_buyers(m: MarketState, rows: np.ndarray, free_rows: list[int]) -> None:
    if len(rows):
        m.buyers_version += 1
    m.buyers.active[rows] = False
    m.departed_paid += float(m.buyers.paid_total[rows].sum())  # the rows will be reused
    m.buyers.paid_total[rows] = 0.0
    free_rows.extend(rows.tolist())
