"""Buyers' beliefs about quality: normal-normal Bayesian updating in bounded memory.

Each buyer holds one belief about the market's average quality (what an
unknown seller is worth) and individual beliefs about at most `memory`
sellers it has bought from, in least-recently-used slots. So memory grows with
buyers x memory, never with buyers x sellers.

Beliefs are about a mean and carry a precision (1 / variance). Every step a
share `forgetting` of precision is lost (a Kalman filter with drift), so a
buyer keeps learning when the market changes under it, as it does when good
sellers withdraw. A pooled belief also tracks the second moment of what it
observes, with the same weights, so a buyer learns how much what is on offer
varies (when only lemons are left, they vary little) and not only its mean.
A remembered seller's belief drifts back toward what the buyer expects of an
unknown seller (`forgive`), so no memory, good or bad, is for ever.
"""

from __future__ import annotations

import numpy as np

from . import kernels

EMPTY = -1


class BeliefStore:
    """Pooled beliefs (one per kind of seller buyers can tell apart: `pools`) and
    individual beliefs in `memory` least-recently-used slots per buyer."""

    def __init__(self, capacity: int, memory: int, prior_mean, prior_precision: float,
                 forgetting: float, pools: int = 1, prior_obs_var: float = 0.0):
        # One prior mean per pool (a badge may start with the benefit of the doubt).
        self.prior_mean = np.broadcast_to(np.asarray(prior_mean, dtype=float), (pools,)).copy()
        # Prior second moment of an observation: the population's spread plus noise.
        self.prior_sq = self.prior_mean**2 + prior_obs_var
        self.prior_precision = prior_precision
        self.forgetting = forgetting
        self.memory = memory
        self.pools = pools
        self.pool_mean = np.tile(self.prior_mean, (capacity, 1))
        self.pool_precision = np.full((capacity, pools), prior_precision)
        self.pool_sq = np.tile(self.prior_sq, (capacity, 1))
        self.slot_seller = np.full((capacity, memory), EMPTY, dtype=np.int64)
        self.slot_mean = np.zeros((capacity, memory))
        self.slot_precision = np.zeros((capacity, memory))
        self.slot_used = np.zeros((capacity, memory), dtype=np.int64)

    def grow(self, capacity: int) -> None:
        extra = capacity - len(self.pool_mean)
        if extra <= 0:
            return
        m, k = self.memory, self.pools
        self.pool_mean = np.concatenate([self.pool_mean, np.tile(self.prior_mean, (extra, 1))])
        self.pool_precision = np.concatenate(
            [self.pool_precision, np.full((extra, k), self.prior_precision)])
        self.pool_sq = np.concatenate([self.pool_sq, np.tile(self.prior_sq, (extra, 1))])
        self.slot_seller = np.concatenate(
            [self.slot_seller, np.full((extra, m), EMPTY, dtype=np.int64)])
        self.slot_mean = np.concatenate([self.slot_mean, np.zeros((extra, m))])
        self.slot_precision = np.concatenate([self.slot_precision, np.zeros((extra, m))])
        self.slot_used = np.concatenate([self.slot_used, np.zeros((extra, m), dtype=np.int64)])

    def reset(self, rows: np.ndarray) -> None:
        """New buyers (or recycled rows) start from the common prior and know nobody."""
        self.pool_mean[rows] = self.prior_mean
        self.pool_precision[rows] = self.prior_precision
        self.pool_sq[rows] = self.prior_sq
        self.slot_seller[rows] = EMPTY
        self.slot_precision[rows] = 0.0

    def fade(self, forgiveness: float, seller_pool: np.ndarray, pub_mean: np.ndarray,
             pub_var: np.ndarray, now: int, rows: int | None = None) -> None:
        """Once a step: every belief loses a share `forgetting` of its precision, and each
        remembered seller the buyer has not bought from in the last step drifts a share
        `forgiveness` back toward what the buyer would expect of it as a stranger (its
        public quality, else the pooled belief about its badge pool): a memory that is not
        refreshed fades, good or bad. Only the first `rows` rows (all: None) hold buyers;
        the rest start from the prior when a buyer arrives there (`reset`)."""
        keep = 1.0 - self.forgetting
        n = len(self.pool_mean) if rows is None else rows
        if keep < 1.0 or forgiveness > 0:  # one compiled pass over the pooled and slot beliefs
            kernels.threaded(kernels.fade, kernels.fade_threaded, self.pool_precision[:n],
                             self.slot_precision[:n], self.slot_mean[:n],
                             self.slot_seller[:n], self.slot_used[:n], now - 1, keep,
                             self.prior_precision, forgiveness, self.pool_mean[:n],
                             np.ascontiguousarray(seller_pool, dtype=np.int64), pub_mean,
                             pub_var)

    def pool_spread(self, rows: np.ndarray, pools, noise_var: float) -> np.ndarray:
        """Spread (variance) of quality among the sellers these pooled beliefs are about,
        as learnt from observations (each of which carries delivery noise)."""
        mean = self.pool_mean[rows, pools]
        return np.maximum(self.pool_sq[rows, pools] - mean * mean - noise_var, 0.0)

    def find(self, buyers: np.ndarray, sellers: np.ndarray) -> np.ndarray:
        """Slot index of each (buyer, seller) pair, or -1 if the buyer does not know it.

        `buyers` has shape (n,) and `sellers` shape (n,) or (n, k).
        """
        two_d = sellers if sellers.ndim == 2 else sellers[:, None]
        out = kernels.find_slots(self.slot_seller, np.ascontiguousarray(buyers, dtype=np.int64),
                                 np.ascontiguousarray(two_d, dtype=np.int64))
        return out if sellers.ndim == 2 else out[:, 0]

    def remember(self, buyers: np.ndarray, sellers: np.ndarray, prior_mean: np.ndarray,
                 prior_precision: np.ndarray, now: int, slot: np.ndarray | None = None
                 ) -> np.ndarray:
        """Slots for (buyer, seller) pairs, opening one (evicting the oldest) where needed.

        `slot` may pass in what `find` already returned for these pairs.
        """
        slot = (self.find(buyers, sellers) if slot is None else slot).astype(np.int64)
        # Free slots first, then the least recently used (compiled: a numpy version of
        # this pass was a tenth of a step at a million buyers; the reference is below).
        kernels.open_slots(self.slot_seller, self.slot_used, self.slot_mean,
                           self.slot_precision, np.ascontiguousarray(buyers, dtype=np.int64),
                           np.ascontiguousarray(sellers, dtype=np.int64),
                           np.ascontiguousarray(prior_mean, dtype=float),
                           np.ascontiguousarray(prior_precision, dtype=float),
                           slot, now)
        return slot

    def remember_reference(self, buyers, sellers, prior_mean, prior_precision, now,
                           slot=None) -> np.ndarray:
        """`remember` in numpy (what the compiled pass must equal)."""
        slot = self.find(buyers, sellers) if slot is None else slot.copy()
        new = slot == EMPTY
        if new.any():
            nb = buyers[new]
            used = np.where(self.slot_seller[nb] == EMPTY, -1, self.slot_used[nb])
            victim = used.argmin(axis=1)
            self.slot_seller[nb, victim] = sellers[new]
            self.slot_mean[nb, victim] = prior_mean[new]
            self.slot_precision[nb, victim] = prior_precision[new]
            slot[new] = victim
        self.slot_used[buyers, slot] = now
        return slot

    def update_pool(self, buyers: np.ndarray, pools: np.ndarray | int, observed: np.ndarray,
                    obs_var: np.ndarray | float, observed_sq: np.ndarray | None = None,
                    distinct: bool = False) -> None:
        """Normal-normal update; repeated (buyer, pool) pairs all count (information form).
        `distinct`: the caller knows no pair repeats (the market's news to every buyer), so
        the per-cell totals are the entries themselves and need no sort."""
        if len(buyers) == 0:
            return
        n = len(buyers)
        pools = _per_entry(pools, n)
        info = _per_entry(1.0 / np.asarray(obs_var, dtype=float), n)
        m, t, sq = (self.pool_mean.reshape(-1), self.pool_precision.reshape(-1),
                    self.pool_sq.reshape(-1))
        if distinct:  # one compiled pass, with the arithmetic below
            kernels.update_distinct(m, t, sq, buyers * self.pools + pools, info,
                                    _per_entry(observed, n),
                                    None if observed_sq is None else _per_entry(observed_sq, n))
            return
        sums = [info * observed, info * (observed**2 if observed_sq is None else observed_sq)]
        target, add_prec, (add_sum, add_sq) = _gather(buyers * self.pools + pools, info, sums)
        new_prec = t[target] + add_prec
        m[target] = (t[target] * m[target] + add_sum) / new_prec
        sq[target] = (t[target] * sq[target] + add_sq) / new_prec
        t[target] = new_prec

    def update_slots(self, buyers: np.ndarray, slots: np.ndarray, observed: np.ndarray,
                     obs_var: np.ndarray | float, distinct: bool = False) -> None:
        """Normal-normal update of remembered sellers; `distinct` as in `update_pool`."""
        self._update(self.slot_mean, self.slot_precision, buyers, slots, observed, obs_var,
                     distinct)

    @staticmethod
    def _update(mean, precision, rows, cols, observed, obs_var, distinct=False) -> None:
        if len(rows) == 0:
            return
        info = _per_entry(1.0 / np.asarray(obs_var, dtype=float), len(rows))
        m, t = mean.reshape(-1), precision.reshape(-1)
        if distinct:  # one compiled pass, with the arithmetic below
            kernels.update_distinct(m, t, None, rows * mean.shape[1] + cols, info,
                                    _per_entry(observed, len(rows)), None)
            return
        target, add_prec, (add_sum,) = _gather(rows * mean.shape[1] + cols, info,
                                               [info * observed])
        new_prec = t[target] + add_prec
        m[target] = (t[target] * m[target] + add_sum) / new_prec
        t[target] = new_prec

    def forget_seller(self, sellers: np.ndarray) -> None:
        """Sellers that left the market drop out of every buyer's memory."""
        if len(sellers):
            gone = np.zeros(max(int(sellers.max()), int(self.slot_seller.max())) + 1, dtype=bool)
            gone[sellers] = True
            kernels.forget_sellers(self.slot_seller, self.slot_used, gone)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.pool_mean, self.pool_precision, self.pool_sq,
                                      self.slot_seller,
                                      self.slot_mean, self.slot_precision, self.slot_used))


def _per_entry(x, n: int) -> np.ndarray:
    """`x` as one value per entry of an update of n entries (a scalar repeated; an array
    as it is). np.broadcast_to would do, at 7 us a call on its own and up to 30 mid-step."""
    x = np.asarray(x)
    return x if x.ndim == 1 else np.full(n, x)


def _gather(flat: np.ndarray, info: np.ndarray, sums: list[np.ndarray]):
    """Distinct cells, and per cell the total information and the totals of `sums`
    (repeated cells all count: the information form of the normal update)."""
    target, inverse = np.unique(flat, return_inverse=True)
    add = [np.bincount(inverse, weights=w, minlength=len(target)) for w in sums]
    return target, np.bincount(inverse, weights=info, minlength=len(target)), add
