"""Buyers' beliefs about quality: normal-normal Bayesian updating in bounded memory.

Each buyer holds one belief about the market's average quality (what an
unknown seller is worth) and individual beliefs about at most `memory`
sellers it has bought from, in least-recently-used slots. So memory grows with
buyers x memory, never with buyers x sellers.

Beliefs are about a mean and carry a precision (1 / variance). Every step a
share `forgetting` of precision is lost (a Kalman filter with drift), so a
buyer keeps learning when the market changes under it, as it does when good
sellers withdraw.
"""

from __future__ import annotations

import numpy as np

EMPTY = -1


class BeliefStore:
    def __init__(self, capacity: int, memory: int, prior_mean: float, prior_precision: float,
                 forgetting: float):
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.forgetting = forgetting
        self.memory = memory
        self.pool_mean = np.full(capacity, prior_mean)
        self.pool_precision = np.full(capacity, prior_precision)
        self.slot_seller = np.full((capacity, memory), EMPTY, dtype=np.int64)
        self.slot_mean = np.zeros((capacity, memory))
        self.slot_precision = np.zeros((capacity, memory))
        self.slot_used = np.zeros((capacity, memory), dtype=np.int64)

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.pool_mean)
        if extra <= 0:
            return
        m = self.memory
        self.pool_mean = np.concatenate([self.pool_mean, np.full(extra, self.prior_mean)])
        self.pool_precision = np.concatenate(
            [self.pool_precision, np.full(extra, self.prior_precision)])
        self.slot_seller = np.concatenate(
            [self.slot_seller, np.full((extra, m), EMPTY, dtype=np.int64)])
        self.slot_mean = np.concatenate([self.slot_mean, np.zeros((extra, m))])
        self.slot_precision = np.concatenate([self.slot_precision, np.zeros((extra, m))])
        self.slot_used = np.concatenate([self.slot_used, np.zeros((extra, m), dtype=np.int64)])

    def reset(self, rows: np.ndarray) -> None:
        """New buyers (or recycled rows) start from the common prior and know nobody."""
        self.pool_mean[rows] = self.prior_mean
        self.pool_precision[rows] = self.prior_precision
        self.slot_seller[rows] = EMPTY
        self.slot_precision[rows] = 0.0

    def forget(self) -> None:
        keep = 1.0 - self.forgetting
        if keep < 1.0:
            np.maximum(self.pool_precision * keep, self.prior_precision, out=self.pool_precision)
            np.maximum(self.slot_precision * keep, self.prior_precision, out=self.slot_precision,
                       where=self.slot_seller != EMPTY)

    def find(self, buyers: np.ndarray, sellers: np.ndarray) -> np.ndarray:
        """Slot index of each (buyer, seller) pair, or -1 if the buyer does not know it.

        `buyers` has shape (n,) and `sellers` shape (n,) or (n, k).
        """
        slots = self.slot_seller[buyers]  # (n, memory)
        if sellers.ndim == 1:
            hit = slots == sellers[:, None]
        else:
            hit = slots[:, None, :] == sellers[:, :, None]  # (n, k, memory)
        found = hit.any(axis=-1)
        return np.where(found, hit.argmax(axis=-1), EMPTY)

    def remember(self, buyers: np.ndarray, sellers: np.ndarray, prior_mean: np.ndarray,
                 prior_precision: np.ndarray, now: int) -> np.ndarray:
        """Slots for (buyer, seller) pairs, opening one (evicting the oldest) where needed."""
        slot = self.find(buyers, sellers)
        new = slot == EMPTY
        if new.any():
            nb = buyers[new]
            victim = self.slot_used[nb].argmin(axis=1)
            self.slot_seller[nb, victim] = sellers[new]
            self.slot_mean[nb, victim] = prior_mean[new]
            self.slot_precision[nb, victim] = prior_precision[new]
            slot[new] = victim
        self.slot_used[buyers, slot] = now
        return slot

    def update_pool(self, buyers: np.ndarray, observed: np.ndarray, obs_var: float) -> None:
        tau = self.pool_precision[buyers] + 1.0 / obs_var
        gain = 1.0 / (obs_var * tau)
        self.pool_mean[buyers] += gain * (observed - self.pool_mean[buyers])
        self.pool_precision[buyers] = tau

    def update_slots(self, buyers: np.ndarray, slots: np.ndarray, observed: np.ndarray,
                     obs_var: float) -> None:
        tau = self.slot_precision[buyers, slots] + 1.0 / obs_var
        gain = 1.0 / (obs_var * tau)
        self.slot_mean[buyers, slots] += gain * (observed - self.slot_mean[buyers, slots])
        self.slot_precision[buyers, slots] = tau

    def forget_seller(self, sellers: np.ndarray) -> None:
        """Sellers that left the market drop out of every buyer's memory."""
        if len(sellers):
            gone = np.isin(self.slot_seller, sellers)
            self.slot_seller[gone] = EMPTY
            self.slot_used[gone] = 0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.pool_mean, self.pool_precision, self.slot_seller,
                                      self.slot_mean, self.slot_precision, self.slot_used))
