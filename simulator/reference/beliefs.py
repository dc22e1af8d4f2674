"""The compiled belief rules of `kernels` in numpy, step by step (the readable references):
`candidate_beliefs`, `claim_shift`, `review_shift`, with the same signatures."""

from __future__ import annotations

import numpy as np

EMPTY = -1


def candidate_beliefs(buyers, cands, pub_mean, pub_var, pool, pool_mean, pool_precision,
                      pool_sq, noise_var, action_var, all_learnable, remembers, slot_seller,
                      slot_mean, slot_precision):
    rows = np.broadcast_to(buyers[:, None], cands.shape)
    pv = pub_var[cands]
    hidden = np.ones(cands.shape, dtype=bool) if all_learnable else pv > 0
    public = np.isfinite(pv)
    b = pool[cands]
    pooled = pool_mean[rows, b]
    spread = np.maximum(pool_sq[rows, b] - pooled * pooled - noise_var, 0.0)
    mean = np.where(public, pub_mean[cands], pooled)
    var = np.where(public, pv + action_var, 1 / pool_precision[rows, b] + spread)
    slot = np.full(cands.shape, EMPTY, dtype=np.int64)
    if remembers:
        for s in range(slot_seller.shape[1] - 1, -1, -1):  # the lowest matching slot wins
            match = hidden & (slot_seller[rows, s] == cands)
            slot = np.where(match, s, slot)
        known = slot != EMPTY
        safe = np.maximum(slot, 0)
        mean = np.where(known, slot_mean[rows, safe], mean)
        with np.errstate(divide="ignore"):  # empty slots hold precision 0; not selected
            var = np.where(known, 1 / slot_precision[rows, safe], var)
    return mean, var, slot, hidden & (slot == EMPTY)


def claim_shift(mean, var, open_, buyers, cands, credibility, claim):
    w = np.where(open_, credibility[buyers][:, None], 0.0)
    mean[...] = (1 - w) * mean + w * claim[cands]
    var[...] = (1 - w) * var


def review_shift(mean, var, open_, cands, reading, rev_n, rev_sum, weight, rating_var):
    n = rev_n[cands]
    rated = open_ & (n > 1e-9)
    evidence = weight * reading[:, None] * n / rating_var
    prec = 1.0 / np.maximum(var, 1e-12)
    new_prec = prec + evidence
    score = rev_sum[cands] / np.maximum(n, 1e-12)
    mean[...] = np.where(rated, (prec * mean + evidence * score) / new_prec, mean)
    var[...] = np.where(rated, 1.0 / new_prec, var)
