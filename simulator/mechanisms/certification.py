"""Certification (Spence): a seller may pay each step to have its quality verified.

The certificate's cost falls linearly from `cost_low` (lowest quality) to
`cost_high` (highest), so when it is cheaper for better sellers it can
separate types. A revealing certifier publishes quality; otherwise buyers see
only a badge and learn what certified sellers are worth in their own pooled
belief (taking the badge at face value at first, if the scenario says so).
"""

from __future__ import annotations

import numpy as np

from .base import SellerChoice, reveal, share

CERTIFIED = 1


class Certification(SellerChoice):
    name = "certification"
    seller_columns = {"certified": (bool, False)}
    metrics = ("certified_share",)
    badge = CERTIFIED

    def pool_prior(self, m, pool, mean):
        return m.params.quality.high if pool & CERTIFIED and self.p.face_value else mean

    def decide(self, m, live, age):
        s, q = m.sellers, m.params.quality
        s.certified[live] = self.choose(m, live, age) == 1
        share = np.clip((s.quality[live] - q.low) / max(q.high - q.low, 1e-12), 0.0, 1.0)
        cost = self.p.cost_low + (self.p.cost_high - self.p.cost_low) * share
        s.extra_cost[live] += np.where(s.certified[live], cost, 0.0)

    def shows_badge(self, m, live):
        return m.sellers.certified[live] & (not self.p.reveals)

    def publish(self, m, live, mean, var):
        if not self.p.reveals:
            return mean, var
        return reveal(m, live, m.sellers.certified[live], mean, var)

    def collect(self, m, trades, offering, metrics):
        metrics["certified_share"] = share(m.sellers.certified[m.live_sellers()])
