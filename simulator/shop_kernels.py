"""Compiled loops (numba) of the step-by-step shop (`phases.shop.shop`, the path of markets
mechanisms shop in), each giving the numbers of the numpy it replaced, bit for bit
(tests/test_shop_kernels.py holds them to it).

`cell_values`: in numpy, valuing the cells was a gather of each buyer's taste, a square
root of every variance, a gather of every cell's warranty floor, the compiled CPT loop
over (buyer, candidate) arrays, then -inf written where a buyer has no candidate: five
temporaries the size of every buyer's candidates. Here each valid cell goes straight
into the valuation's block buffers (the same `kernels` block code `kernels.lottery_values`
and the one-pass shop use, so the same operations in the same order), and cells without
a candidate cost nothing. `phases.shop.value_cells(compiled=False)` is the reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import kernels


@njit(cache=True, error_model="numpy")
def _flush(count, cell, has_floor, valuation, fast, prune, rest, tables, scratch, kept, dest,
           value):
    """Values of the `count` lotteries in the block's buffers into their cells of the flat
    `value`; returns the blocks left before bounds are tried again (`kernels._pause`)."""
    z, probs, gain_w, loss_w, alpha, beta, lam, expectation = valuation
    valued = kernels._value_block(count, has_floor, z, probs, gain_w, loss_w, alpha, beta,
                                  lam, expectation, fast, prune, prune and rest == 0, tables,
                                  scratch, kept, dest)
    for lot in range(count):
        value[cell[lot]] = dest[lot]
    return kernels._pause(rest, valued, count)


@njit(cache=True, error_model="numpy")
def cell_values(rows, buyers, cands, theta, mean, var, cost, pool, floors, has_floor,
                valuation, fast, prune, tables, block, value):
    """value[i, c] for each row i in `rows`: the CPT value (`valuation`: z, probs, gain_w,
    loss_w, alpha, beta, lam, expectation) of theta[buyers[i]] * max(q, floor) - cost[i, c]
    with q ~ N(mean[i, c], var[i, c]) and floor = floors[pool[cands[i, c]]] (read if
    has_floor); -inf where cands[i, c] < 0. With `prune`, values below `tables`' cutoff
    may be -inf (`kernels.lottery_values`: the others, and which are below it, are exact).
    """
    k = cands.shape[1]
    nodes = valuation[0].shape[0]
    scratch = kernels._scratch(nodes, block)
    kept = kernels._prune_scratch(nodes, block)
    t, m, s, p, f = scratch[:5]
    cell = np.empty(block, dtype=np.int64)
    dest = np.empty(block)
    flat = value.reshape(-1)
    count = 0
    rest = 0  # blocks left before pruning is tried again
    for r in range(rows.shape[0]):
        i = rows[r]
        taste = theta[buyers[i]]
        for c in range(k):
            j = cands[i, c]
            if j < 0:
                value[i, c] = -np.inf
                continue
            t[count], m[count], s[count] = taste, mean[i, c], np.sqrt(var[i, c])
            p[count] = cost[i, c]
            f[count] = floors[pool[j]] if has_floor else -np.inf
            cell[count] = i * k + c
            count += 1
            if count == block:
                rest = _flush(count, cell, has_floor, valuation, fast, prune, rest, tables,
                              scratch, kept, dest, flat)
                count = 0
    if count:
        _flush(count, cell, has_floor, valuation, fast, prune, rest, tables, scratch, kept,
               dest, flat)


@njit(cache=True)
def first_choices(value, acceptable):
    """(pick, wanted) where nobody is turned away: the column of each row's best value
    (np.argmax: the first maximum, or the first NaN) if it is acceptable, else -1; and
    whether any of the row's cells is acceptable."""
    n, k = value.shape
    pick = np.empty(n, dtype=np.int64)
    wanted = np.empty(n, dtype=np.bool_)
    for i in range(n):
        best, top = 0, value[i, 0]
        if top == top:
            for c in range(1, k):
                v = value[i, c]
                if v != v:
                    best = c
                    break
                if v > top:
                    best, top = c, v
        pick[i] = best if acceptable[i, best] else -1
        any_ = False
        for c in range(k):
            any_ = any_ or acceptable[i, c]
        wanted[i] = any_
    return pick, wanted
