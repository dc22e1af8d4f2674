"""Verifiable disclosure (Grossman-Milgrom): a seller may publish its true quality.

Voluntary disclosure is learned from profit (sellers that gain from being
known disclose, which leaves the silent ones looking worse, and so on:
unravelling); mandatory disclosure makes every quality public.
"""

from __future__ import annotations

import numpy as np

from .base import SellerChoice, reveal, share


class Disclosure(SellerChoice):
    name = "disclosure"
    seller_columns = {"disclosed": (bool, False)}
    metrics = ("disclosure_rate",)

    def fixed(self):
        return 1 if self.p.mode == "mandatory" else None

    def decide(self, m, live, age):
        s = m.sellers
        s.disclosed[live] = self.choose(m, live, age) == 1
        s.extra_cost[live] += np.where(s.disclosed[live], self.p.cost, 0.0)

    def publish(self, m, live, mean, var):
        return reveal(m, live, m.sellers.disclosed[live], mean, var)

    def collect(self, m, trades, offering, metrics):
        metrics["disclosure_rate"] = share(m.sellers.disclosed[m.live_sellers()])
