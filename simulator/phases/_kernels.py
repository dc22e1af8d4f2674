"""Compiled forms of per-buyer phase rules that were a dozen numpy calls (a gather, an
operation, a scatter each) over thousands of buyers every step: trust after a trade or a
step without one (`learn`), idle steps and who leaves (`churn`).

Each loop does the numpy form's arithmetic in its order, so it gives the same bits;
tests/test_phase_kernels.py holds them to that numpy form. Parameters come per segment
(`MarketState.segment_trust`) and are looked up by each buyer's segment.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
