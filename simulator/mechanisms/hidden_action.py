"""Hidden action (moral hazard): a seller may deliver less than its capability to save cost.

Whether to shirk is learned from profit. What is public about a seller is its
capability, not what it will deliver, so buyers keep learning about every
seller from experience and allow for the shortfall in their beliefs.
"""

from __future__ import annotations

import numpy as np

from .base import SellerChoice


class HiddenAction(SellerChoice):
    name = "moral_hazard"
    seller_columns = {"shirking": (bool, False)}
    hides_delivery = True

    def __init__(self, market):
        super().__init__(market)
        #: Spread buyers allow for around public quality: a seller may withhold `shirk`.
        self.action_var = (self.p.shirk / 2) ** 2

    def decide(self, m, live, age):
        m.sellers.shirking[live] = self.choose(m, live, age) == 1

    def unit_cost(self, m, live, cost):
        return np.maximum(cost - self.p.saving * m.sellers.shirking[live], 0.0)

    def made(self, m, sellers, quality):
        return quality - self.p.shirk * m.sellers.shirking[sellers]

    def alternatives(self, m, quality, cost):
        # shirking pays a buyer of taste theta when saving > theta * shirk
        return [(quality - self.p.shirk, np.maximum(cost - self.p.saving, 0.0))]

    def deceptive(self, m, sellers, made):
        return m.sellers.shirking[sellers].copy()
