"""Sellers' choices for the step: each mechanism's decision, the badges buyers will see,
and the unit cost of this step's units."""

from __future__ import annotations

from ..market import MarketState


def decide(m: MarketState) -> None:
    s = m.sellers
    live = m.live_sellers()
    s.extra_cost[live] = 0.0  # this step's mechanism costs start here
    s.fines[live] = 0.0
    age = m.now - s.entered[live]
    for mech in m.mechanisms:
        mech.decide(m, live, age)
    s.pool[live] = 0
    for mech in m.mechanisms:
        if mech.badge:
            s.pool[live] += mech.badge * mech.shows_badge(m, live)
    cost = s.cost[live]
    for mech in m.mechanisms:
        cost = mech.unit_cost(m, live, cost)
    s.unit_cost[live] = cost
