"""The step-by-step shop's one compiled pass over its cells (`Valuation.cells`,
simulator/shop_kernels.py) against the numpy formulation it replaced (`phases.shop.value_cells`
with compiled=False): the same bits for every value, and the same markets."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from simulator import shop_kernels
from simulator.model import MarketModel
from simulator.params import ProspectParams
from simulator.phases import shop
from simulator.scenario import Scenario
from simulator.valuation import Valuation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_market import market as bench_market  # noqa: E402


def _cells(rng, n=300, k=7, sellers=40, rows=500):
    """Random shop arrays with the awkward cells in them: no candidate, no spread, a
    payoff of exactly 0 at the middle node, beliefs below and above the floor."""
    buyers = np.sort(rng.choice(rows, n, replace=False))
    cands = rng.integers(-1, sellers, size=(n, k))
    theta = rng.uniform(0.5, 2.0, rows)
    mean = rng.uniform(-0.2, 1.2, (n, k))
    var = rng.uniform(0.0, 0.3, (n, k))
    var[: n // 20] = 0.0
    cost = rng.uniform(0.0, 1.5, (n, k))
    cost[n // 20: n // 10] = (theta[buyers][:, None] * mean)[n // 20: n // 10]
    pool = rng.integers(0, 4, sellers)
    floors = np.array([-np.inf, 0.3, -np.inf, 0.5])
    return buyers, cands, theta, mean, var, cost, pool, floors


def _numpy_values(val, buyers, cands, theta, mean, var, cost, pool, floors, cutoff):
    """`value_cells`' numpy reference for one valuation."""
    floor = None if floors is None else floors[pool[np.maximum(cands, 0)]]
    out = val.value(np.broadcast_to(theta[buyers][:, None], cands.shape), mean, np.sqrt(var),
                    cost, floor, cutoff=cutoff)
    out[cands < 0] = -np.inf
    return out


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
@pytest.mark.parametrize("curvature", [(0.88, 0.88), (0.7, 0.95), (1.0, 1.0)])
@pytest.mark.parametrize("with_floor", [True, False])
def test_cells_give_the_bits_of_the_numpy_values(reference, curvature, with_floor):
    rng = np.random.default_rng(len(reference) + int(100 * curvature[0]) + with_floor)
    val = Valuation(ProspectParams(alpha=curvature[0], beta=curvature[1],
                                   reference=reference), 5)
    buyers, cands, theta, mean, var, cost, pool, floors = _cells(rng)
    floors = floors if with_floor else None
    rows = np.arange(len(buyers))
    for cutoff in (-np.inf, -1e-12):
        expected = _numpy_values(val, buyers, cands, theta, mean, var, cost, pool, floors,
                                 cutoff)
        got = np.full(cands.shape, np.nan)
        val.cells(rows, buyers, cands, theta, mean, var, cost, pool, floors, got, cutoff)
        assert (got[cands < 0] == -np.inf).all()
        # Below the cutoff a value may be -inf in either; the rest are the same bits.
        assert np.array_equal(got >= cutoff, expected >= cutoff)
        reach = expected >= cutoff
        assert np.array_equal(got[reach], expected[reach])
        if cutoff == -np.inf:
            assert np.array_equal(got, expected)
            assert np.isfinite(got[cands >= 0]).all()


def test_cells_fill_only_their_rows():
    rng = np.random.default_rng(7)
    val = Valuation(ProspectParams(), 3)
    buyers, cands, theta, mean, var, cost, pool, floors = _cells(rng)
    rows = np.flatnonzero(rng.random(len(buyers)) < 0.4)
    got = np.full(cands.shape, np.nan)
    val.cells(rows, buyers, cands, theta, mean, var, cost, pool, floors, got)
    expected = _numpy_values(val, buyers, cands, theta, mean, var, cost, pool, floors, -np.inf)
    others = np.setdiff1d(np.arange(len(buyers)), rows)
    assert np.array_equal(got[rows], expected[rows])
    assert np.isnan(got[others]).all()


def _segments_reviews() -> dict:
    return Scenario.load("scenarios/segments.toml").arms["reviews"]


MARKETS = {
    "every_mechanism": lambda: {"buyers": 600, "sellers": 30,
                                **bench_market("every_mechanism")},
    "segments_reviews": _segments_reviews,
    "noisy_capacity_partners": lambda: {"buyers": 400, "sellers": 20, "capacity": 4,
                                        "identity": "partners",
                                        "choice": {"logit_noise": 0.05},
                                        "warranty": {"enabled": True}},
}


def _series(params, monkeypatch, compiled: bool) -> np.ndarray:
    with monkeypatch.context() as patch:
        patch.setattr(shop, "value_cells", partial(shop.value_cells, compiled=compiled))
        model = MarketModel(params, rng=3)
        assert not model.market.plain_shop
        for _ in range(30):
            model.step()
    return model.datacollector.get_model_vars_dataframe().to_numpy(dtype=float)


@pytest.mark.parametrize("name", sorted(MARKETS))
def test_markets_mechanisms_shop_in_give_the_same_bits(name, monkeypatch):
    params = MARKETS[name]()
    compiled = _series(params, monkeypatch, compiled=True)
    np.testing.assert_array_equal(compiled, _series(params, monkeypatch, compiled=False))
    assert np.nansum(compiled) != 0


@pytest.mark.parametrize("seed", range(3))
def test_first_choices_are_allocates_without_capacity(seed):
    rng = np.random.default_rng(seed)
    n, k = 400, 6
    value = rng.normal(size=(n, k)).round(1)  # ties
    value[rng.random((n, k)) < 0.2] = -np.inf
    value[: n // 10] = -np.inf  # rows with nothing
    value[rng.random((n, k)) < 0.03] = np.nan
    acceptable = (value >= 0.2) | (rng.random((n, k)) < 0.05)
    pick, wanted = shop_kernels.first_choices(value, acceptable)
    np.testing.assert_array_equal(pick, shop.allocate(None, np.zeros((n, k), dtype=np.int64),
                                                      value, acceptable, 0))
    np.testing.assert_array_equal(wanted, acceptable.any(axis=1))
    assert (pick == -1).any() and (pick > 0).any()
    threshold = rng.normal(0.2, 0.3, n).round(1)  # cells at the threshold pass
    threshold[: n // 20] = np.nan  # nothing passes
    above = shop_kernels.first_choices(value, None, threshold)
    np.testing.assert_array_equal(
        above, shop_kernels.first_choices(value, value >= threshold[:, None]))
    assert (above[0] >= 0).any() and not above[1][: n // 20].any()


@pytest.mark.parametrize("capacity", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_compiled_allocation_is_the_numpy_rounds(capacity, seed):
    rng = np.random.default_rng(10 * capacity + seed)
    n, k, sellers = 500, 6, 250 // capacity   # more buyers than units: some turned away
    cands = rng.integers(sellers, size=(n, k))
    cands[rng.random((n, k)) < 0.1] = -1
    value = rng.normal(size=(n, k)).round(1)  # ties within rows
    value[cands < 0] = -np.inf
    value[rng.random((n, k)) < 0.02] = np.nan
    value[::17] = 0.0   # rows of equal values: column order decides
    value[::17, 3] = -0.0
    acceptable = (value >= -0.5) & (cands >= 0)

    def market():
        return SimpleNamespace(rng=np.random.default_rng(seed), sellers=SimpleNamespace(
            size=sellers))

    pick = shop.allocate(market(), cands, value, acceptable, capacity)
    np.testing.assert_array_equal(pick, shop.allocate(market(), cands, value, acceptable,
                                                      capacity, compiled=False))
    got = pick >= 0
    served = np.bincount(cands[got, pick[got]], minlength=sellers)
    assert served.max() == capacity   # sellers ran out of units ...
    first = np.argsort(-value, axis=1, kind="stable")[:, 0]
    assert (got & (pick != first)).any()   # ... so some buyers got a later choice
    assert (~got & acceptable.any(axis=1)).any()   # and some none


@pytest.mark.parametrize("curvature", [(0.88, 0.88), (0.7, 0.95), (0.3, 1.0)])
@pytest.mark.parametrize("with_floor", [True, False])
def test_best_only_keeps_each_rows_choice_exact(curvature, with_floor):
    rng = np.random.default_rng(int(100 * curvature[0]) + with_floor)
    val = Valuation(ProspectParams(alpha=curvature[0], beta=curvature[1]), 5)
    buyers, cands, theta, mean, var, cost, pool, floors = _cells(rng, n=2000, rows=3000)
    mean[::7, 2] = mean[::7, 3]  # ties between cells of a row
    cost[::7, 2] = cost[::7, 3]
    var[::7, 2] = var[::7, 3]
    cands[::7, 2] = cands[::7, 3]
    floors = floors if with_floor else None
    rows, cutoff = np.arange(len(buyers)), -1e-12
    full, best = np.empty(cands.shape), np.empty(cands.shape)
    val.cells(rows, buyers, cands, theta, mean, var, cost, pool, floors, full)  # every value
    val.cells(rows, buyers, cands, theta, mean, var, cost, pool, floors, best, cutoff,
              best_only=True)
    pick, wanted = shop_kernels.first_choices(full, full >= cutoff)
    np.testing.assert_array_equal((pick, wanted),
                                  shop_kernels.first_choices(best, best >= cutoff))
    kept = np.isfinite(best)
    assert np.array_equal(best[kept], full[kept])
    assert (best[~kept] == -np.inf).all()
    assert 0.05 < kept[cands >= 0].mean() < 0.95  # bounds ruled cells out, not all
    assert (pick >= 0).any() and (pick == -1).any()
    assert kept[full >= np.maximum(full.max(axis=1), cutoff)[:, None]].all()  # ties too


@pytest.mark.parametrize("alpha", [0.88, 0.3, 1.0])
def test_best_only_keeps_cells_exactly_at_the_cut(alpha):
    """Where a cell's payoffs are all equal (no spread, or floored at every node), its
    value is its bound (`shop_kernels._mean_payoff_cuts`), so a cell that ties its row's
    best sits right at the cut: only the margins keep rounding from ruling it out. (A
    copy of the pivot's lottery takes the pivot's value without a bound.)"""
    rng = np.random.default_rng(int(alpha * 100))
    val = Valuation(ProspectParams(alpha=alpha, beta=alpha), 5)
    n, k, sellers = 4000, 6, 12
    buyers, theta = np.arange(n), rng.uniform(0.5, 2.0, n)
    pool = np.arange(sellers) % 4
    floors = np.array([-np.inf, 0.3, 0.6, 0.5])
    cands = rng.integers(0, sellers, (n, k))
    mean, var = rng.uniform(0.5, 1.5, (n, k)), rng.uniform(0.0, 0.1, (n, k))
    cost = rng.uniform(0.0, 0.5, (n, k))
    var[: n // 2] = 0.0  # no spread
    mean[n // 2:] = -5.0  # floored at every node, where there is a floor
    cands[n // 2:] = rng.integers(0, sellers // 4, (n - n // 2, k)) * 4 + rng.integers(1, 4)
    for cells in (mean, var, cost, cands):  # columns 1-3 copy column 0 ...
        cells[:, 1:] = cells[:, :1]
    mean[n // 2:, 1] -= 1.0  # ... still floored: a tie, though not the pivot's lottery again
    cost[:, 2] += 1e-9  # ... a little worse: not the pivot's lottery
    var[:, 3] += 1e-9
    mean[:, 4] -= 1e-9
    cands[:, 5] = cands[:, 0] - cands[:, 0] % 4  # ... but a seller without the floor
    full, best = np.empty((n, k)), np.empty((n, k))
    val.cells(buyers, buyers, cands, theta, mean, var, cost, pool, floors, full)
    val.cells(buyers, buyers, cands, theta, mean, var, cost, pool, floors, best, -1e-12,
              best_only=True)
    at_cut = full >= np.maximum(full.max(axis=1), -1e-12)[:, None]
    assert at_cut[:, 1].mean() > 0.8
    assert np.isfinite(best[at_cut]).all()
    kept = np.isfinite(best)
    assert np.array_equal(best[kept], full[kept]) and kept.mean() < 0.9
    assert not kept[: n // 2, 2].all() and (full[:, 3] != full[:, 0]).any()


def test_mean_payoff_cuts_are_the_root_they_bound():
    """`_mean_payoff_cuts`' fast root against libm's, over the whole range of cuts, and no
    cut where there is no positive level (or no bound)."""
    gains, alpha = 0.97, 0.88
    best = np.concatenate([10.0 ** np.linspace(-300, 300, 2001), [np.nan, -1.0, 0.0, 1e-300,
                                                                   np.inf, 5e-324]])
    row_cut, m_cut = np.empty(len(best)), np.empty(len(best))
    shop_kernels._mean_payoff_cuts(best, len(best), -1e-12, gains, alpha, row_cut, m_cut)
    np.testing.assert_array_equal(row_cut, np.where(np.isnan(best), -1e-12,
                                                    np.maximum(best, -1e-12)))
    level = row_cut * (1 - shop_kernels.CUT_MARGIN) - shop_kernels.CUT_TINY
    with np.errstate(all="ignore"):
        expected = gains * (level / gains) ** (1 / alpha)
    cut = (level > 0) & (level < np.inf)
    assert cut.sum() > 1900 and (m_cut[~cut] == -np.inf).all()
    np.testing.assert_allclose(m_cut[cut], expected[cut], rtol=1e-12, atol=0)
    assert np.isinf(m_cut[cut]).sum() > 0 and (m_cut[cut] == 0).sum() > 0  # libm's range
    none = np.empty(3)
    shop_kernels._mean_payoff_cuts(np.ones(3), 3, -1e-12, np.nan, alpha, row_cut, none)
    assert (none == -np.inf).all()


BELIEF_MARKETS = {
    "every_mechanism": {**bench_market("every_mechanism")},
    "claims_anonymous": {"identity": "anonymous", "claims": {"enabled": True}},
    "reviews_segments": {"information": "delayed", "reviews": {"enabled": True},
                         "segments": {"a": {"share": 0.5}, "b": {"share": 0.5,
                                                                  "review_weight": 3.0}}},
    "core_noisy": {"information": "noisy"},
}


@pytest.mark.parametrize("name", sorted(BELIEF_MARKETS))
def test_fused_beliefs_give_the_bits_of_the_hooks_one_by_one(name, monkeypatch):
    model = MarketModel({"buyers": 600, "sellers": 30, **BELIEF_MARKETS[name]}, rng=5)
    for _ in range(15):
        model.step()
    m = model.market
    buyers = np.flatnonzero(model.buyers.active[: model.buyers.size])
    rng = np.random.default_rng(1)
    cands = rng.integers(0, model.sellers.size, size=(len(buyers), 7))
    cands[:, 0] = np.maximum(model.buyers.last_seller[buyers], 0)  # often remembered
    fused = shop.predictive_beliefs(m, buyers, cands)
    monkeypatch.setattr(shop, "fused_shifts", lambda m: None)
    one_by_one = shop.predictive_beliefs(m, buyers, cands)
    for got, want in zip(fused, one_by_one, strict=True):
        np.testing.assert_array_equal(got, want)
    if name in ("every_mechanism", "core_noisy"):  # memories were looked up
        assert (fused[2] >= 0).any()
    if name == "every_mechanism":  # both shifts moved some open cells
        monkeypatch.setattr(m.sellers, "rev_n", np.zeros_like(m.sellers.rev_n))
        assert not np.array_equal(shop.predictive_beliefs(m, buyers, cands)[0], fused[0])


@pytest.mark.parametrize("name", sorted(BELIEF_MARKETS))
def test_candidates_are_the_numpy_rules(name):
    model = MarketModel({"buyers": 500, "sellers": 30, "arrivals": {"rate": 0.05},
                         **BELIEF_MARKETS[name]}, rng=5)
    for _ in range(12):
        model.step()
    m = model.market
    buyers = m.active_buyers()
    last = m.buyers.last_seller[buyers]
    m.sellers.offering[np.unique(last[last >= 0])[:3]] = False  # some current sellers left
    offering = m.offering_sellers()
    state = m.rng.bit_generator.state
    got = shop.candidates(m, buyers, offering)
    after = m.rng.bit_generator.state
    m.rng.bit_generator.state = state
    expected = shop.candidates(m, buyers, offering, compiled=False)
    assert m.rng.bit_generator.state == after
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (got[0][:, 0] == -1).any()
    if m.remembers:
        assert got[1].any() and (~got[1] & (last >= 0)).any()
