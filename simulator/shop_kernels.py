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

`best_values`: where nobody is turned away and nothing rules cells out after valuation,
a buyer needs only its best cell and whether it beats the outside option; in the
every-mechanism market three cells in four are below their row's best for certain. A
bound by Jensen's inequality on the gains' weighted mean payoff (a few operations per
cell, no power) leaves out nine in ten of those, and the kernels' binade bounds most of
the rest; a cell whose lottery is its row's pivot's again (the seller drawn twice) takes
the pivot's value.

`first_choices`: `phases.shop.allocate`'s rule without capacity limits; `allocate`: its
rounds with them (in numpy a dozen calls a round: a sort by seller, ranks, counts).

`candidates`: the current seller and the sampled ones in one pass, instead of a gather,
the memory look-up, `np.where` and `np.concatenate`.

`predictive_beliefs`: `kernels.candidate_beliefs`, then the claims' and reviews' shifts
(`kernels.claim_shift`, `kernels.review_shift`) and delivery noise, in one pass; a
remembered seller is found through `seen` by seller row (the one-pass shop's look-up),
not by a scan of the buyer's memory slots.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import kernels, power


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
    count = np.int64(0)
    rest = np.int64(0)  # blocks left before pruning is tried again
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
def candidates(buyers, draws, offering, last_seller, seller_offering, remembers):
    """(cands, has_current): per buyer its current seller in column 0 where it remembers
    one that still offers (else -1), then offering[draws] (`phases.shop.candidates`'
    rule, with its numpy as reference)."""
    n, k = draws.shape
    cands = np.empty((n, k + 1), dtype=np.int64)
    has_current = np.empty(n, dtype=np.bool_)
    for i in range(n):
        current = last_seller[buyers[i]] if remembers else -1
        has = current >= 0 and seller_offering[current]
        has_current[i] = has
        cands[i, 0] = current if has else -1
        for c in range(k):
            cands[i, c + 1] = offering[draws[i, c]]
    return cands, has_current


def first_choices(value, acceptable, threshold=None):
    """(pick, wanted) where nobody is turned away: the column of each row's best value
    (np.argmax: the first maximum, or the first NaN) if it is acceptable, else -1; and
    whether any of the row's cells is acceptable. With `acceptable` None, a cell is
    acceptable where value >= threshold[row] (no array of them is made)."""
    if acceptable is None:
        return _first_choices(value, _NO_CELLS, threshold, True)
    return _first_choices(value, acceptable, _NO_ROWS, False)


_NO_CELLS, _NO_ROWS = np.zeros((0, 0), dtype=np.bool_), np.zeros(0)


@njit(cache=True)
def _first_choices(value, acceptable, threshold, by_threshold):
    """`first_choices`: acceptable cells read from `acceptable`, or with `by_threshold`
    worked out from `threshold`."""
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
        if by_threshold:
            pick[i] = best if value[i, best] >= threshold[i] else -1
            any_ = False
            for c in range(k):
                any_ = any_ or value[i, c] >= threshold[i]
        else:
            pick[i] = best if acceptable[i, best] else -1
            any_ = False
            for c in range(k):
                any_ = any_ or acceptable[i, c]
        wanted[i] = any_
    return pick, wanted


@njit(cache=True)
def allocate(cands, value, acceptable, capacity, priority, sellers):
    """`phases.shop.allocate` with capacity limits, its rounds in one pass each: every
    open buyer proposes to the next candidate on its list (its columns by value, highest
    first, ties in column order, NaN last: np.argsort(-value, kind="stable")); a buyer
    whose proposal is not acceptable stops; each seller serves the proposers of a round
    in `priority` order while it has units left from earlier rounds, and the rest move
    down their lists. Buyers taken in priority order and counted per seller give the
    reference's ranks within each seller's proposers, so the same columns."""
    n, width = cands.shape
    order = np.empty((n, width), dtype=np.int64)
    for i in range(n):
        for c in range(width):  # insertion sort: stable, and rows are short
            key = -value[i, c]
            j = c - 1
            while j >= 0 and _sorts_before(key, -value[i, order[i, j]]):
                order[i, j + 1] = order[i, j]
                j -= 1
            order[i, j + 1] = c
    by_priority = np.empty(n, dtype=np.int64)
    for i in range(n):
        by_priority[priority[i]] = i
    remaining = np.full(sellers, capacity, dtype=np.int64)
    served = np.zeros(sellers, dtype=np.int64)  # this round's
    pick = np.full(n, -1, dtype=np.int64)
    pointer = np.zeros(n, dtype=np.int64)
    open_ = np.ones(n, dtype=np.bool_)
    for _ in range(width):
        proposed = False
        for r in range(n):
            i = by_priority[r]
            if not open_[i]:
                continue
            col = order[i, pointer[i]]
            if not acceptable[i, col]:
                open_[i] = False
                continue
            proposed = True
            seller = cands[i, col]
            if served[seller] < remaining[seller]:
                served[seller] += 1
                pick[i] = col
                open_[i] = False
            else:
                pointer[i] += 1
                if pointer[i] >= width:
                    open_[i] = False
        if not proposed:
            break
        for j in range(sellers):
            remaining[j] -= served[j]
            served[j] = 0
    return pick


@njit(inline="always")
def _sorts_before(a, b):
    """Whether numpy's sort puts a strictly before b (NaN last)."""
    return a < b or (a == a and b != b)


#: Cells per block where only each row's best counts (`best_values`): rows go through
#: a block's worth of cells at a time, their pivots first.
BEST_BLOCK = 512


@njit(cache=True, error_model="numpy")
def _load(lot, i, c, taste, mean, sd, cost, floor, scratch):
    """Cell (i, c), whose spread is sd, into lottery `lot` of the block's buffers."""
    t, m, s, p, f = scratch[:5]
    t[lot], m[lot], s[lot], p[lot], f[lot] = taste, mean[i, c], sd, cost[i, c], floor


@njit(cache=True, error_model="numpy")
def _below_for_certain(count, cell, cut, has_floor, valuation, fast, tables, scratch, kept,
                       shifted, value):
    """Values of the block's `count` lotteries into their cells of the flat `value`, except
    for those whose value is below their own cut[lot] for certain (`kernels._could_reach`'s
    bound of the value less the cut, against 0: the margin then also covers the cut),
    whose cells are left as they are (`best_values` has written -inf there)."""
    z, probs, gain_w, loss_w, alpha, beta, lam, expectation = valuation
    t, m, s, p, f, x, term, expected = scratch
    kernels._payoffs(t, m, s, p, f, count, has_floor, z, x)
    kernels._center(x, count, probs, expectation, expected)
    for lot in range(count):
        shifted[lot] = expected[lot] - cut[lot]
    scales, slope, offset = tables[:3]
    bound, size, keep, xk, ek, vk = kept[:6]
    n = kernels._could_reach(x, shifted, count, gain_w, loss_w, lam, scales, slope, offset,
                             0.0, bound, size, keep)
    kernels._values_kept(x, expected, keep, n, gain_w, loss_w, alpha, beta, lam, fast, term,
                         xk, ek, vk)
    for q in range(n):
        value[cell[keep[q]]] = vk[q]


#: `_mean_payoff_cuts`' margins: relative (on the value, far beyond the rounding of a few
#: powers and sums) and absolute (far above the smallest normal double).
CUT_MARGIN, CUT_TINY = 1e-9, 1e-290


@njit(cache=True)
def _gain_weight(gain_w, loss_w, alpha, beta, lam, expectation):
    """G, the sum of the gain decision weights, for `_mean_payoff_cuts`; nan where its bound
    does not hold: the outside option is not the reference point, alpha not in (0, 1], a
    gain weight negative, or a loss term that may be positive or 0 x inf (a loss weight
    or lam not positive)."""
    ok = 0.0 < alpha <= 1.0 and beta > 0.0 and 0.0 < lam < np.inf and not expectation
    gains = 0.0
    for j in range(gain_w.shape[0]):
        ok = ok and 0.0 <= gain_w[j] < np.inf and 0.0 < loss_w[j] < np.inf
        ok = ok and -lam * loss_w[j] < 0.0
        gains += gain_w[j]
    return gains if ok and 0.0 < gains < np.inf else np.nan


@njit(cache=True, error_model="numpy")
def _mean_payoff_cuts(best, count, cutoff, gains, alpha, row_cut, m_cut):
    """For the `count` rows whose best-looking cell's value is best[:count]: the cut a
    cell of the row must reach, row_cut = max(best, cutoff) (cutoff where best is nan),
    and m_cut, such that a cell whose gains' weighted sum m = sum_j gain_w[j] max(x_j, 0)
    is below it has a value below row_cut for certain (-inf: none known).

    Losses only subtract and x**alpha is concave (alpha <= 1), so by Jensen a value is at
    most sum_j gain_w[j] max(x_j, 0)**alpha <= G (m / G)**alpha, G = `gains` (the gain
    weights' sum): below row_cut where m < G (row_cut / G)**(1 / alpha). The margins
    `CUT_MARGIN` and `CUT_TINY` cover the rounding of the value, of m and of the root,
    which goes through `power`'s log and exp (a loop that vectorises) where their range
    allows (within about 3e-13 of itself), else libm's pow."""
    inverse = 1.0 / alpha
    for q in range(count):
        top = best[q]
        row_cut[q] = max(top, cutoff) if top == top else cutoff
        level = row_cut[q] * (1.0 - CUT_MARGIN) - CUT_TINY
        y = level / gains
        e = power.log(y if power.in_range(y) else 1.0) * inverse
        m_cut[q] = gains * power.exp(e if abs(e) < 700.0 else 0.0)
    for q in range(count):  # outside the fast range: libm's pow, or no cut at all
        level = row_cut[q] * (1.0 - CUT_MARGIN) - CUT_TINY
        y = level / gains
        if power.in_range(y) and abs(power.log(y) * inverse) < 700.0:
            continue
        fine = level > 0.0 and level < np.inf and gains > 0.0
        m_cut[q] = gains * y**inverse if fine else -np.inf


@njit(cache=True, error_model="numpy")
def best_values(rows, buyers, cands, theta, mean, var, cost, pool, floors, has_floor,
                valuation, fast, tables, cutoff, value):
    """`cell_values` where only each row's first choice and whether it reaches `cutoff`
    count (nobody is turned away, nothing rules cells out after valuation, no choice
    noise): per row, the cell of highest expected payoff theta mean - cost (the pivot) is
    valued first; another cell may then be -inf where its value is below max(pivot's,
    cutoff) for certain: first by the gains' weighted mean payoff (`_mean_payoff_cuts`),
    then by `kernels._could_reach`'s bounds (concave powers, the outside option as
    reference point). A cell whose lottery is the pivot's, bit for bit (the same seller
    drawn again), takes the pivot's value. Each row's best value (and its first column),
    which cells reach `cutoff`, and every value not -inf are exactly `cell_values`'."""
    z = valuation[0]
    k = cands.shape[1]
    span = max(1, BEST_BLOCK // max(k, 1))
    block = span * max(k, 1)
    scratch = kernels._scratch(z.shape[0], block)
    kept = kernels._prune_scratch(z.shape[0], block)
    cell = np.empty(block, dtype=np.int64)
    cut, shifted, dest = np.empty(block), np.empty(block), np.empty(block)
    pivot = np.empty(span, dtype=np.int64)
    row_cuts, m_cuts = np.empty(span), np.empty(span)
    flat = value.reshape(-1)
    z, probs, gain_w, loss_w, alpha, beta, lam, expectation = valuation
    gains = _gain_weight(gain_w, loss_w, alpha, beta, lam, expectation)
    for r0 in range(0, rows.shape[0], span):
        r1 = min(rows.shape[0], r0 + span)
        count = np.int64(0)
        for r in range(r0, r1):
            i = rows[r]
            taste = theta[buyers[i]]
            pc, top = np.int64(-1), 0.0
            for c in range(k):
                if cands[i, c] < 0:
                    value[i, c] = -np.inf
                    continue
                payoff = taste * mean[i, c] - cost[i, c]
                if pc < 0 or payoff > top:
                    pc, top = c, payoff
            pivot[r - r0] = pc
            if pc >= 0:
                floor = floors[pool[cands[i, pc]]] if has_floor else -np.inf
                _load(count, i, pc, taste, mean, np.sqrt(var[i, pc]), cost, floor, scratch)
                cell[count] = i * k + pc
                count += 1
        kernels._bound_and_value(count, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                                 expectation, fast, False, tables, scratch, kept, dest)
        for lot in range(count):
            flat[cell[lot]] = dest[lot]
        _mean_payoff_cuts(dest, count, cutoff, gains, alpha, row_cuts, m_cuts)
        q, count = 0, np.int64(0)
        for r in range(r0, r1):
            i, pc = rows[r], pivot[r - r0]
            if pc < 0:
                continue
            row_cut, m_cut, top = row_cuts[q], m_cuts[q], dest[q]
            q += 1
            taste = theta[buyers[i]]
            same = (power._bits(mean[i, pc]), power._bits(var[i, pc]), power._bits(cost[i, pc]),
                    power._bits(floors[pool[cands[i, pc]]] if has_floor else -np.inf))
            for c in range(k):
                j = cands[i, c]
                if c == pc or j < 0:
                    continue
                floor = floors[pool[j]] if has_floor else -np.inf
                if (power._bits(mean[i, c]), power._bits(var[i, c]), power._bits(cost[i, c]),
                        power._bits(floor)) == same:
                    value[i, c] = top  # the pivot's lottery (the seller again): its value
                    continue
                sd = np.sqrt(var[i, c])
                m = 0.0  # the gains' weighted sum (`_mean_payoff_cuts`), payoffs as `_payoffs`
                for node in range(z.shape[0]):
                    quality = mean[i, c] + sd * z[node]
                    quality = floor if has_floor and quality < floor else quality
                    x = taste * quality - cost[i, c]
                    m += gain_w[node] * (0.0 if x < 0.0 else x)
                value[i, c] = -np.inf
                if m < m_cut:  # below the cut for certain
                    continue
                _load(count, i, c, taste, mean, sd, cost, floor, scratch)
                cell[count] = i * k + c
                cut[count] = row_cut
                count += 1
        _below_for_certain(count, cell, cut, has_floor, valuation, fast, tables, scratch, kept,
                           shifted, flat)


@njit(cache=True, parallel=True, error_model="numpy")
def cell_values_threaded(rows, buyers, cands, theta, mean, var, cost, pool, floors,
                         has_floor, valuation, fast, prune, tables, block, value, chunks):
    """`cell_values` with `rows` shared out in `chunks` runs to threads (compiled only
    when used). A cell's value does not depend on the run it is in (pruning may leave
    other cells below the cutoff -inf, as it may in one thread)."""
    for c in prange(chunks):
        lo, hi = kernels.chunk(c, chunks, rows.shape[0])
        if lo < hi:
            cell_values(rows[lo:hi], buyers, cands, theta, mean, var, cost, pool, floors,
                        has_floor, valuation, fast, prune, tables, block, value)


@njit(cache=True, parallel=True, error_model="numpy")
def best_values_threaded(rows, buyers, cands, theta, mean, var, cost, pool, floors,
                         has_floor, valuation, fast, tables, cutoff, value, chunks):
    """`best_values` with `rows` shared out in `chunks` runs to threads (compiled only
    when used): each row's pivot and bounds are its own, so the values are one thread's."""
    for c in prange(chunks):
        lo, hi = kernels.chunk(c, chunks, rows.shape[0])
        if lo < hi:
            best_values(rows[lo:hi], buyers, cands, theta, mean, var, cost, pool, floors,
                        has_floor, valuation, fast, tables, cutoff, value)


#: `predictive_beliefs`' claims and reviews terms when the mechanism is off.
NO_CLAIMS = (False, np.zeros(0), np.zeros(0))
NO_REVIEWS = (False, np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0),
              np.zeros(0), 0.0, 1.0)


@njit(cache=True)
def predictive_beliefs(buyers, cands, beliefs, claims, reviews, delivery_var):
    """(mean, var, slot): `kernels.candidate_beliefs`' belief about each cell, then on
    the cells open to other evidence `kernels.claim_shift` (claims: has_claims,
    credibility by buyer row, claim by seller row) and `kernels.review_shift` (reviews:
    has_reviews, trust and segment by buyer row, reading by segment, rev_n, rev_sum,
    weight, rating_var; a buyer reads trust x its segment's reading), then delivery_var
    added to the variance: their operations in their order, so the same bits.
    `beliefs` is `kernels.shop_plain`'s tuple; a seller is in at most one memory slot."""
    n, k = cands.shape
    mean, var = np.empty((n, k)), np.empty((n, k))
    slot = np.empty((n, k), dtype=np.int64)
    _predictive_rows(np.int64(0), n, buyers, cands, beliefs, claims, reviews, delivery_var,
                     mean, var, slot)
    return mean, var, slot


@njit(cache=True, parallel=True)
def predictive_beliefs_threaded(buyers, cands, beliefs, claims, reviews, delivery_var, chunks):
    """`predictive_beliefs` with the rows shared out in `chunks` runs to threads (compiled
    only when used); a cell's belief is its buyer's own, so the bits are one thread's."""
    n, k = cands.shape
    mean, var = np.empty((n, k)), np.empty((n, k))
    slot = np.empty((n, k), dtype=np.int64)
    for c in prange(chunks):
        lo, hi = kernels.chunk(c, chunks, n)
        if lo < hi:
            _predictive_rows(lo, hi, buyers, cands, beliefs, claims, reviews, delivery_var,
                             mean, var, slot)
    return mean, var, slot


@njit(cache=True)
def _predictive_rows(lo, hi, buyers, cands, beliefs, claims, reviews, delivery_var, mean, var,
                     slot):
    """`predictive_beliefs` of rows lo..hi-1, into mean, var and slot."""
    (pub_mean, pub_var, pool, pool_mean, pool_precision, pool_sq, noise_var, action_var,
     all_learnable, remembers, slot_seller, slot_mean, slot_precision) = beliefs
    has_claims, credibility, claim = claims
    has_reviews, trust, segment, reading_by_segment, rev_n, rev_sum, weight, rating_var = reviews
    k = cands.shape[1]
    seen_by = np.full(pub_mean.shape[0], -1, dtype=np.int64)  # last buyer index i that ...
    seen_slot = np.empty(pub_mean.shape[0], dtype=np.int64)   # ... remembered it, and where
    for i in range(lo, hi):
        row = buyers[i]
        if remembers:
            for r in range(slot_seller.shape[1]):
                j = slot_seller[row, r]
                if j >= 0:
                    seen_by[j], seen_slot[j] = i, r
        w = credibility[row] if has_claims else 0.0
        reading = trust[row] * reading_by_segment[segment[row]] if has_reviews else 0.0
        for c in range(k):
            j = cands[i, c]
            hidden = all_learnable or pub_var[j] > 0.0  # as `kernels._stranger`
            found = seen_slot[j] if remembers and hidden and seen_by[j] == i else -1
            slot[i, c] = found
            if found >= 0:
                mean[i, c] = slot_mean[row, found]
                var[i, c] = 1.0 / slot_precision[row, found] + delivery_var
                continue
            q, v, hidden = kernels._stranger(row, j, pub_mean, pub_var, pool, pool_mean,
                                             pool_precision, pool_sq, noise_var, action_var,
                                             all_learnable)
            if hidden:  # open to other evidence
                if has_claims:
                    q = (1 - w) * q + w * claim[j]
                    v = (1 - w) * v
                if has_reviews and rev_n[j] > 1e-9:
                    evidence = weight * reading * rev_n[j] / rating_var
                    prec = 1.0 / max(v, 1e-12)
                    new_prec = prec + evidence
                    score = rev_sum[j] / max(rev_n[j], 1e-12)
                    q = (prec * q + evidence * score) / new_prec
                    v = 1.0 / new_prec
            mean[i, c] = q
            var[i, c] = v + delivery_var
