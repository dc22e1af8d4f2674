"""Sellers' profit this step, and what they learn from it about their choices."""

from __future__ import annotations

import numpy as np

from ..market import MarketState


def account(m: MarketState) -> None:
    s = m.sellers
    live = m.live_sellers()
    s.profit[live] = (s.revenue[live] - s.sales[live] * s.unit_cost[live]
                      - m.params.cost.fixed - s.extra_cost[live])
    s.loss_run[live] = np.where(s.profit[live] <= 0, s.loss_run[live] + 1, 0)
    for mech in m.mechanisms:
        mech.learn_from_profit(m, live, s.profit[live])
