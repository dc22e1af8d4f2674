"""Compiled forms of per-buyer phase rules that were a dozen numpy calls (a gather, an
operation, a scatter each) over thousands of buyers every step: what settlement reads of
each purchase (`settle`), trust after a trade or a step without one (`learn`), idle steps
and who leaves (`churn`), evidence heard outside a purchase (`hear`).

Each loop does the numpy form's arithmetic in its order, so it gives the same bits;
tests/test_phase_kernels.py holds them to that numpy form. Parameters come per segment
(`MarketState.segment_trust`) and are looked up by each buyer's segment.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import numba_import  # noqa: F401  (before any kernel loads: see there)
from ..kernels import open_slots, update_distinct
from ..shop_kernels import predictive_beliefs


@njit(cache=True)
def trust_after_step(trust, last_gap, losses, segment, who, expected, delivered, tolerance,
                     gain, loss, refused, leave_below, idle_loss):
    """In place. Buyers `who` (distinct: one trade each) gain trust after a purchase that
    delivered at least what they expected less `tolerance`, and lose a share `loss` of it
    after one that did not. Buyers `refused` (found nothing worth buying) lose a share
    `idle_loss`, but not below where a single disappointment would make them leave."""
    for e in range(who.shape[0]):
        r = who[e]
        k = segment[r]
        before = trust[r]
        good = delivered[e] >= expected[e] - tolerance[k]
        if good:
            trust[r] = before + gain[k] * (1 - before)
        else:
            trust[r] = before * (1 - loss[k])
            losses[r] += 1
        last_gap[r] = expected[e] - delivered[e]
    for e in range(refused.shape[0]):
        r = refused[e]
        k = segment[r]
        kept = 1 - loss[k]
        floor = leave_below[k] / (kept if kept > 1e-12 else 1e-12)
        before = trust[r]
        worn = before * (1 - idle_loss[k])
        low = before if before < floor else floor
        trust[r] = worn if worn > low else low


@njit(cache=True)
def idle_and_leaving(idle, active, trust, segment, start, traded, leave_below, lapse):
    """In place, the idle count: one more step for every buyer active at the start,
    none for those who traded. Returns the rows (ascending) of active buyers who leave:
    trust below `leave_below`, or idle `lapse` steps in a row (lapse 0: never)."""
    for r in start:
        idle[r] += 1
    for r in traded:
        idle[r] = 0
    n = active.shape[0]
    leaving = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        if active[i]:
            k = segment[i]
            if trust[i] < leave_below[k] or (lapse[k] > 0 and idle[i] >= lapse[k]):
                leaving[count] = i
                count += 1
    return leaving[:count].copy()


@njit(cache=True)
def purchases(pick, wanted, buyers, cands, price, mean, var, slot, extra, pub_var, segment,
              theta):
    """What settlement needs of each purchase, gathered in one pass over the shoppers
    (`pick`: column bought, -1: none; `wanted`: found something worth buying):
    (rows of the shoppers who bought, buyer, segment, taste, seller, price, expected
    quality, its variance, memory slot, switching cost, bought blind; and the buyers who
    found nothing worth buying). Blind: from a seller with no public quality that the
    buyer had no memory of."""
    n = pick.shape[0]
    count = 0
    for i in range(n):
        count += pick[i] >= 0
    rows, who = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    seller, own = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    seg = np.empty(count, dtype=segment.dtype)
    taste, paid, expected = np.empty(count), np.empty(count), np.empty(count)
    belief_var, switching = np.empty(count), np.empty(count)
    blind = np.empty(count, dtype=np.bool_)
    refused = np.empty(n - count, dtype=np.int64)
    e = f = 0
    for i in range(n):
        c = pick[i]
        if c < 0:
            if not wanted[i]:
                refused[f] = buyers[i]
                f += 1
            continue
        r, j = buyers[i], cands[i, c]
        rows[e], who[e], seg[e], taste[e], seller[e] = i, r, segment[r], theta[r], j
        paid[e], expected[e], belief_var[e] = price[i, c], mean[i, c], var[i, c]
        own[e], switching[e] = slot[i, c], extra[i, c]
        blind[e] = np.isinf(pub_var[j]) and slot[i, c] == -1
        e += 1
    return (rows, who, seg, taste, seller, paid, expected, belief_var, own, switching, blind,
            refused[:f].copy())


@njit(cache=True)
def hear(buyers, sellers, observed, weight, beliefs, claims, reviews, slot_used, obs_var,
         now):
    """`learn.hear` where buyers remember sellers (buyers distinct, as there), in its
    steps: the entries whose seller's delivery is learnable and whose weight is positive;
    each buyer's slot for its seller (the lowest), else a new one (`kernels.open_slots`)
    starting from `shop_kernels.predictive_beliefs`' belief less delivery noise; then the
    update with `observed` worth 1 / (obs_var / weight) (`kernels.update_distinct`).
    `beliefs`, `claims`, `reviews`: `shop_kernels.predictive_beliefs`' terms."""
    slot_seller, slot_mean, slot_precision = beliefs[10:]
    pub_var, all_learnable, noise_var = beliefs[1], beliefs[8], beliefs[6]
    memory = slot_seller.shape[1]
    keep = np.empty(buyers.shape[0], dtype=np.int64)
    n = 0
    for e in range(buyers.shape[0]):
        if weight[e] > 0 and (all_learnable or pub_var[sellers[e]] > 0):  # `learnable`
            keep[n] = e
            n += 1
    keep = keep[:n]
    who, seller = buyers[keep], sellers[keep]
    slot = np.full(n, -1, dtype=np.int64)
    for e in range(n):
        for r in range(memory):
            if slot_seller[who[e], r] == seller[e]:
                slot[e] = r
                break
    first = np.flatnonzero(slot == -1)  # a first impression: what it would have expected
    mean, var, _ = predictive_beliefs(who[first], seller[first].reshape(-1, 1), beliefs,
                                      claims, reviews, noise_var)
    prior_mean, prior_precision = np.zeros(n), np.ones(n)
    for f in range(first.shape[0]):
        spread = var[f, 0] - noise_var
        prior_mean[first[f]] = mean[f, 0]
        prior_precision[first[f]] = 1 / (spread if not spread < 1e-9 else 1e-9)  # np.maximum
    open_slots(slot_seller, slot_used, slot_mean, slot_precision, who, seller, prior_mean,
               prior_precision, slot, now)
    info = np.empty(n)
    for e in range(n):
        info[e] = 1.0 / (obs_var / weight[keep[e]])
    update_distinct(slot_mean.reshape(-1), slot_precision.reshape(-1), None,
                    who * memory + slot, info, observed[keep], None)
