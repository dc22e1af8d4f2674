"""Personalised pricing: sellers holding buyer data see tastes and price to each buyer.

A data-holding seller scales its posted price by the buyer's taste relative
to the average (never below cost): the seller-side information advantage.
A buyer who finds out that it paid a personal price may lose trust (backlash).
"""

from __future__ import annotations

import numpy as np

from .base import Mechanism


class PersonalizedPricing(Mechanism):
    name = "personalized_pricing"
    seller_columns = {"has_data": (bool, False)}

    def sellers_added(self, m, rows):
        m.sellers.has_data[rows] = m.rng.random(len(rows)) < self.p.share

    def adjust_prices(self, m, offers):
        s, b = m.sellers, m.buyers
        cands, price = offers.safe, offers.price
        personal = s.has_data[cands]
        active = b.active[: b.size]
        relative = b.theta[offers.buyers] / max(float(b.theta[: b.size][active].mean()), 1e-12)
        custom = np.maximum(price * (1 + self.p.capture * (relative[:, None] - 1)),
                            s.unit_cost[cands])
        offers.price = np.where(personal, custom, price)
        offers.flags["personal"] = personal

    def after_trade(self, m, trades):
        """Finding out about a personal price costs the seller's market trust."""
        b, who = m.buyers, trades.buyer
        personal = trades.flags.get("personal", np.zeros(len(who), dtype=bool))
        found = personal & (m.rng.random(len(who)) < self.p.discovery)
        b.trust[who] = np.where(found, b.trust[who] * (1 - self.p.backlash), b.trust[who])
