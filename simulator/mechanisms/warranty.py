"""Warranty: a unit delivered below `threshold` is repaired up to it at the seller's cost.

Repairs cost better sellers less in expectation, so a warranty can signal
quality. Buyers see a badge and value a covered purchase with its quality
floor; offering one is learned from profit.
"""

from __future__ import annotations

import numpy as np

from .base import N_POOLS, SellerChoice

WARRANTY = 2


class Warranty(SellerChoice):
    name = "warranty"
    seller_columns = {"warranty": (bool, False)}
    badge = WARRANTY

    def __init__(self, market):
        super().__init__(market)
        #: Quality floor per badge pool: the threshold where the pool carries the badge.
        self.floor = np.where(np.arange(N_POOLS) & WARRANTY, self.p.threshold, -np.inf)

    def decide(self, m, live, age):
        m.sellers.warranty[live] = self.choose(m, live, age) == 1

    def shows_badge(self, m, live):
        return m.sellers.warranty[live]

    def quality_floor(self, m, pools):
        return np.take(self.floor, pools)

    def deliver(self, m, sellers, quality):
        covered = m.sellers.warranty[sellers]
        repair = np.where(covered, np.maximum(self.p.threshold - quality, 0.0), 0.0)
        fixed = repair != 0  # only repairs cost anything
        m.charge(sellers[fixed], m.params.cost.c1 * repair[fixed])
        return quality + repair

    def attainable(self, m, quality):
        return np.maximum(quality, self.p.threshold)  # repaired up to it at c1 per unit
