"""Compiled loops (numba) for the mechanisms whose numpy form made many passes and
temporaries over every buyer's candidates each step. Each gives the same numbers as the
numpy it replaced, element by element (same operations in the same order)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import numba_import  # noqa: F401  (before any kernel loads: see there)
from ..kernels import chunk


@njit(cache=True)
def personal_prices(cands, buyers, theta, mean_theta, capture, price, has_data, unit_cost):
    """(price asked, personal): where the candidate (-1 read as row 0) holds buyer data,
    its price scaled by the buyer's taste relative to `mean_theta`, never below unit cost."""
    asked = np.empty(cands.shape)
    personal = np.empty(cands.shape, dtype=np.bool_)
    _personal_rows(0, cands.shape[0], cands, buyers, theta, mean_theta, capture, price,
                   has_data, unit_cost, asked, personal)
    return asked, personal


@njit(cache=True, parallel=True)
def personal_prices_threaded(cands, buyers, theta, mean_theta, capture, price, has_data,
                             unit_cost, chunks):
    """`personal_prices` with the rows shared out in `chunks` runs to threads (compiled
    only when used): each cell's price is its own, so the same bits."""
    asked = np.empty(cands.shape)
    personal = np.empty(cands.shape, dtype=np.bool_)
    for c in prange(chunks):
        lo, hi = chunk(c, chunks, cands.shape[0])
        _personal_rows(lo, hi, cands, buyers, theta, mean_theta, capture, price, has_data,
                       unit_cost, asked, personal)
    return asked, personal


@njit(cache=True)
def _personal_rows(lo, hi, cands, buyers, theta, mean_theta, capture, price, has_data,
                   unit_cost, asked, personal):
    k = cands.shape[1]
    for i in range(lo, hi):
        scale = 1 + capture * (theta[buyers[i]] / mean_theta - 1)
        for c in range(k):
            j = max(cands[i, c], 0)
            personal[i, c] = has_data[j]
            if has_data[j]:
                custom, floor = price[i, c] * scale, unit_cost[j]
                # np.maximum: NaN wins
                asked[i, c] = custom if custom > floor or custom != custom else floor
            else:
                asked[i, c] = price[i, c]


@njit(cache=True)
def first_stories(tellers, talk, indptr, indices, active):
    """(listener, story): each active neighbour of the tellers who talk (rows beyond the
    network have none), in row order, with the index in `tellers` of the first teller it
    heard from."""
    n_rows = len(indptr) - 1
    first = np.full(n_rows, -1, dtype=np.int64)
    count = 0
    for t in range(len(tellers)):
        v = tellers[t]
        if not talk[t] or v >= n_rows:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            listener = indices[e]
            if first[listener] < 0 and active[listener]:
                first[listener] = t
                count += 1
    listeners = np.empty(count, dtype=np.int64)
    story = np.empty(count, dtype=np.int64)
    out = 0
    for row in range(n_rows):
        if first[row] >= 0:
            listeners[out] = row
            story[out] = first[row]
            out += 1
    return listeners, story


@njit(cache=True)
def append_listed(cands, looks, listed):
    """`cands` with the listed sellers as extra columns for buyers who look (-1 otherwise)."""
    n, k = cands.shape
    extra = len(listed)
    out = np.empty((n, k + extra), dtype=np.int64)
    for i in range(n):
        for c in range(k):
            out[i, c] = cands[i, c]
        for c in range(extra):
            out[i, k + c] = listed[c] if looks[i] else -1
    return out


@njit(cache=True)
def judge_claims(who, seller, quality, learnable, claim, tolerance, segment, gain, loss,
                 credibility):
    """Which trades fell short of the claim; in place, the credibility each buyer (one trade
    each) gives claims rises by its segment's gain or falls by its loss, where the seller's
    delivery could be learnt."""
    false = np.empty(len(who), dtype=np.bool_)
    for t in range(len(who)):
        short = quality[t] < claim[seller[t]] - tolerance
        false[t] = short
        if learnable[t]:
            i = who[t]
            c, g = credibility[i], segment[i]
            credibility[i] = c * (1 - loss[g]) if short else c + gain[g] * (1 - c)
    return false
