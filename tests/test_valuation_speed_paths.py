"""The fast valuation paths against their references: the vectorised power against libm,
the blocked kernels against the numpy formulation, threads against one thread."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from simulator import kernels, power
from simulator.params import ProspectParams
from simulator.prospect import ProspectTheory
from simulator.valuation import Valuation

ULP = np.finfo(float).eps


@pytest.fixture
def one_thread():
    yield
    kernels.set_threads(1)


@njit
def _vectorised_powers(x, e):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = power.power(x[i], e)
    return out


def test_power_is_within_a_few_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(np.log(power.TINY), np.log(power.HUGE), 20_000))
    x = np.concatenate([x, np.exp(rng.uniform(-5, 3, 20_000)), [1.0, 2.0, 0.5, power.TINY,
                                                                   power.HUGE]])
    for e in (0.05, 0.3, 0.5, 0.88, 0.999, -1.0, 0.0):
        fast = _vectorised_powers(x, e)
        exact = x**e
        ulps = np.abs(fast - exact) / (ULP * exact)
        # exp(e log x): the rounding of e log x costs |e log x| ulp of the result
        assert (ulps <= 1.5 + np.abs(e * np.log(x))).all(), e
        moderate = (x > 1e-3) & (x < 1e3)  # where payoffs live
        assert ulps[moderate].max() <= 4, (e, ulps[moderate].max())
    assert (_vectorised_powers(x, 1.0) == x).all()  # risk neutral: exactly x


def _lotteries(rng, n, k, sure_things=True):
    theta = np.broadcast_to(rng.uniform(0.5, 2.0, (n, 1)), (n, k))
    mean, sd, price = rng.random((3, n, k))
    price[: n // 10] = (theta * mean)[: n // 10]  # the middle node pays exactly 0
    if sure_things:
        sd[: n // 20] = 0.0
    return theta, mean, sd, price


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
@pytest.mark.parametrize("curvature", [(0.88, 0.88), (0.75, 0.95), (1.0, 1.0), (0.05, 1.0)])
@pytest.mark.parametrize("nodes,k", [(3, 6), (1, 1), (9, 5), (4, 130)])
def test_blocked_kernel_equals_the_numpy_reference(reference, curvature, nodes, k):
    if reference == "expectation" and min(curvature) < 0.7:
        # A surprise that is 0 in exact arithmetic (the middle node when the nodes are odd,
        # every node when a warranty floor binds at all of them) is +-1e-17 in both
        # formulations, differently, and v(1e-17) = 1e-17**alpha exceeds 1e-10 here.
        pytest.skip("ill-conditioned in the numpy reference too")
    rng = np.random.default_rng(nodes * 1000 + k)
    alpha, beta = curvature
    val = Valuation(ProspectParams(alpha=alpha, beta=beta, lam=2.5, reference=reference), nodes)
    # Not a whole number of blocks; no sure things with the expectation as reference (every
    # node's surprise is then rounding noise, as above).
    theta, mean, sd, price = _lotteries(rng, 301, k, sure_things=reference != "expectation")
    floor = np.where(rng.random(mean.shape) < 0.5, 0.4, -np.inf)
    for fl in (None, floor):
        fast = val.value(theta, mean, sd, price, fl)
        reference_values = val.of_outcomes(val.payoffs(theta, mean, sd, price, fl))
        np.testing.assert_allclose(fast, reference_values, rtol=1e-10, atol=1e-10)
    r = val.reservation(theta[:, 0], mean[:, 0], sd[:, 0], floor[:, 0])
    np.testing.assert_allclose(
        r, val.reservation_reference(theta[:, 0], mean[:, 0], sd[:, 0], floor[:, 0]), atol=1e-9)


def test_payoffs_outside_the_fast_range_use_libm():
    """Zero, subnormal and huge payoffs, and exponents above 1, take libm's pow."""
    val = Valuation(ProspectParams(), 3)
    theta = np.ones((5, 1))
    sd = np.zeros((5, 1))
    mean = np.array([[0.0], [1e-310], [-1e-310], [3e305], [-3e305]])
    v = val.value(theta, mean, sd, np.zeros((5, 1)))
    np.testing.assert_allclose(v, val.of_outcomes(val.payoffs(theta, mean, sd, np.zeros((5, 1)))),
                               rtol=1e-15, atol=0)
    assert v[0, 0] == 0.0 and v[1, 0] > 0 > v[2, 0] and np.isfinite(v).all()
    steep = Valuation(ProspectParams(), 3)
    steep.prefs = ProspectTheory(1.5, 1.2, 2.0, 0.61, 0.69)
    rng = np.random.default_rng(3)
    theta, mean, sd, price = _lotteries(rng, 50, 4)
    np.testing.assert_allclose(steep.value(theta, mean, sd, price),
                               steep.of_outcomes(steep.payoffs(theta, mean, sd, price)),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
def test_threads_give_the_same_bits_as_one(reference, one_thread):
    rng = np.random.default_rng(7)
    val = Valuation(ProspectParams(alpha=0.7, beta=0.9, reference=reference), 3)
    theta, mean, sd, price = _lotteries(rng, 5_000, 6)
    floor = np.where(rng.random(mean.shape) < 0.3, 0.5, -np.inf)
    kernels.set_threads(1)
    one = val.value(theta, mean, sd, price, floor)
    r_one = val.reservation(theta[:, 0], mean[:, 0], sd[:, 0], floor[:, 0])
    kernels.set_threads(2)
    assert kernels.get_threads() == 2
    np.testing.assert_array_equal(val.value(theta, mean, sd, price, floor), one)
    np.testing.assert_array_equal(val.reservation(theta[:, 0], mean[:, 0], sd[:, 0],
                                                  floor[:, 0]), r_one)


def test_threads_must_be_positive(one_thread):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        kernels.set_threads(0)
    assert kernels.get_threads() == 1


def _scalar_loop(val, theta, mean, sd, price):
    """The loop the kernel had before the vectorised power, in plain Python floats (IEEE
    doubles, math.pow = libm's pow), operation for operation."""
    p = val.prefs
    out = np.empty(mean.shape)
    for idx in np.ndindex(mean.shape):
        expected = 0.0
        payoffs = [float(theta[idx]) * (float(mean[idx]) + float(sd[idx]) * float(z))
                   - float(price[idx]) for z in val.z]
        if val.expectation_reference:
            for j, x in enumerate(payoffs):
                expected += float(val.probs[j]) * x
        total = 0.0
        for j, x in enumerate(payoffs):
            x = x - expected
            if x >= 0.0:
                total += float(val.gain_w[j]) * math.pow(x, p.alpha)
            else:
                total += -p.lam * float(val.loss_w[j]) * math.pow(-x, p.beta)
        out[idx] = expected + total
    return out


@pytest.fixture
def libm_powers():
    kernels.use_libm_powers(True)
    yield
    kernels.use_libm_powers(False)


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
def test_libm_powers_give_the_bits_of_the_loop_before(reference, libm_powers):
    rng = np.random.default_rng(11)
    val = Valuation(ProspectParams(alpha=0.8, beta=0.9, lam=2.25, reference=reference), 3)
    theta, mean, sd, price = _lotteries(rng, 200, 6, sure_things=False)
    before = _scalar_loop(val, theta, mean, sd, price)
    np.testing.assert_array_equal(val.value(theta, mean, sd, price), before)
    kernels.use_libm_powers(False)
    vectorised = val.value(theta, mean, sd, price)
    np.testing.assert_allclose(vectorised, before, rtol=1e-14, atol=1e-15)
    assert (vectorised != before).any()  # the powers do differ in the last bits


def _bounds_lotteries(rng, n, k):
    """Lotteries over many magnitudes, with some values just around 0 and payoffs that are
    exactly 0, subnormal or huge, so every branch of the bounds is met."""
    theta, mean, sd, price = (np.array(a) for a in _lotteries(rng, n, k))
    scale = 10.0 ** rng.uniform(-8, 4, (n, 1))
    mean, sd, price = mean * scale, sd * scale, price * scale
    mean[:20, 0], sd[:20, 0], price[:20, 0] = 1e-310, 0.0, 0.0    # subnormal gains
    mean[20:40, 0], sd[20:40, 0], price[20:40, 0] = 0.0, 0.0, 1e-310  # subnormal losses
    mean[40:50, 0], sd[40:50, 0], price[40:50, 0] = 3e305, 0.0, 0.0   # huge
    return theta, mean, sd, price


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
@pytest.mark.parametrize("curvature", [(0.88, 0.88), (0.5, 0.95), (1.0, 1.0), (0.05, 0.3)])
@pytest.mark.parametrize("cutoff", [-1e-12, 0.0, 0.3])
def test_a_cutoff_changes_only_values_below_it(reference, curvature, cutoff, one_thread):
    """Bounded-away lotteries come back -inf; every other value, and which values reach the
    cutoff, are the same bits as without one, at one thread and two."""
    rng = np.random.default_rng(int(1000 * curvature[0]) + int(cutoff * 10))
    alpha, beta = curvature
    val = Valuation(ProspectParams(alpha=alpha, beta=beta, lam=2.25, reference=reference), 3)
    theta, mean, sd, price = _bounds_lotteries(rng, 4_000, 6)
    # values right at the cutoff: price each lottery at its reservation price plus a little
    edge = val.reservation(theta[:200, 1], mean[:200, 1], sd[:200, 1])
    price[:200, 1] = edge + rng.normal(0, 1e-9, 200)
    floor = np.where(rng.random(mean.shape) < 0.3, mean, -np.inf)
    for fl in (None, floor):
        full = val.value(theta, mean, sd, price, fl)
        for threads in (1, 2):
            kernels.set_threads(threads)
            cut = val.value(theta, mean, sd, price, fl, cutoff=cutoff)
            reach = full >= cutoff
            np.testing.assert_array_equal(cut >= cutoff, reach)
            np.testing.assert_array_equal(cut[reach], full[reach])
            below = cut[~reach]
            assert (np.isneginf(below) | (below == full[~reach])).all()
        kernels.set_threads(1)
        if alpha < 1.0 or beta < 1.0:  # the bounds do rule most losing lotteries out
            assert np.isneginf(cut[~reach]).mean() > 0.5


def test_lotteries_the_bounds_cannot_rule_out_are_valued_in_full():
    """Risk-seeking or convex curvature has no concave bound: nothing is pruned."""
    val = Valuation(ProspectParams(), 3)
    val.prefs = ProspectTheory(1.5, 1.2, 2.0, 0.61, 0.69)
    rng = np.random.default_rng(5)
    theta, mean, sd, price = _lotteries(rng, 300, 4)
    np.testing.assert_array_equal(val.value(theta, mean, sd, price, cutoff=0.0),
                                  val.value(theta, mean, sd, price))


def test_binade_bounds_hold_across_magnitudes():
    """t**e (1 - e + e u) >= a**e >= t**e (1 + (2**e - 1)(u - 1)) for a = t u, the tables
    at k = 0 (zero, subnormals) included."""
    rng = np.random.default_rng(2)
    a = np.concatenate([np.exp(rng.uniform(-745, 709, 5000)), [0.0, 5e-324, 1e-310, 1.0,
                                                                2.0, 1.5, 1e308]])
    k, u = _binades(a)
    k_neg, u_neg = _binades_compiled(-a)
    np.testing.assert_array_equal(k_neg, k + 2048)
    np.testing.assert_array_equal(u_neg, u)
    for e in (0.05, 0.5, 0.88, 1.0):
        upper = power.binade_powers(e, lower=False)[k] * (1 - e + e * u)
        lower = power.binade_powers(e, lower=True)[k] * (1 + (2**e - 1) * (u - 1))
        exact = a**e
        assert (upper >= exact * (1 - 1e-13)).all() and (lower <= exact * (1 + 1e-13)).all()
        normal = (a > 1e-300) & (a < 1e300)
        # loosest at u = 2 (the tangent) and inside the binade (the chord): 2.2% at 0.88
        slack = (1 + e) / 2**e
        assert (upper[normal] <= slack * (1 + 1e-13) * exact[normal]).all()
        if e >= 0.88:
            assert (upper[normal] <= 1.025 * exact[normal]).all()
            assert (lower[normal] >= 0.99 * exact[normal]).all()


@njit
def _binades_compiled(a):
    k = np.empty(a.shape[0], dtype=np.int64)
    u = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        k[i], u[i] = power.signed_binade(a[i])
    return k, u


def _binades(a):
    k, u = _binades_compiled(a)
    mantissa, exponent = np.frexp(a)
    normal = a >= np.finfo(float).tiny
    np.testing.assert_array_equal(u[normal], 2 * mantissa[normal])
    np.testing.assert_array_equal(k[normal], exponent[normal] - 1 + 1023)
    assert (k[~normal] == 0).all()
    return k, u


def _edge_lotteries(rng, r0, n):
    """Lotteries whose a / b (a = theta mean - price, b = theta sd) is within 1e-3 of r0,
    at scales where theta mean and the price are up to 1e13 times b (so the payoffs'
    rounding is far larger than the distance to r0)."""
    theta = rng.uniform(0.5, 2.0, (n, 1))
    b = 10.0 ** rng.uniform(-6, 3, (n, 1))
    mean = b * 10.0 ** rng.uniform(-2, 13, (n, 1)) / theta
    r = r0 * (1 + rng.choice([-1, 1], (n, 1)) * 10.0 ** rng.uniform(-15, -3, (n, 1)))
    price = theta * mean - r * b
    return theta, mean, b / theta, price


@pytest.mark.parametrize("alpha", [0.88, 0.5, 1.0, 0.05])
@pytest.mark.parametrize("cutoff", [-1e-12, 0.0])
def test_the_homogeneous_test_keeps_every_lottery_that_reaches_the_cutoff(alpha, cutoff):
    """With alpha = beta and the outside option as reference, a / b alone says whether a
    lottery can reach 0 (`kernels.homogeneous_cut`). Around that ratio, and where the
    payoffs' rounding dwarfs the distance to it, the cutoff changes no decision."""
    val = Valuation(ProspectParams(alpha=alpha, beta=alpha, lam=2.25), 3)
    z, _, gain_w, loss_w, *_ = val.kernel_args()
    r_cut, b_min, span = kernels.homogeneous_cut(z, gain_w, loss_w, alpha, alpha, 2.25, False,
                                                 cutoff)
    assert np.isfinite(r_cut) and 0 <= b_min < 1e-5 and span == np.abs(z).max()
    # r_cut is just below where the value turns positive
    above = val.of_outcomes(np.array([r_cut * (1 + 1e-5) + 1e-5 + z]))
    below = val.of_outcomes(np.array([r_cut + z]))
    assert above > 0 > below
    rng = np.random.default_rng(int(alpha * 100))
    theta, mean, sd, price = _edge_lotteries(rng, r_cut + 1e-6 * (1 + abs(r_cut)), 20_000)
    # and lotteries of every kind: most are ruled out without a power taken
    t2, m2, s2, p2 = (np.array(a) for a in _lotteries(rng, 5_000, 1))
    theta, mean, sd, price = (np.concatenate([x, y]) for x, y in
                              zip((theta, mean, sd, price), (t2, m2, s2, p2), strict=True))
    full = val.value(theta, mean, sd, price)
    cut = val.value(theta, mean, sd, price, cutoff=cutoff)
    reach = full >= cutoff
    assert 0.2 < reach[:20_000].mean() < 0.8  # both sides of the edge are there
    np.testing.assert_array_equal(cut >= cutoff, reach)
    np.testing.assert_array_equal(cut[reach], full[reach])
    assert np.isneginf(cut[20_000:][~reach[20_000:]]).mean() > 0.8


def test_the_homogeneous_test_stands_aside_where_it_does_not_hold():
    """Different curvatures, the expectation as reference, no loss aversion or a cutoff
    above 0: no cut (the bounds of `_could_reach` still apply)."""
    val = Valuation(ProspectParams(), 3)
    z, _, gw, lw, *_ = val.kernel_args()
    for args in [(0.88, 0.5, 2.25, False, 0.0), (0.88, 0.88, 2.25, True, 0.0),
                 (0.88, 0.88, 0.0, False, 0.0), (0.88, 0.88, 2.25, False, 0.1),
                 (0.88, 0.88, 2.25, False, -np.inf)]:
        assert not np.isfinite(kernels.homogeneous_cut(z, gw, lw, *args)[0]), args
