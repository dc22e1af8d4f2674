"""Compiled inner loops (numba) for the one computation that dominates a step.

Every buyer values every candidate as a small CPT lottery each step. In
numpy that is a dozen passes over a (buyers x candidates x nodes) array and
its temporaries; here lotteries go in blocks that fit in L1 cache, each pass
over a block vectorises (the powers through `power.power`, not libm's scalar
pow), and the belief look-ups below take several times less than in numpy
(numbers in docs/performance.md). `Valuation` keeps the numpy formulation as
the readable reference, and the tests hold the two equal to 1e-10.

Numba compiles a kernel, and every kernel it calls, once for each type of
arguments it meets, so callers keep to one: counters passed on to other
kernels start as `np.int64(0)` (a literal 0 is a type of its own while the
loop's types are inferred) and arrays come writable and contiguous. So the
shipped scenarios' first runs after installing compile for 22 s, not 40.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from . import power

#: Lotteries per block: a block's buffers (a few kB) stay in L1 cache, and blocks are what
#: threads share out. Within a block arrays are node-major, x[j * width + lottery] (width:
#: the block's capacity, the length of its `expected`), so every inner loop runs over
#: lotteries and vectorises.
BLOCK = 128
#: Rows the one-pass shop goes through at a time, in blocks: the lotteries no test rules
#: out are gathered over all of them and valued a block at a time.
SPAN = 8
#: Blocks valued in full, without bounds, after a block where bounds ruled out under a
#: quarter of the lotteries (a market where most purchases beat the outside option).
PRUNE_PAUSE = 15
_threads = 1
_libm_powers = False


def use_libm_powers(on: bool = True) -> None:
    """Raise payoffs to alpha and beta with libm's pow instead of `power.power`: the bits
    the kernels gave before the vectorised power (it differs from libm by an ulp or
    two), at about twice the cost. Default off."""
    global _libm_powers
    _libm_powers = bool(on)


def _fast(alpha, beta) -> bool:
    return not _libm_powers and abs(alpha) <= 1.0 and abs(beta) <= 1.0


def set_threads(n: int) -> None:
    """Threads for `lottery_values` and `reservation_prices` (default 1).

    Every lottery is valued on its own, so any number of threads gives the
    same bits as one (tests hold them equal). More than one runs numba's
    parallel loops, capped at NUMBA_NUM_THREADS (the core count unless set).
    """
    global _threads
    if int(n) < 1:
        raise ValueError(f"threads must be >= 1, not {n}")
    _threads = int(n)
    if _threads > 1:
        numba.set_num_threads(min(_threads, numba.config.NUMBA_NUM_THREADS))


def get_threads() -> int:
    return _threads


def threaded(one, twin, *args):
    """`one(*args)`, or with more than one thread its threaded twin, which takes the
    number of runs to share the rows out in (`CHUNKS_PER_THREAD` a thread) last."""
    if _threads > 1:
        return twin(*args, _threads * CHUNKS_PER_THREAD)
    return one(*args)


def avoid_huge_pages() -> None:
    """Stop numpy asking Linux for transparent huge pages for its large arrays.

    A step of a market with a million buyers makes dozens of short-lived
    arrays of tens of MB; for each, numpy's madvise(MADV_HUGEPAGE) makes the
    kernel find (compact) 2 MB pages first, which cost a quarter of the step's
    CPU on the project machine (1,000,000 x 10,000: 1.8 -> 1.4 s a step;
    no change at 100,000 buyers or fewer, whose arrays are small). Results are
    untouched. Process-wide; numpy offers the same as NUMPY_MADVISE_HUGEPAGE=0.
    """
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # a numpy without the switch: nothing to turn off
        return
    _set_madvise_hugepage(False)


@njit(cache=True, error_model="numpy")
def _payoffs(theta, mean, sd, price, floor, count, has_floor, z, x):
    """x[j, l] = theta * max(mean + sd z_j, floor) - price for the block's lotteries."""
    width = x.shape[0] // z.shape[0]
    for j in range(z.shape[0]):
        zj = z[j]
        for lot in range(count):
            q = mean[lot] + sd[lot] * zj
            if has_floor and q < floor[lot]:
                q = floor[lot]
            x[j * width + lot] = theta[lot] * q - price[lot]


@njit(cache=True, error_model="numpy")
def _center(x, count, probs, expectation, expected):
    """With the expectation as reference point, payoffs become surprises: less their
    expected value (kept in `expected`, else 0)."""
    width = expected.shape[0]
    expected[:count] = 0.0
    if not expectation:
        return
    for j in range(probs.shape[0]):
        for lot in range(count):
            expected[lot] += probs[j] * x[j * width + lot]
    for j in range(probs.shape[0]):
        for lot in range(count):
            x[j * width + lot] = x[j * width + lot] - expected[lot]


@njit(cache=True, error_model="numpy")
def _cpt_values(x, expected, count, gain_w, loss_w, alpha, beta, lam, fast, term, out):
    """out[l] = expected[l] + sum_j w_j v(x[j, l]), the CPT value of each lottery (nodes
    sorted ascending, so w_j is node j's gain or loss decision weight).

    `fast`: the powers go through `power.power` in branch-free loops that numba
    vectorises; the few payoffs outside its range (0, subnormal, huge) are redone
    with libm's pow, which is what every power uses when not `fast`.
    """
    nodes, width = gain_w.shape[0], expected.shape[0]
    for j in range(nodes):
        gw, lw = gain_w[j], -lam * loss_w[j]
        row = j * width
        if fast and alpha == beta:  # one exponent: a loop that vectorises cleanly
            for lot in range(count):
                v = x[row + lot]
                term[row + lot] = (gw if v >= 0.0 else lw) * power.power(abs(v), alpha)
        elif fast:
            for lot in range(count):
                v = x[row + lot]
                gain = v >= 0.0
                term[row + lot] = (gw if gain else lw) * power.power(v if gain else -v,
                                                                     alpha if gain else beta)
        for lot in range(count):
            v = x[row + lot]
            if not (fast and power.in_range(abs(v))):
                term[row + lot] = gw * v**alpha if v >= 0.0 else lw * (-v) ** beta
    out[:count] = 0.0
    for j in range(nodes):
        for lot in range(count):
            out[lot] += term[j * width + lot]
    for lot in range(count):
        out[lot] = expected[lot] + out[lot]


@njit(cache=True, error_model="numpy")
def _could_reach(x, expected, count, gain_w, loss_w, lam, scales, slope, offset, cutoff,
                 bound, size, keep):
    """Rows of the lotteries whose CPT value may reach `cutoff` into keep[:n]; returns n.

    Each power is bounded from its payoff's binade, |x| = t u (t a power of two, u in
    [1, 2), read from the bits with the sign): a gain has x**alpha <= t**alpha (1 - alpha
    + alpha u) (the tangent at t of a concave power), a loss |x|**beta >= t**beta (1 +
    chord (u - 1)), chord = 2**beta - 1 (the chord on [t, 2t]). At 0.88 both are within
    2.2% of the power (the tangent is loosest at u = 2, (1 + alpha) / 2**alpha). t**e
    comes from `scales` (gains, then losses), the lines' `slope` and `offset` by sign.
    A lottery is left out only when its upper bound is below the cutoff by more than
    1e-9 of its size, far beyond any rounding, so the values that are computed, and
    which lotteries reach the cutoff, are exactly as without it.
    """
    nodes, width = gain_w.shape[0], expected.shape[0]
    for lot in range(count):
        bound[lot] = expected[lot]
        size[lot] = abs(expected[lot])
    gain_off, loss_off, gain_slope, loss_slope = offset[0], offset[1], slope[0], slope[1]
    for j in range(nodes):
        gw, lw, row = gain_w[j], -lam * loss_w[j], j * width
        for lot in range(count):
            index, u = power.signed_binade(x[row + lot])
            loss = index >= 2048
            w = lw if loss else gw
            line = (loss_off + loss_slope * u) if loss else (gain_off + gain_slope * u)
            term = w * scales[index] * line
            bound[lot] += term
            size[lot] += abs(term)
    n = np.int64(0)
    for lot in range(count):
        keep[n] = lot
        n += not (bound[lot] + 1e-9 * size[lot] < cutoff)
    return n


@njit(cache=True)
def _prune_scratch(nodes, width):
    """Buffers for `_could_reach` and the kept lotteries: bound, size, keep; payoffs,
    expectations and values of the kept ones; then `_homogeneous_out`'s survivors and
    their values."""
    return (np.empty(width), np.empty(width), np.empty(width, dtype=np.int64),
            np.empty(nodes * width), np.empty(width), np.empty(width),
            np.empty(width, dtype=np.int64), np.empty(width))


@njit(cache=True)
def _scratch(nodes, width):
    """A block's buffers: theta, mean, sd, price, floor; payoffs and terms; expectations."""
    return (np.empty(width), np.empty(width), np.empty(width), np.zeros(width),
            np.empty(width), np.empty(nodes * width), np.empty(nodes * width), np.empty(width))


@njit(inline="always", error_model="numpy")
def _ruled_out(theta, mean, sd, price, r_cut, b_min, span):
    """Whether a lottery is below the cutoff for certain by `homogeneous_cut`'s test:
    a = theta mean - price, b = theta sd; out when a + err < r_cut b and b > b_min (err:
    the payoffs' and this test's own rounding, 1e-14 of each magnitude)."""
    b = theta * sd
    a = theta * mean - price
    err = 1e-14 * (abs(theta * mean) + b * span + abs(price) + abs(r_cut) * b)
    return b > b_min and a + err < r_cut * b


@njit(cache=True, error_model="numpy")
def _homogeneous_out(t, m, s, p, count, cut, order):
    """Moves the lotteries that may reach the cutoff to the front of t, m, s, p (their
    rows into order[:n]); returns n. The others are out for certain (`_ruled_out`), with
    no power taken."""
    r_cut, b_min, span = cut[0], cut[1], cut[2]
    n = np.int64(0)
    for lot in range(count):
        if _ruled_out(t[lot], m[lot], s[lot], p[lot], r_cut, b_min, span):
            continue
        order[n] = lot
        t[n], m[n], s[n], p[n] = t[lot], m[lot], s[lot], p[lot]
        n += 1
    return n


@njit(cache=True, error_model="numpy")
def _value_block(count, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam, expectation,
                 fast, prune, bound, tables, scratch, kept, dest):
    """Values of the `count` lotteries in the block's buffers (theta, mean, sd, price, floor
    of `scratch`) into dest; those `_homogeneous_out` (with `prune`) or `_could_reach` (with
    `bound` too) rule out below the cutoff are -inf. Returns how many were valued in full
    or bounded."""
    cut = tables[4]
    if prune and cut[1] < np.inf and not has_floor and not expectation:
        t, m, s, p = scratch[:4]
        order, values = kept[6], kept[7]
        n = _homogeneous_out(t, m, s, p, count, cut, order)
        if n < count:
            valued = _bound_and_value(n, has_floor, z, probs, gain_w, loss_w, alpha, beta,
                                      lam, expectation, fast, bound, tables, scratch, kept,
                                      values)
            dest[:count] = -np.inf
            for i in range(n):
                dest[order[i]] = values[i]
            return valued
    return _bound_and_value(count, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                            expectation, fast, prune and bound, tables, scratch, kept, dest)


@njit(inline="always", error_model="numpy")
def _values_kept(x, expected, keep, n, gain_w, loss_w, alpha, beta, lam, fast, term, xk, ek,
                 vk):
    """The values of the n lotteries `keep` lists (of a block's payoffs x, node-major,
    and expectations), gathered to the front of xk and ek, into vk[:n]."""
    width = expected.shape[0]
    for j in range(x.shape[0] // width):
        for i in range(n):
            xk[j * width + i] = x[j * width + keep[i]]
    for i in range(n):
        ek[i] = expected[keep[i]]
    _cpt_values(xk, ek, n, gain_w, loss_w, alpha, beta, lam, fast, term, vk)


@njit(cache=True, error_model="numpy")
def _bound_and_value(count, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                     expectation, fast, prune, tables, scratch, kept, dest):
    """`_value_block` after the homogeneous test: payoffs, `_could_reach`'s bounds with
    `prune`, and the values of the lotteries they leave."""
    t, m, s, p, f, x, term, expected = scratch
    _payoffs(t, m, s, p, f, count, has_floor, z, x)
    _center(x, count, probs, expectation, expected)
    if prune:
        scales, slope, offset, cutoff = tables[:4]
        bound, size, keep, xk, ek, vk = kept[:6]
        n = _could_reach(x, expected, count, gain_w, loss_w, lam, scales, slope, offset,
                         cutoff, bound, size, keep)
        if n < count:
            _values_kept(x, expected, keep, n, gain_w, loss_w, alpha, beta, lam, fast, term,
                         xk, ek, vk)
            dest[:count] = -np.inf
            for i in range(n):
                dest[keep[i]] = vk[i]
            return n
    _cpt_values(x, expected, count, gain_w, loss_w, alpha, beta, lam, fast, term, dest)
    return count


@njit(cache=True, error_model="numpy")
def _value_rows(i0, i1, theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                alpha, beta, lam, expectation, fast, prune, bound, tables, scratch, kept, out):
    """`_value_block` for the (buyer, candidate) lotteries of rows i0:i1 (out: flat,
    row-major)."""
    t, m, s, p, f = scratch[:5]
    k = mean.shape[1]
    count = (i1 - i0) * k
    for i in range(i0, i1):
        for c in range(k):
            lot = (i - i0) * k + c
            t[lot], m[lot], s[lot], p[lot] = theta[i, c], mean[i, c], sd[i, c], price[i, c]
            f[lot] = floor[i, c]
    return _value_block(count, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                        expectation, fast, prune, bound, tables, scratch, kept,
                        out[i0 * k:i1 * k])


@njit(cache=True, error_model="numpy")
def _lottery_values(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                    alpha, beta, lam, expectation, fast, prune, tables, block):
    n, k = mean.shape
    rows = max(1, block // max(k, 1))
    out = np.empty(n * k)
    scratch = _scratch(z.shape[0], rows * k)
    kept = _prune_scratch(z.shape[0], rows * k)
    rest = np.int64(0)  # blocks left before pruning is tried again
    for b in range((n + rows - 1) // rows):
        i0, i1 = b * rows, min(n, (b + 1) * rows)
        valued = _value_rows(i0, i1, theta, mean, sd, price, floor, has_floor, z, probs,
                             gain_w, loss_w, alpha, beta, lam, expectation, fast,
                             prune, prune and rest == 0, tables, scratch, kept, out)
        rest = _pause(rest, valued, (i1 - i0) * k)
    return out.reshape((n, k))


@njit(cache=True)
def _pause(rest, valued, count):
    """Blocks to value in full before bounds are tried again: where most lotteries reach
    the cutoff, bounding them costs more than it saves."""
    if rest == 0 and 4 * valued > 3 * count:
        return PRUNE_PAUSE
    return max(rest - 1, 0)


@njit(cache=True, parallel=True, error_model="numpy")
def _lottery_values_threaded(theta, mean, sd, price, floor, has_floor, z, probs, gain_w,
                             loss_w, alpha, beta, lam, expectation, fast, prune, tables, block):
    """`_lottery_values` with blocks shared out to threads (compiled only when used)."""
    n, k = mean.shape
    rows = max(1, block // max(k, 1))
    out = np.empty(n * k)
    for b in prange((n + rows - 1) // rows):
        _value_rows(b * rows, min(n, (b + 1) * rows), theta, mean, sd, price, floor, has_floor,
                    z, probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, prune,
                    prune, tables, _scratch(z.shape[0], rows * k),
                    _prune_scratch(z.shape[0], rows * k), out)
    return out.reshape((n, k))


_TABLES: dict[tuple[float, float], tuple] = {}
_CUTS: dict[tuple, np.ndarray] = {}
#: Relative slack of the homogeneous test: covers the powers' rounding (at most 1 + |e ln x|
#: ulp, under 700 ulp) and the sum's, for up to thousands of nodes.
HOMOGENEOUS_SLACK = 1e-12
_NO_CUT = np.array([-np.inf, np.inf, 0.0])


def _tables(alpha: float, beta: float, cutoff: float, valuation: tuple = ()) -> tuple:
    """What pruning needs: for `_could_reach`, t**alpha (an upper bound) then t**beta (a
    lower one) per binade, the lines' slopes and offsets for gains and losses, and the
    cutoff; for `_homogeneous_out`, `homogeneous_cut` of `valuation` (z, probs, gain_w,
    loss_w, alpha, beta, lam, expectation) when it applies."""
    if (alpha, beta) not in _TABLES:
        chord = 2.0**beta - 1.0
        _TABLES[alpha, beta] = (
            np.concatenate([power.binade_powers(alpha, lower=False),
                            power.binade_powers(beta, lower=True)]),
            np.array([alpha, chord]), np.array([1.0 - alpha, 1.0 - chord]))
    cut = _NO_CUT
    if valuation and cutoff > -np.inf:
        z, _, gain_w, loss_w, _, _, lam, expectation = valuation
        key = (alpha, beta, lam, expectation, float(cutoff), z.tobytes(), gain_w.tobytes(),
               loss_w.tobytes())
        if key not in _CUTS:
            _CUTS[key] = homogeneous_cut(z, gain_w, loss_w, alpha, beta, lam, expectation,
                                         cutoff)
        cut = _CUTS[key]
    return (*_TABLES[alpha, beta], float(cutoff), cut)


def homogeneous_cut(z, gain_w, loss_w, alpha, beta, lam, expectation, cutoff) -> np.ndarray:
    """[r_cut, b_min, max |z|] for `_homogeneous_out`, or one that rules nothing out.

    With alpha = beta, the reference point at the outside option and no floor, the
    payoffs x_j = a + b z_j (a = theta m - p, b = theta sd) give a CPT value
    V(a, b) = b**alpha V(a / b, 1): whether a lottery reaches 0 depends on r = a / b
    alone. Let F(r) = V(r, 1) + eps S(r), S the sum of the terms' magnitudes and eps =
    `HOMOGENEOUS_SLACK`; F rises with r (each term does), and the computed value of any
    lottery is at most b**alpha F((a + err) / b) (err: the payoffs' rounding). r_cut is
    a little below F's root, where F = -c < 0; a lottery with (a + err) / b < r_cut and
    b**alpha c > -cutoff (b > b_min) is below the cutoff for certain. Cutoffs above 0
    are not handled.
    """
    if not (alpha == beta and 0.0 < alpha and not expectation and -np.inf < cutoff <= 0.0
            and lam > 0.0 and np.all(gain_w >= 0) and np.all(loss_w >= 0)):
        return _NO_CUT
    z = np.asarray(z, dtype=float)

    def slack_value(r: float) -> float:
        x = r + z
        gains = np.where(x >= 0, gain_w * np.abs(x) ** alpha, 0.0)
        losses = np.where(x < 0, lam * loss_w * np.abs(x) ** alpha, 0.0)
        eps = HOMOGENEOUS_SLACK
        return float(((1 + eps) * gains - (1 - eps) * losses).sum())

    lo, hi = -float(np.abs(z).max()) - 1.0, float(np.abs(z).max()) + 1.0
    if not (slack_value(lo) < 0.0 < slack_value(hi)):
        return _NO_CUT
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if slack_value(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    r_cut = lo - 1e-6 * (1.0 + abs(lo))
    x = r_cut + z
    # c: -F(r_cut), less what its own evaluation may have rounded away.
    c = -slack_value(r_cut) - 1e-13 * float(np.abs(np.where(x >= 0, gain_w, lam * loss_w)
                                                   * np.abs(x) ** alpha).sum())
    if not c > 0.0:
        return _NO_CUT
    b_min = max((-cutoff / c) ** (1.0 / alpha) * (1.0 + 1e-6), 1e-300)
    return np.array([r_cut, b_min, float(np.abs(z).max())])


def lottery_values(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w,
                   alpha, beta, lam, expectation, cutoff=-np.inf):
    """CPT value of theta * max(mean + sd z_j, floor) - price over the (sorted) nodes z, for
    2-d arrays of (buyer, candidate) beliefs and prices (floor is read if has_floor).

    Values below `cutoff` may come back as -inf (the values at or above it, and which
    ones are below it, are exactly as without it): a buyer only needs to know which
    purchases beat its outside option, and in a market that trades little most do not.
    """
    prune = cutoff > -np.inf and 0.0 < alpha <= 1.0 and 0.0 < beta <= 1.0
    kernel = _lottery_values_threaded if _threads > 1 else _lottery_values
    return kernel(theta, mean, sd, price, floor, has_floor, z, probs, gain_w, loss_w, alpha,
                  beta, lam, expectation, _fast(alpha, beta), prune,
                  _tables(alpha, beta, cutoff if prune else -np.inf,
                          (z, probs, gain_w, loss_w, alpha, beta, lam, expectation)), BLOCK)


@njit(cache=True, error_model="numpy")
def _reserve_rows(i0, i1, theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                  alpha, beta, lam, expectation, fast, iterations, scratch, out):
    """Bisection for buyers i0:i1 in step: each round values every buyer's lottery at its
    midpoint price in one vectorised pass."""
    t, m, s, zero, f, x, term, expected = scratch
    count = i1 - i0
    nodes = z.shape[0]
    for b in range(count):
        t[b], m[b], s[b], f[b] = theta[i0 + b], mean[i0 + b], sd[i0 + b], floor[i0 + b]
    width = expected.shape[0]
    gross, lo, hi, value = np.empty(nodes * width), np.empty(count), np.empty(count), \
        np.empty(count)
    _payoffs(t, m, s, zero, f, count, has_floor, z, gross)
    for b in range(count):
        lo[b] = gross[b] - 1.0
        hi[b] = gross[(nodes - 1) * width + b] + 1.0
    for _ in range(iterations):
        for j in range(nodes):
            for b in range(count):
                x[j * width + b] = gross[j * width + b] - 0.5 * (lo[b] + hi[b])
        _center(x, count, probs, expectation, expected)
        _cpt_values(x, expected, count, gain_w, loss_w, alpha, beta, lam, fast, term, value)
        for b in range(count):
            mid = 0.5 * (lo[b] + hi[b])
            if value[b] >= 0.0:
                lo[b] = mid
            else:
                hi[b] = mid
    out[i0:i1] = lo


@njit(cache=True, error_model="numpy")
def _reservation_prices(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                        alpha, beta, lam, expectation, iterations, fast, block):
    n = mean.shape[0]
    out = np.empty(n)
    scratch = _scratch(z.shape[0], block)
    for b in range((n + block - 1) // block):
        _reserve_rows(b * block, min(n, (b + 1) * block), theta, mean, sd, floor, has_floor, z,
                      probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, iterations,
                      scratch, out)
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def _reservation_prices_threaded(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                                 alpha, beta, lam, expectation, iterations, fast, block):
    """`_reservation_prices` with blocks shared out to threads (compiled only when used)."""
    n = mean.shape[0]
    out = np.empty(n)
    for b in prange((n + block - 1) // block):
        _reserve_rows(b * block, min(n, (b + 1) * block), theta, mean, sd, floor, has_floor, z,
                      probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, iterations,
                      _scratch(z.shape[0], block), out)
    return out


def reservation_prices(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w,
                       alpha, beta, lam, expectation, iterations):
    """Per buyer, the highest price whose lottery value is still >= 0: bisection on
    [theta q_lo - 1, theta q_hi + 1], `iterations` halvings (floor is read if has_floor)."""
    kernel = _reservation_prices_threaded if _threads > 1 else _reservation_prices
    return kernel(theta, mean, sd, floor, has_floor, z, probs, gain_w, loss_w, alpha, beta, lam,
                  expectation, iterations, _fast(alpha, beta), BLOCK)


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
def open_slots(slot_seller, slot_used, slot_mean, slot_precision, buyers, sellers, prior_mean,
               prior_precision, slot, now):
    """`BeliefStore.remember` in one pass: where slot[i] is -1, buyer i's victim slot (its
    first free one, else its least recently used) takes seller i with the prior; then
    every pair's slot is marked used now. Victims are all chosen before any is written,
    as the vectorised reference does (a buyer listed twice gets one slot)."""
    n = buyers.shape[0]
    memory = slot_seller.shape[1]
    victim = np.empty(n, dtype=np.int64)
    for i in range(n):
        if slot[i] != -1:
            continue
        row = buyers[i]
        best, best_used = 0, np.iinfo(np.int64).max
        for m in range(memory):
            u = -1 if slot_seller[row, m] == -1 else slot_used[row, m]
            if u < best_used:
                best, best_used = m, u
        victim[i] = best
    for i in range(n):
        if slot[i] != -1:
            continue
        row, v = buyers[i], victim[i]
        slot_seller[row, v] = sellers[i]
        slot_mean[row, v] = prior_mean[i]
        slot_precision[row, v] = prior_precision[i]
        slot[i] = v
    for i in range(n):
        slot_used[buyers[i], slot[i]] = now


@njit(cache=True)
def forget_sellers(slot_seller, slot_used, gone):
    """In place: slots holding a seller marked in `gone` (by row) are emptied."""
    n, memory = slot_seller.shape
    for i in range(n):
        for r in range(memory):
            j = slot_seller[i, r]
            if j >= 0 and gone[j]:
                slot_seller[i, r] = -1
                slot_used[i, r] = 0


@njit(cache=True)
def update_distinct(mean, precision, sq, target, info, observed, observed_sq):
    """In place, at flat cells `target` (none repeated): the normal-normal update with
    evidence `observed` worth `info`, and of the mean square (`sq`, unless None) with
    `observed_sq` (None: observed squared). The operations of `BeliefStore.update_pool`'s
    numpy form, in its order, so the same bits."""
    for e in range(target.shape[0]):
        g, w = target[e], info[e]
        old = precision[g]
        new = old + w
        mean[g] = (old * mean[g] + w * observed[e]) / new
        if sq is not None:
            o2 = observed[e] * observed[e] if observed_sq is None else observed_sq[e]
            sq[g] = (old * sq[g] + w * o2) / new
        precision[g] = new


@njit(cache=True)
def fade(pool_precision, precision, mean, seller, used, since, keep, floor, rate, pool_mean,
         seller_pool, pub_mean, pub_var):
    """In place: every belief loses a share `1 - keep` of precision (never below `floor`;
    pooled beliefs as numpy's maximum would have it), and the means of remembered sellers
    not refreshed since step `since` drift a share `rate` toward what the buyer would
    expect of that seller as a stranger: its public quality where there is any, else the
    buyer's pooled belief about sellers of its badge pool."""
    _fade_rows(0, precision.shape[0], pool_precision, precision, mean, seller, used, since,
               keep, floor, rate, pool_mean, seller_pool, pub_mean, pub_var)


@njit(cache=True)
def chunk(c, chunks, n):
    """Rows lo..hi-1 of run c when n rows are shared out in `chunks` runs (the threaded
    twins of row-by-row kernels)."""
    per = (n + chunks - 1) // chunks
    return min(n, c * per), min(n, (c + 1) * per)


@njit(cache=True, parallel=True)
def fade_threaded(pool_precision, precision, mean, seller, used, since, keep, floor, rate,
                  pool_mean, seller_pool, pub_mean, pub_var, chunks):
    """`fade` with the rows shared out in `chunks` runs to threads (compiled only when
    used): each row fades on its own, so the same bits."""
    for c in prange(chunks):
        lo, hi = chunk(c, chunks, precision.shape[0])
        _fade_rows(lo, hi, pool_precision, precision, mean, seller, used, since, keep, floor,
                   rate, pool_mean, seller_pool, pub_mean, pub_var)


@njit(cache=True)
def _fade_rows(lo, hi, pool_precision, precision, mean, seller, used, since, keep, floor,
               rate, pool_mean, seller_pool, pub_mean, pub_var):
    memory = precision.shape[1]
    for i in range(lo, hi):
        if keep < 1.0:
            for k in range(pool_precision.shape[1]):
                p = pool_precision[i, k] * keep
                pool_precision[i, k] = floor if p < floor else p
        for m in range(memory):
            j = seller[i, m]
            if j >= 0:
                p = precision[i, m] * keep
                precision[i, m] = p if p > floor else floor
                if rate > 0.0 and used[i, m] < since:
                    if np.isfinite(pub_var[j]):
                        target = pub_mean[j]
                    else:
                        target = pool_mean[i, seller_pool[j]]
                    mean[i, m] += rate * (target - mean[i, m])


@njit(inline="always")
def _stranger(row, j, pub_mean, pub_var, pool, pool_mean, pool_precision, pool_sq, noise_var,
              action_var, all_learnable):
    """What buyer `row` believes of seller j before any memory of it: public information,
    else its pooled belief about j's badge pool; and whether experience can teach it
    anything. Returns (mean, variance, hidden)."""
    pv = pub_var[j]
    hidden = all_learnable or pv > 0.0
    if np.isfinite(pv):
        return pub_mean[j], pv + action_var, hidden
    b = pool[j]
    m = pool_mean[row, b]
    spread = max(pool_sq[row, b] - m * m - noise_var, 0.0)
    return m, 1.0 / pool_precision[row, b] + spread, hidden


@njit(inline="always")
def _memory_slot(row, j, slot_seller):
    """The slot of buyer `row`'s memory that holds seller j, -1: none (a seller is in at
    most one slot)."""
    found = -1
    for s in range(slot_seller.shape[1]):
        found = s if slot_seller[row, s] == j else found
    return found


@njit(cache=True)
def _belief_rows(i0, i1, buyers, cands, pub_mean, pub_var, pool, pool_mean, pool_precision,
                 pool_sq, noise_var, action_var, all_learnable, remembers, slot_seller,
                 slot_mean, slot_precision, mean, var, slot, open_):
    """`candidate_beliefs` for rows i0:i1, into its outputs."""
    k = cands.shape[1]
    for i in range(i0, i1):
        row = buyers[i]
        for c in range(k):
            j = cands[i, c]
            m, v, hidden = _stranger(row, j, pub_mean, pub_var, pool, pool_mean,
                                     pool_precision, pool_sq, noise_var, action_var,
                                     all_learnable)
            found = _memory_slot(row, j, slot_seller) if remembers and hidden else -1
            open_[i, c] = hidden and found < 0
            slot[i, c] = found
            if found >= 0:
                m, v = slot_mean[row, found], 1.0 / slot_precision[row, found]
            mean[i, c] = m
            var[i, c] = v


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
    mean, var = np.empty((n, k)), np.empty((n, k))
    slot, open_ = np.empty((n, k), dtype=np.int64), np.empty((n, k), dtype=np.bool_)
    _belief_rows(0, n, buyers, cands, pub_mean, pub_var, pool, pool_mean, pool_precision,
                 pool_sq, noise_var, action_var, all_learnable, remembers, slot_seller,
                 slot_mean, slot_precision, mean, var, slot, open_)
    return mean, var, slot, open_


@njit(cache=True, error_model="numpy")
def _value_cells(n, z, probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, bound,
                 tables, scratch, kept, cell_value):
    """Values of the n lotteries gathered in `scratch`, into cell_value at their cells
    (kept[6]); returns how many were valued in full or bounded."""
    if n == 0:
        return 0
    order, values = kept[6], kept[7]
    valued = _bound_and_value(n, False, z, probs, gain_w, loss_w, alpha, beta, lam,
                              expectation, fast, bound, tables, scratch, kept, values)
    for lot in range(n):
        cell_value[order[lot]] = values[lot]
    return valued


@njit(cache=True, error_model="numpy")
def _shop_rows(i0, i1, buyers, sampling, theta, seller_price, switching, beliefs,
               delivery_var, z, probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, prune,
               bound, tables, tolerance, scratch, kept, seen, cells, mean, var, slot, price,
               extra, value, acceptable, pick, wanted, cands, has_current):
    """`shop_plain` for rows i0:i1. Each row's candidates are `phases.shop.candidates`'
    rule, each cell's belief `_belief_rows`'; a cell `_homogeneous_out` rules out never
    reaches the block's valuation buffers. `seen`: per seller row, the last buyer index i
    whose memory was spread out there and the slot it was in (so a look-up is one read,
    not a scan of the memory). `cells`: the span's candidates, beliefs, (with `whole`)
    slots, prices and switching costs, and values, before they go out (otherwise only the
    cell each buyer buys goes out, its belief and price worked out again); per row
    whether any of its lotteries was left to value; per cell the buyer's taste, the cost,
    the belief's standard deviation and whether the ratio test rules it out. The test
    runs over the whole span after the beliefs, in a loop without branches that
    vectorises (a fifth of the pass)."""
    (pub_mean, pub_var, pool, pool_mean, pool_precision, pool_sq, noise_var, action_var,
     all_learnable, remembers, slot_seller, slot_mean, slot_precision) = beliefs
    draws, offering, last_seller, seller_offering = sampling
    cut = tables[4]
    homogeneous = prune and cut[1] < np.inf and not expectation
    r_cut, b_min, span = cut[0], cut[1], cut[2]
    t, m, s, p = scratch[:4]
    order = kept[6]
    k, memory = draws.shape[1] + 1, slot_seller.shape[1]
    whole = mean.shape[1] == k
    seen_by, seen_slot = seen
    (cell_seller, cell_mean, cell_var, cell_slot, cell_price, cell_extra, cell_value, alive,
     cell_theta, cell_cost, cell_sd, cell_out) = cells
    width = t.shape[0]  # lotteries valued at a time
    # The cells' beliefs and costs, row by row ...
    for i in range(i0, i1):
        row = buyers[i]
        alive[i - i0] = False
        if remembers:
            for r in range(memory):
                j = slot_seller[row, r]
                if j >= 0:  # a seller is in at most one slot
                    seen_by[j], seen_slot[j] = i, r
        # the current seller where the buyer remembers one that still offers, then K draws
        current = last_seller[row] if remembers else -1
        has = current >= 0 and seller_offering[current]
        has_current[i] = has
        tb = theta[row]
        for c in range(k):
            lot = (i - i0) * k + c
            if c == 0:
                cell_seller[lot] = current if has else -1
            else:
                cell_seller[lot] = offering[draws[i, c - 1]]
            j = max(cell_seller[lot], 0)  # a missing candidate is valued as row 0, then -inf
            q, v, hidden = _stranger(row, j, pub_mean, pub_var, pool, pool_mean,
                                     pool_precision, pool_sq, noise_var, action_var,
                                     all_learnable)
            found = seen_slot[j] if remembers and hidden and seen_by[j] == i else -1
            if found >= 0:
                q, v = slot_mean[row, found], 1.0 / slot_precision[row, found]
            v = v + delivery_var
            cost = seller_price[j]
            e = switching if c > 0 and has else 0.0
            if whole:  # else only the chosen cell's go out, worked out again below
                cell_slot[lot], cell_price[lot], cell_extra[lot] = found, cost, e
            if switching > 0.0:
                cost = cost + e
            cell_theta[lot], cell_mean[lot], cell_var[lot], cell_cost[lot] = tb, q, v, cost
    # ... then the ratio test over them all at once (no branches: it vectorises) ...
    count = (i1 - i0) * k
    for lot in range(count):
        sd = np.sqrt(cell_var[lot])
        cell_sd[lot] = sd
        cell_out[lot] = homogeneous and _ruled_out(cell_theta[lot], cell_mean[lot], sd,
                                                   cell_cost[lot], r_cut, b_min, span)
    # ... and the lotteries it leaves go to the valuation, a block at a time.
    n, valued = np.int64(0), 0   # not a literal 0 (see the module's docstring)
    for lot in range(count):
        if cell_out[lot]:
            cell_value[lot] = -np.inf
            continue
        alive[lot // k] = True
        order[n] = lot
        t[n], m[n], s[n], p[n] = cell_theta[lot], cell_mean[lot], cell_sd[lot], cell_cost[lot]
        n += 1
        if n == width:
            valued += _value_cells(n, z, probs, gain_w, loss_w, alpha, beta, lam,
                                   expectation, fast, bound, tables, scratch, kept,
                                   cell_value)
            n = 0
    valued += _value_cells(n, z, probs, gain_w, loss_w, alpha, beta, lam, expectation, fast,
                           bound, tables, scratch, kept, cell_value)
    for i in range(i0, i1):
        first = (i - i0) * k
        if not (whole or alive[i - i0]):  # every candidate ruled out: nothing bought
            pick[i], wanted[i] = -1, False
            cands[i, 0], value[i, 0], acceptable[i, 0] = cell_seller[first], -np.inf, False
            continue
        top, any_ok = 0, False
        for c in range(k):
            if cell_seller[first + c] < 0:
                cell_value[first + c] = -np.inf
            v = cell_value[first + c]
            ok = v >= -tolerance
            any_ok = any_ok or ok
            if whole:
                acceptable[i, c] = ok
            if np.isnan(cell_value[first + top]):
                continue
            if np.isnan(v) or v > cell_value[first + top]:
                top = c
        top_ok = cell_value[first + top] >= -tolerance
        wanted[i] = any_ok
        if whole:
            pick[i] = top if top_ok else -1
            for c in range(k):
                lot = first + c
                cands[i, c], mean[i, c], var[i, c] = cell_seller[lot], cell_mean[lot], cell_var[lot]
                slot[i, c], price[i, c] = cell_slot[lot], cell_price[lot]
                extra[i, c], value[i, c] = cell_extra[lot], cell_value[lot]
        else:  # the chosen cell, as the only column (its belief and price if bought)
            pick[i] = 0 if top_ok else -1
            lot = first + top
            cands[i, 0], value[i, 0], acceptable[i, 0] = cell_seller[lot], cell_value[lot], top_ok
            if top_ok:
                row, j = buyers[i], cell_seller[lot]
                q, v, hidden = _stranger(row, j, pub_mean, pub_var, pool, pool_mean,
                                         pool_precision, pool_sq, noise_var, action_var,
                                         all_learnable)
                found = _memory_slot(row, j, slot_seller) if remembers and hidden else -1
                if found >= 0:
                    q, v = slot_mean[row, found], 1.0 / slot_precision[row, found]
                mean[i, 0], var[i, 0], slot[i, 0] = q, v + delivery_var, found
                price[i, 0] = seller_price[j]
                extra[i, 0] = switching if top > 0 and has_current[i] else 0.0
    return valued


#: The arrays `shop_plain` writes, of the candidates' shape (or one column: the chosen
#: cell): mean, var, slot, price, extra, value, acceptable; per row (in the first column)
#: the column bought when capacity is unlimited and whether anything was acceptable; the
#: candidates; per row (first column) whether the current seller is among them.
SHOP_BUFFERS = (np.float64, np.float64, np.int64, np.float64, np.float64, np.float64,
                np.bool_, np.int64, np.bool_, np.int64, np.bool_)
#: Those of them that hold one value per row. They are arrays of one column, whose [:, 0]
#: is contiguous whatever the candidates' width, so numba compiles the shop's kernels
#: once for markets with and without capacity limits, not once for each layout.
SHOP_ROW_BUFFERS = (7, 8, 10)


_CELL_DTYPES = tuple(d for c, d in enumerate(SHOP_BUFFERS) if c not in SHOP_ROW_BUFFERS)
_ROW_DTYPES = tuple(SHOP_BUFFERS[c] for c in SHOP_ROW_BUFFERS)


def shop_buffers(n: int, width: int, held=None) -> list[np.ndarray]:
    """The arrays `shop_plain` writes into: (n, width) a cell, (n, 1) a row
    (`SHOP_ROW_BUFFERS`). `held`: `MarketState.buffers`, to keep them from step to step."""
    make = held or _fresh_buffers
    mean, var, slot, price, extra, value, acceptable, cands = make("shop", (n, width),
                                                                   _CELL_DTYPES)
    first, wanted, has_current = make("shop_rows", (n, 1), _ROW_DTYPES)
    return [mean, var, slot, price, extra, value, acceptable, first, wanted, cands, has_current]


def _fresh_buffers(name: str, shape: tuple[int, int], dtypes: tuple) -> list[np.ndarray]:
    return [np.empty(shape, dtype=d) for d in dtypes]


@njit(cache=True, error_model="numpy")
def _shop_chunk(r0, r1, buyers, sampling, theta, seller_price, switching, beliefs,
                delivery_var, z, probs, gain_w, loss_w, alpha, beta, lam, expectation, fast,
                prune, tables, tolerance, block, out):
    """`_shop_rows` over rows r0:r1, `SPAN` blocks of rows at a time, with one set of
    buffers."""
    k = sampling[0].shape[1] + 1
    rows = max(1, block // max(k, 1))
    scratch = _scratch(z.shape[0], rows * k)
    kept = _prune_scratch(z.shape[0], rows * k)
    seen = (np.full(seller_price.shape[0], -1, dtype=np.int64),
            np.empty(seller_price.shape[0], dtype=np.int64))
    span = rows * SPAN
    cells = (np.empty(span * k, dtype=np.int64), np.empty(span * k), np.empty(span * k),
             np.empty(span * k, dtype=np.int64), np.empty(span * k), np.empty(span * k),
             np.empty(span * k), np.empty(span, dtype=np.bool_), np.empty(span * k),
             np.empty(span * k), np.empty(span * k), np.empty(span * k, dtype=np.bool_))
    rest = np.int64(0)
    for i0 in range(r0, r1, span):
        i1 = min(r1, i0 + span)
        valued = _shop_rows(i0, i1, buyers, sampling, theta, seller_price, switching, beliefs,
                            delivery_var, z, probs, gain_w, loss_w, alpha, beta, lam,
                            expectation, fast, prune, prune and rest == 0, tables, tolerance,
                            scratch, kept, seen, cells, *out)
        rest = _pause(rest, valued, (i1 - i0) * k)


@njit(cache=True, error_model="numpy")
def _shop_plain(buyers, sampling, theta, seller_price, switching, beliefs, delivery_var, z,
                probs, gain_w, loss_w, alpha, beta, lam, expectation, fast, prune, tables,
                tolerance, block, out):
    # int64, not a literal 0, so the threaded twin's calls share this compiled chunk
    _shop_chunk(np.int64(0), out[0].shape[0], buyers, sampling, theta, seller_price, switching,
                beliefs, delivery_var, z, probs, gain_w, loss_w, alpha, beta, lam, expectation,
                fast, prune, tables, tolerance, block, out)


#: Chunks of rows per thread in `_shop_plain_threaded` (each takes its own buffers).
CHUNKS_PER_THREAD = 8


@njit(cache=True, parallel=True, error_model="numpy")
def _shop_plain_threaded(buyers, sampling, theta, seller_price, switching, beliefs,
                         delivery_var, z, probs, gain_w, loss_w, alpha, beta, lam, expectation,
                         fast, prune, tables, tolerance, block, out, chunks):
    """`_shop_plain` with `chunks` runs of rows shared out to threads (compiled only when
    used); exact pruning makes the results independent of where runs start."""
    n, k = out[0].shape[0], sampling[0].shape[1] + 1
    rows = max(1, block // max(k, 1))
    blocks = (n + rows - 1) // rows
    chunks = max(1, min(chunks, blocks))
    per = (blocks + chunks - 1) // chunks * rows  # whole blocks
    for c in prange(chunks):
        _shop_chunk(min(n, c * per), min(n, (c + 1) * per), buyers, sampling, theta,
                    seller_price, switching, beliefs, delivery_var, z, probs, gain_w, loss_w,
                    alpha, beta, lam, expectation, fast, prune, tables, tolerance, block, out)


def shop_plain(buyers, sampling, theta, seller_price, switching, beliefs, delivery_var, z,
               probs, gain_w, loss_w, alpha, beta, lam, expectation, tolerance, whole=True,
               out=None):
    """Shopping where no mechanism touches candidates, beliefs, prices or choices, in one
    pass per block of buyers: the candidates (`sampling`: the draws of
    `phases.shop.sample`, the offering sellers' rows they index, each buyer's last
    seller and which sellers offer), `candidate_beliefs` (`beliefs`: its arguments after
    `cands`), delivery noise, the price and switching cost, the CPT value
    (`lottery_values`; those below the outside option less `tolerance` may be -inf), and
    whether each beats the outside option (worth 0). The same numbers as `phases.shop`
    builds step by step (tests hold them equal).

    Returns, for every candidate (`whole`) or only for the one each buyer chose (its
    first best by np.argmax, as one column; mean, var, slot, price and extra are then
    set only where the buyer buys), the Offers' mean, var, slot, price and extra, then
    value and acceptable; then per buyer the column it buys when capacity is
    unlimited (-1: its first best is not acceptable) and whether anything was
    acceptable, then the candidates and whether the buyer's current seller is among
    them. `out`: arrays to write into, as `shop_buffers` makes them.
    """
    prune = 0.0 < alpha <= 1.0 and 0.0 < beta <= 1.0
    if out is None:
        out = shop_buffers(len(buyers), sampling[0].shape[1] + 1 if whole else 1)
    out = list(out)
    for column in SHOP_ROW_BUFFERS:
        out[column] = out[column][:, 0]
    out = tuple(out)
    args = (buyers, sampling, theta, seller_price, float(switching), beliefs,
            float(delivery_var), z, probs, gain_w, loss_w, alpha, beta, lam, expectation,
            _fast(alpha, beta), prune,
            _tables(alpha, beta, -tolerance if prune else -np.inf,
                    (z, probs, gain_w, loss_w, alpha, beta, lam, expectation)),
            float(tolerance), BLOCK, out)
    threaded(_shop_plain, _shop_plain_threaded, *args)
    return out


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


@njit(cache=True)
def envelope_sum(theta, slope, intercept):
    """Sum over `theta` (ascending) of max(0, max_j slope[j] * theta + intercept[j]): the
    upper envelope of the lines (slopes ascending, each kept only where it is highest),
    walked once along the tastes."""
    order = np.argsort(slope, kind="mergesort")
    a, b = np.empty(order.shape[0]), np.empty(order.shape[0])
    h = 0
    for j in order:
        if h and slope[j] == a[h - 1]:  # the same slope: the higher line only
            if intercept[j] <= b[h - 1]:
                continue
            h -= 1
        # the last line is never highest if the new one overtakes the one before it
        # where it would
        while h >= 2 and ((b[h - 2] - intercept[j]) * (a[h - 1] - a[h - 2])
                          <= (b[h - 2] - b[h - 1]) * (slope[j] - a[h - 2])):
            h -= 1
        a[h], b[h] = slope[j], intercept[j]
        h += 1
    total, k = 0.0, 0
    for x in theta:
        while k + 1 < h and a[k + 1] * x + b[k + 1] >= a[k] * x + b[k]:
            k += 1
        total += max(a[k] * x + b[k], 0.0)
    return total


@njit(cache=True)
def matching_sum(theta, capacity, slope, intercept):
    """The largest sum of max(0, the seller's best line at the taste) over matchings of
    `theta` (descending) to sellers (in order, each with `capacity` units) that do not
    cross. Some optimum matches the highest M tastes, each seller a run of at most
    `capacity` of them, so after seller j, done[r] is the most the first r tastes can
    get, all matched, from sellers 0..j: the best of seller j taking none of them, or
    the run s..r-1 (a window of the last `capacity` s, kept as a monotone queue)."""
    n = theta.shape[0]
    done = np.full(n + 1, -np.inf)
    done[0] = 0.0
    nxt = np.empty(n + 1)
    run = np.empty(n + 1)  # seller j's gain summed over the first r tastes
    queue = np.empty(n + 1, dtype=np.int64)
    for j in range(slope.shape[0]):
        run[0] = 0.0
        nxt[0] = 0.0
        queue[0], head, tail = 0, 0, 1
        for r in range(1, n + 1):
            x = theta[r - 1]
            best = slope[j, 0] * x + intercept[j, 0]  # seller j's lines: one row each
            for line in range(1, slope.shape[1]):
                best = max(best, slope[j, line] * x + intercept[j, line])
            run[r] = run[r - 1] + best
            if queue[head] < r - capacity:
                head += 1
            s = queue[head]
            take = run[r] + (done[s] - run[s])
            nxt[r] = take if take > done[r] else done[r]
            key = done[r] - run[r]
            while tail > head and done[queue[tail - 1]] - run[queue[tail - 1]] <= key:
                tail -= 1
            queue[tail] = r
            tail += 1
        done, nxt = nxt, done
    return max(done.max(), 0.0)
