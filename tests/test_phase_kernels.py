"""The phases' compiled loops (simulator/phases/_kernels.py) and the fused belief fade give
the numbers of the numpy they replaced, bit for bit, on random inputs with several segments,
trust at the thresholds, refusals, lapses and forgotten slots."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import kernels
from simulator.phases import _kernels


def _segment_params(rng, k):
    return {"tolerance": rng.uniform(0.0, 0.2, k), "gain": rng.uniform(0.0, 0.5, k),
            "loss": np.r_[1.0, rng.uniform(0.0, 1.0, k - 1)],  # a loss of 1: the 1e-12 guard
            "leave_below": rng.uniform(0.0, 0.5, k), "idle_loss": rng.uniform(0.0, 0.2, k),
            "lapse": rng.integers(0, 4, k)}


def _trust_numpy(trust, last_gap, losses, segment, who, expected, delivered, refused, par):
    """The numpy formulation the kernel replaced (learn.learn before), per-segment
    parameters gathered by each buyer's segment."""
    def of(name, rows):
        return par[name][segment[rows]]
    before = trust[who]
    good = delivered >= expected - of("tolerance", who)
    trust[who] = np.where(good, before + of("gain", who) * (1 - before),
                          before * (1 - of("loss", who)))
    last_gap[who] = expected - delivered
    losses[who] += ~good
    if len(refused):
        r = refused
        floor = of("leave_below", r) / np.maximum(1 - of("loss", r), 1e-12)
        worn = trust[r] * (1 - of("idle_loss", r))
        trust[r] = np.maximum(worn, np.minimum(trust[r], floor))


@pytest.mark.parametrize("seed", range(4))
def test_trust_after_a_step_equals_the_numpy_rule(seed):
    rng = np.random.default_rng(seed)
    rows, k = 3_000, 3
    par = _segment_params(rng, k)
    segment = rng.integers(0, k, rows)
    trust = rng.uniform(0.0, 1.0, rows)
    trust[:50] = par["leave_below"][segment[:50]]  # on the threshold
    last_gap, losses = rng.normal(size=rows), rng.integers(0, 5, rows)
    order = rng.permutation(rows)
    who, refused = order[:1_200], np.sort(order[1_200:2_000])
    expected = rng.uniform(0.0, 1.0, len(who))
    delivered = expected + rng.normal(0.0, 0.2, len(who))
    delivered[:40] = expected[:40] - par["tolerance"][segment[who[:40]]]  # exactly tolerated

    want = [trust.copy(), last_gap.copy(), losses.copy()]
    _trust_numpy(*want, segment, who, expected, delivered, refused, par)
    got = [trust.copy(), last_gap.copy(), losses.copy()]
    _kernels.trust_after_step(*got, segment, who, expected, delivered, par["tolerance"],
                              par["gain"], par["loss"], refused, par["leave_below"],
                              par["idle_loss"])
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(got[0], trust)  # trust moved both ways
    assert (got[2] >= losses).all() and (got[2] > losses).any()


@pytest.mark.parametrize("seed", range(4))
def test_idle_steps_and_leavers_equal_the_numpy_rule(seed):
    rng = np.random.default_rng(seed)
    rows, k = 3_000, 3
    par = _segment_params(rng, k)
    segment = rng.integers(0, k, rows)
    active = rng.random(rows) < 0.8
    trust = rng.uniform(0.0, 1.0, rows)
    trust[:30] = par["leave_below"][segment[:30]]  # on the threshold: stays
    idle = rng.integers(0, 5, rows)
    start = np.flatnonzero(active)
    traded = rng.choice(start, len(start) // 2, replace=False)

    want_idle = idle.copy()
    want_idle[start] += 1
    want_idle[traded] = 0
    lapse = par["lapse"][segment]
    want = np.flatnonzero(active & ((trust < par["leave_below"][segment])
                                    | ((lapse > 0) & (want_idle >= lapse))))

    got_idle = idle.copy()
    got = _kernels.idle_and_leaving(got_idle, active, trust, segment, start, traded,
                                    par["leave_below"], par["lapse"])
    assert np.array_equal(got_idle, want_idle)
    assert np.array_equal(got, want) and got.dtype == want.dtype
    assert 0 < len(got) < active.sum()


@pytest.mark.parametrize("forgetting, forgiveness", [(0.1, 0.0), (0.0, 0.3), (0.05, 0.2)])
def test_fading_pooled_and_slot_beliefs_equals_the_numpy_rule(forgetting, forgiveness):
    rng = np.random.default_rng(7)
    rows, pools, memory, sellers, floor, now = 2_000, 3, 5, 60, 0.5, 9
    pool_precision = rng.uniform(0.3, 3.0, (rows, pools))
    pool_precision[:20] = floor / (1 - forgetting) if forgetting else floor  # at the floor
    pool_mean = rng.uniform(0.0, 1.0, (rows, pools))
    seller = rng.integers(-1, sellers, (rows, memory))
    precision, mean = rng.uniform(0.3, 3.0, (rows, memory)), rng.uniform(0.0, 1.0, (rows, memory))
    used = rng.integers(now - 3, now, (rows, memory))
    seller_pool = rng.integers(0, pools, sellers)
    pub_mean = rng.uniform(0.0, 1.0, sellers)
    pub_var = np.where(rng.random(sellers) < 0.5, np.inf, 0.01)
    keep, since = 1.0 - forgetting, now - 1

    want = [pool_precision.copy(), precision.copy(), mean.copy()]
    if keep < 1.0:
        np.maximum(want[0] * keep, floor, out=want[0])
    known = seller >= 0
    want[1][known] = np.maximum(want[1][known] * keep, floor)
    drift = known & (used < since) & (forgiveness > 0)
    j = np.maximum(seller, 0)
    target = np.where(np.isfinite(pub_var[j]), pub_mean[j],
                      np.take_along_axis(pool_mean, seller_pool[j], axis=1))
    want[2][drift] += forgiveness * (target[drift] - want[2][drift])

    got = [pool_precision.copy(), precision.copy(), mean.copy()]
    kernels.fade(got[0], got[1], got[2], seller, used, since, keep, floor, forgiveness,
                 pool_mean, seller_pool, pub_mean, pub_var)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    if forgetting:
        assert not np.array_equal(got[0], pool_precision)
    if forgiveness:
        assert not np.array_equal(got[2], mean)


@pytest.mark.parametrize("width", [1, 6])
def test_purchases_gather_what_the_numpy_cells_hold(width):
    rng = np.random.default_rng(width)
    n, rows, sellers = 2_000, 2_500, 40
    buyers = np.sort(rng.choice(rows, n, replace=False))
    cands = rng.integers(-1, sellers, (n, width))
    pick = np.where(rng.random(n) < 0.7, rng.integers(0, width, n), -1)
    pick[cands[np.arange(n), np.maximum(pick, 0)] < 0] = -1  # nobody buys from no candidate
    wanted = (pick >= 0) | (rng.random(n) < 0.3)  # some were turned away
    price, mean, var, extra = (rng.uniform(0.0, 2.0, (n, width)) for _ in range(4))
    slot = rng.integers(-1, 8, (n, width))
    pub_var = np.where(rng.random(sellers) < 0.5, np.inf, 0.01)
    segment, theta = rng.integers(0, 3, rows), rng.uniform(1.0, 2.0, rows)

    got = _kernels.purchases(pick, wanted, buyers, cands, price, mean, var, slot, extra,
                             pub_var, segment, theta)
    bought = np.flatnonzero(pick >= 0)
    who, cell = buyers[bought], bought * width + pick[bought]
    seller = cands.reshape(-1)[cell]
    at = [a.reshape(-1)[cell] for a in (price, mean, var, slot, extra)]
    want = (bought, who, segment[who], theta[who], seller, *at,
            np.isinf(pub_var[seller]) & (at[3] == -1), buyers[~wanted])
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    assert 0 < len(bought) < n and got[-1].size > 0 and got[10].any() and not got[10].all()


@pytest.mark.parametrize("arrivals, leave_below", [(0.0, 0.45), (0.05, 0.0)])
def test_the_active_buyers_and_their_sorted_tastes_follow_arrivals_and_departures(
        arrivals, leave_below):
    """`active_buyers` and `active_tastes_descending` are kept between arrivals and
    departures; after either (each alone here) they are worked out again, and they are
    never written to."""
    from simulator.model import MarketModel

    model = MarketModel({"buyers": 300, "sellers": 20, "arrivals": {"rate": arrivals},
                         "trust": {"leave_below": leave_below}}, rng=3)
    m, b = model.market, model.market.buyers
    changed = 0
    for _ in range(40):
        rows, tastes, version = m.active_buyers(), m.active_tastes_descending(), m.buyers_version
        assert m.active_buyers() is rows and m.active_tastes_descending() is tastes
        assert np.array_equal(rows, np.flatnonzero(b.active[: b.size]))
        assert np.array_equal(tastes, np.sort(b.theta[rows])[::-1])
        with pytest.raises(ValueError):
            rows[0] = 0
        model.step()
        changed += m.buyers_version != version
    assert changed >= 3  # buyers came (or went) in several steps


HEAR_MARKETS = {
    "every_mechanism": {"quality": {"low": 0.2, "high": 1.0}, "claims": {"enabled": True},
                        "reviews": {"enabled": True}, "moral_hazard": {"enabled": True},
                        "certification": {"enabled": True}},
    "claims_segments": {"information": "noisy", "claims": {"enabled": True},
                        "segments": {"a": {"share": 0.5}, "b": {"share": 0.5,
                                                                 "review_weight": 3.0}}},
    "public_quality": {"information": "transparent", "reviews": {"enabled": True}},
}


@pytest.mark.parametrize("name", sorted(HEAR_MARKETS))
def test_hearing_in_one_pass_equals_the_numpy_hear(name):
    from simulator.model import MarketModel
    from simulator.phases import learn

    model = MarketModel({"buyers": 500, "sellers": 25, "beliefs": {"memory": 4}, **HEAR_MARKETS[name]},
                        rng=2)
    for _ in range(12):
        model.step()
    m, bel = model.market, model.market.beliefs
    rng = np.random.default_rng(3)
    active = np.flatnonzero(model.buyers.active[: model.buyers.size])
    buyers = rng.permutation(active)[: len(active) * 3 // 4]  # distinct, in no order
    sellers = rng.integers(0, model.sellers.size, len(buyers))
    known = rng.random(len(buyers)) < 0.4  # sellers the buyer remembers, where it has any
    memory = bel.slot_seller[buyers, 0]
    sellers[known & (memory >= 0)] = memory[known & (memory >= 0)]
    observed = rng.normal(0.6, 0.3, len(buyers))
    weight = rng.uniform(-0.2, 1.5, len(buyers))
    weight[::10] = 0.0  # nothing heard
    names = ("slot_seller", "slot_mean", "slot_precision", "slot_used", "pool_mean",
             "pool_precision", "pool_sq")
    start = {k: getattr(bel, k).copy() for k in names}
    after = {}
    for compiled in (False, True):
        for k in names:
            getattr(bel, k)[...] = start[k]
        learn.hear(m, buyers, sellers, observed, weight, compiled=compiled)
        after[compiled] = {k: getattr(bel, k).copy() for k in names}
    for k in names:
        np.testing.assert_array_equal(after[True][k], after[False][k], err_msg=k)
    changed = after[True]["slot_mean"] != start["slot_mean"]
    assert changed.any() == (name != "public_quality")
