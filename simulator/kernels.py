"""Compiled inner loops (numba) for the one computation that dominates a step.

Every buyer values every candidate as a small CPT lottery each step. In
numpy that is a dozen passes over a (buyers x candidates x nodes) array and
its temporaries; fused into one loop it takes about half the time, and the
belief look-ups below several times less (numbers in docs/performance.md).
`Valuation` keeps the numpy formulation as the readable reference, and the
tests hold the two equal to 1e-10.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _cpt(x, j, alpha, beta, lam, gain_w, loss_w):
    if x >= 0.0:
        return gain_w[j] * x**alpha
    return -lam * loss_w[j] * (-x) ** beta


@njit(cache=True)
def _lottery_value(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                   alpha, beta, lam, expectation):
    """CPT value of theta * max(mean + sd z_j, floor) - price over the nodes (sorted)."""
    nodes = z.shape[0]
    if expectation:
        expected = 0.0
        for j in range(nodes):
            q = mean + sd * z[j]
            if has_floor and q < floor:
                q = floor
            expected += probs[j] * (theta * q - price)
    else:
        expected = 0.0
    total = 0.0
    for j in range(nodes):
        q = mean + sd * z[j]
        if has_floor and q < floor:
            q = floor
        total += _cpt(theta * q - price - expected, j, alpha, beta, lam, gain_w, loss_w)
    return expected + total


@njit(cache=True)
def lottery_values(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                   alpha, beta, lam, expectation):
    """Values for 2-d arrays of (buyer, candidate) beliefs and prices."""
    n, k = mean.shape
    out = np.empty((n, k))
    for i in range(n):
        for c in range(k):
            fl = floor[i, c] if has_floor else 0.0
            out[i, c] = _lottery_value(theta[i, c], mean[i, c], sd[i, c], price[i, c], fl,
                                       has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                                       expectation)
    return out


@njit(cache=True)
def reservation_prices(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                       alpha, beta, lam, expectation, iterations):
    """Per buyer, the highest price whose lottery value is still >= 0 (bisection)."""
    n = mean.shape[0]
    out = np.empty(n)
    for i in range(n):
        fl = floor[i] if has_floor else 0.0
        q_lo = mean[i] + sd[i] * z[0]
        q_hi = mean[i] + sd[i] * z[z.shape[0] - 1]
        if has_floor:
            q_lo, q_hi = max(q_lo, fl), max(q_hi, fl)
        lo, hi = theta[i] * q_lo - 1.0, theta[i] * q_hi + 1.0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            if _lottery_value(theta[i], mean[i], sd[i], mid, fl, has_floor, z, probs, gain_w,
                              loss_w, alpha, beta, lam, expectation) >= 0.0:
                lo = mid
            else:
                hi = mid
        out[i] = lo
    return out


@njit(cache=True)
def find_slots(slot_seller, buyers, sellers):
    """Slot of each (buyer, seller) pair in the buyers' memories, -1 if not remembered
    (the lowest matching slot wins); `sellers` is (n, k)."""
    n, k = sellers.shape
    memory = slot_seller.shape[1]
    out = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        row = buyers[i]
        for c in range(k):
            target = sellers[i, c]
            for m in range(memory):
                if slot_seller[row, m] == target:
                    out[i, c] = m
                    break
    return out


@njit(cache=True)
def fade_slots(precision, mean, seller, keep, floor, rate, pool_mean, seller_pool, pub_mean,
               pub_var):
    """In place: remembered beliefs lose a share `1 - keep` of precision (never below
    `floor`), and their means drift a share `rate` toward what the buyer would expect of
    that seller as a stranger: its public quality where there is any, else the buyer's
    pooled belief about sellers of its badge pool."""
    n, memory = precision.shape
    for i in range(n):
        for m in range(memory):
            j = seller[i, m]
            if j >= 0:
                p = precision[i, m] * keep
                precision[i, m] = p if p > floor else floor
                if rate > 0.0:
                    if np.isfinite(pub_var[j]):
                        target = pub_mean[j]
                    else:
                        target = pool_mean[i, seller_pool[j]]
                    mean[i, m] += rate * (target - mean[i, m])


@njit(cache=True)
def candidate_beliefs(buyers, cands, pub_mean, pub_var, pool, pool_mean, pool_precision,
                      pool_sq, noise_var, action_var, all_learnable, remembers, slot_seller,
                      slot_mean, slot_precision):
    """Each buyer's normal belief (mean, variance, before delivery noise) about each
    candidate's quality: public information, else the pooled belief of the seller's badge
    pool (uncertainty about the pool's mean plus the spread of quality in it, learnt from
    observations that carry noise `noise_var`); the buyer's own belief where it remembers
    the seller. Also the memory slot it came
    from (-1: none) and which cells are open to other evidence (learnable, not remembered).
    Same rule as `reference.beliefs.candidate_beliefs`."""
    n, k = cands.shape
    memory = slot_seller.shape[1]
    mean = np.empty((n, k))
    var = np.empty((n, k))
    slot = np.full((n, k), -1, dtype=np.int64)
    open_ = np.zeros((n, k), dtype=np.bool_)
    for i in range(n):
        row = buyers[i]
        for c in range(k):
            j = cands[i, c]
            pv = pub_var[j]
            hidden = all_learnable or pv > 0.0
            if np.isfinite(pv):
                m, v = pub_mean[j], pv + action_var
            else:
                b = pool[j]
                m = pool_mean[row, b]
                spread = max(pool_sq[row, b] - m * m - noise_var, 0.0)
                v = 1.0 / pool_precision[row, b] + spread
            open_[i, c] = hidden
            if remembers and hidden:
                for s in range(memory):
                    if slot_seller[row, s] == j:
                        slot[i, c] = s
                        open_[i, c] = False
                        m, v = slot_mean[row, s], 1.0 / slot_precision[row, s]
                        break
            mean[i, c] = m
            var[i, c] = v
    return mean, var, slot, open_


@njit(cache=True)
def claim_shift(mean, var, open_, buyers, cands, credibility, claim):
    """In place: where a cell is open to evidence, the belief moves toward the seller's
    claim by the buyer's credibility, and its variance shrinks in proportion."""
    n, k = cands.shape
    for i in range(n):
        w = credibility[buyers[i]]
        for c in range(k):
            if open_[i, c]:
                mean[i, c] = (1 - w) * mean[i, c] + w * claim[cands[i, c]]
                var[i, c] = (1 - w) * var[i, c]


@njit(cache=True)
def review_shift(mean, var, open_, cands, reading, rev_n, rev_sum, weight, rating_var):
    """In place: normal-normal update of open cells with the seller's public score
    (rev_sum / rev_n, worth weight x reading x rev_n ratings of variance rating_var)."""
    n, k = cands.shape
    for i in range(n):
        for c in range(k):
            j = cands[i, c]
            if open_[i, c] and rev_n[j] > 1e-9:
                evidence = weight * reading[i] * rev_n[j] / rating_var
                prec = 1.0 / max(var[i, c], 1e-12)
                new_prec = prec + evidence
                score = rev_sum[j] / max(rev_n[j], 1e-12)
                mean[i, c] = (prec * mean[i, c] + evidence * score) / new_prec
                var[i, c] = 1.0 / new_prec
