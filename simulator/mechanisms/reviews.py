"""Public ratings: buyers rate with some probability, ratings appear after a delay, and
each seller's score (a fading average, so it tracks recent behaviour) informs everyone.

A reader combines a seller's score with its own belief by precision, weighted
by its trust and by how much its segment reads reviews.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .base import Mechanism, share


class Reviews(Mechanism):
    name = "reviews"
    seller_columns = {
        "rev_n": (float, 0.0),  # fading number of published ratings
        "rev_sum": (float, 0.0),
        "rev_count": (np.int64, 0),  # ratings ever published
    }
    metrics = ("review_coverage", "review_coverage_top_half")

    def __init__(self, market):
        super().__init__(market)
        self.pending: deque[tuple[int, np.ndarray, np.ndarray]] = deque()

    def start_step(self, m) -> None:
        """Fade old scores, then publish the ratings whose delay is over."""
        s = m.sellers
        keep = 1.0 - self.p.decay
        s.rev_n[: s.size] *= keep
        s.rev_sum[: s.size] *= keep
        while self.pending and self.pending[0][0] <= m.now:
            _, sellers, ratings = self.pending.popleft()
            np.add.at(s.rev_n, sellers, 1.0)
            np.add.at(s.rev_sum, sellers, ratings)
            np.add.at(s.rev_count, sellers, 1)

    def adjust_beliefs(self, m, rules, buyers, cands, mean, var, open_):
        if not m.remembers:  # scores of sellers buyers cannot tell apart mean nothing
            return
        _, trust, segment, reading_by_segment, *score = self.belief_terms(m)
        rules.review_shift(mean, var, open_, cands,
                           trust[buyers] * reading_by_segment[segment[buyers]], *score)

    def belief_terms(self, m):
        """`adjust_beliefs`' terms as `shop_kernels.predictive_beliefs` takes them: a
        buyer reads a score with its trust times its segment's reading."""
        s, b = m.sellers, m.buyers
        # A rating is one delivery, as seen by its buyer.
        return (m.remembers, b.trust, b.segment, m.segment_reading, s.rev_n, s.rev_sum,
                float(self.p.weight), float(self.p.noise**2 + m.seller_obs_var))

    def after_trade(self, m, trades):
        writes = m.rng.random(len(trades.seller)) < self.p.probability
        ratings = trades.delivered[writes] + self.p.noise * m.rng.standard_normal(writes.sum())
        self.pending.append((m.now + self.p.delay, trades.seller[writes], ratings))

    def collect(self, m, trades, offering, metrics):
        s = m.sellers
        metrics["review_coverage"] = share(s.rev_count[offering] > 0)
        # The better half of the sellers on offer: a cold start shows here (no first sale,
        # no rating, no customers), where the average can hide it.
        top = offering[s.quality[offering] >= np.median(s.quality[offering])] if len(
            offering) else offering
        metrics["review_coverage_top_half"] = share(s.rev_count[top] > 0)
