"""Public ratings: buyers rate with some probability, ratings appear after a delay, and
each seller's score (a fading average, so it tracks recent behaviour) informs everyone.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class ReviewBoard:
    def __init__(self, params):
        self.p = params.reviews
        self.pending: deque[tuple[int, np.ndarray, np.ndarray]] = deque()

    def post(self, model, sellers: np.ndarray, delivered: np.ndarray) -> None:
        writes = model.rng.random(len(sellers)) < self.p.probability
        ratings = delivered[writes] + self.p.noise * model.rng.standard_normal(writes.sum())
        self.pending.append((model.steps + self.p.delay, sellers[writes], ratings))

    def publish_due(self, model) -> None:
        """Fade old scores, then publish the ratings whose delay is over."""
        s = model.sellers
        keep = 1.0 - self.p.decay
        s.rev_n[: s.size] *= keep
        s.rev_sum[: s.size] *= keep
        while self.pending and self.pending[0][0] <= model.steps:
            _, sellers, ratings = self.pending.popleft()
            np.add.at(s.rev_n, sellers, 1.0)
            np.add.at(s.rev_sum, sellers, ratings)
            np.add.at(s.rev_count, sellers, 1)

    def rating_var(self, model) -> float:
        return self.p.noise**2 + model.noise_var

    def combine(self, model, reading: np.ndarray, cands: np.ndarray, mean: np.ndarray,
                var: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normal-normal update of each candidate belief with the seller's public score,
        weighted per reader (its trust times how much its segment reads reviews)."""
        s = model.sellers
        n = s.rev_n[cands]
        rated = hidden & (n > 1e-9)
        if not rated.any():
            return mean, var
        score = np.where(rated, s.rev_sum[cands] / np.maximum(n, 1e-12), 0.0)
        evidence = np.where(rated, self.p.weight * reading[:, None] * n
                            / self.rating_var(model), 0.0)
        prec = 1.0 / np.maximum(var, 1e-12)
        new_prec = prec + evidence
        return (prec * mean + evidence * score) / new_prec, 1.0 / new_prec
