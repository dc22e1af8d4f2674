"""Personalised pricing: sellers holding buyer data see tastes and price to each buyer.

A data-holding seller scales its posted price by the buyer's taste relative
to the average (never below cost): the seller-side information advantage.
A buyer who finds out that it paid a personal price may lose trust (backlash).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ._kernels import personal_prices, personal_prices_threaded
from .base import Mechanism


class PersonalizedPricing(Mechanism):
    name = "personalized_pricing"
    seller_columns = {"has_data": (bool, False)}

    def sellers_added(self, m, rows):
        m.sellers.has_data[rows] = m.rng.random(len(rows)) < self.p.share

    def adjust_prices(self, m, offers):
        s, b = m.sellers, m.buyers
        active = b.active[: b.size]
        mean_theta = max(float(b.theta[: b.size][active].mean()), 1e-12)
        offers.price, offers.flags["personal"] = kernels.threaded(
            personal_prices, personal_prices_threaded, offers.cands, offers.buyers, b.theta,
            mean_theta, float(self.p.capture), offers.price, s.has_data, s.unit_cost)

    def after_trade(self, m, trades):
        """Finding out about a personal price costs the seller's market trust."""
        b, who = m.buyers, trades.buyer
        personal = trades.flags.get("personal", np.zeros(len(who), dtype=bool))
        found = who[personal & (m.rng.random(len(who)) < self.p.discovery)]
        b.trust[found] = b.trust[found] * (1 - self.p.backlash)
