"""Invariants of the market engine over random parameters (hypothesis)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.agents import Buyer, Seller
from simulator.metrics import METRICS
from simulator.model import MarketModel, run_market
from simulator.params import INFORMATION_REGIMES, PRICING_POLICIES, SELLER_IDENTITIES, MarketParams
from simulator.phases.shop import predictive_beliefs

markets = st.fixed_dictionaries({
    "buyers": st.integers(1, 80),
    "sellers": st.integers(1, 20),
    "information": st.sampled_from(INFORMATION_REGIMES),
    "pricing": st.sampled_from(PRICING_POLICIES),
    "identity": st.sampled_from(SELLER_IDENTITIES),
    "capacity": st.integers(0, 3),
    "quality_noise": st.floats(0.0, 0.3),
    "quality": st.one_of(
        st.fixed_dictionaries({"distribution": st.just("uniform"), "high": st.floats(0.1, 1)}),
        st.fixed_dictionaries({"distribution": st.just("two_type"), "low": st.floats(0, 0.5),
                               "share_high": st.floats(0, 1)}),
        st.fixed_dictionaries({"distribution": st.just("beta"), "a": st.floats(0.5, 5),
                               "b": st.floats(0.5, 5)})),
    "cost": st.fixed_dictionaries({"c0": st.floats(0, 0.3), "c1": st.floats(0, 1.5),
                                   "fixed": st.floats(0, 0.2)}),
    "taste": st.one_of(
        st.fixed_dictionaries({"distribution": st.just("constant"), "value": st.floats(0, 3)}),
        st.fixed_dictionaries({"distribution": st.just("normal"), "mean": st.floats(0.5, 2.5),
                               "sd": st.floats(0, 1)})),
    "prospect": st.fixed_dictionaries({
        "lam": st.floats(1, 4), "alpha": st.floats(0.5, 1), "beta": st.floats(0.5, 1),
        "gamma_gain": st.floats(0.4, 1), "gamma_loss": st.floats(0.4, 1),
        "reference": st.sampled_from(["outside_option", "expectation"])}),
    "choice": st.fixed_dictionaries({"candidates": st.integers(1, 6),
                                     "logit_noise": st.sampled_from([0.0, 0.05, 0.5]),
                                     "switching_cost": st.sampled_from([0.0, 0.1])}),
    "arrivals": st.fixed_dictionaries({"rate": st.sampled_from([0.0, 0.05])}),
    "entry": st.fixed_dictionaries({"enabled": st.booleans(), "cost": st.floats(0, 0.1)}),
    "exit": st.fixed_dictionaries({"enabled": st.booleans(), "patience": st.integers(1, 5)}),
    "trust": st.fixed_dictionaries({"leave_below": st.floats(0, 0.6)}),
    # Every mechanism, on or off, with its main knobs.
    "certification": st.fixed_dictionaries({"enabled": st.booleans(),
                                            "cost_low": st.floats(0, 0.5),
                                            "reveals": st.booleans()}),
    "warranty": st.fixed_dictionaries({"enabled": st.booleans(), "threshold": st.floats(0, 1)}),
    "claims": st.fixed_dictionaries({
        "enabled": st.booleans(), "strategy": st.sampled_from(
            ["learned", "honest", "over_promise", "under_promise"]),
        "audit": st.floats(0, 1), "penalty": st.floats(0, 1)}),
    "disclosure": st.fixed_dictionaries({"enabled": st.booleans(),
                                         "mode": st.sampled_from(["voluntary", "mandatory"])}),
    "cost_disclosure": st.fixed_dictionaries({"enabled": st.booleans()}),
    "reviews": st.fixed_dictionaries({"enabled": st.booleans(), "delay": st.integers(0, 3)}),
    "word_of_mouth": st.fixed_dictionaries({
        "enabled": st.booleans(),
        "network": st.sampled_from(["random", "small_world", "scale_free"])}),
    "trials": st.fixed_dictionaries({"enabled": st.booleans()}),
    "personalized_pricing": st.fixed_dictionaries({"enabled": st.booleans(),
                                                   "discovery": st.floats(0, 1)}),
    "moral_hazard": st.fixed_dictionaries({"enabled": st.booleans()}),
})

SHARES = ("trust", "churn", "switch_rate", "exit_rate")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=markets, seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_every_step(market, seed):
    model = MarketModel(market, rng=seed)
    p = model.params
    traded = 0.0
    for _ in range(12):
        active_before = int(model.buyers.active.sum())
        model.step()
        s, b, t, m = model.sellers, model.buyers, model.trades, model.metrics
        # Money is conserved: over all steps, what buyers paid by their own books (those who
        # left included) is what sellers received by theirs, and both are what traded.
        traded += t.price.sum()
        ledger = model.ledger
        assert ledger["paid"] == pytest.approx(ledger["received"], rel=1e-12, abs=1e-12)
        assert ledger["received"] == pytest.approx(traded, rel=1e-12, abs=1e-12)
        assert np.isclose(t.price.sum(), s.revenue.sum(), rtol=1e-12, atol=1e-12)
        # Each trade's price is what that buyer was asked: the posted price unless a seller
        # holding data personalised it.
        personal = t.flags.get("personal", np.zeros(len(t), dtype=bool))
        assert (t.price[~personal] == s.price[t.seller[~personal]]).all()
        # Trust, shares and probabilities stay in [0, 1] wherever they are defined.
        assert ((b.trust >= 0) & (b.trust <= 1)).all()
        for name in (*SHARES, "disclosure_rate", "certified_share", "deception_rate",
                     "review_coverage", "review_coverage_top_half"):
            assert np.isnan(m[name]) or 0.0 <= m[name] <= 1.0 + 1e-12, name
        if p.quality_noise == 0:  # realised efficiency beats first best only by luck
            assert np.isnan(m["efficiency"]) or m["efficiency"] <= 1.0 + 1e-9
        # Volume is bounded by buyers and by capacity; nobody buys twice.
        assert m["volume"] <= active_before
        assert len(np.unique(t.buyer)) == len(t.buyer)
        if p.capacity > 0:
            assert (s.sales <= p.capacity).all()
            assert m["volume"] <= p.capacity * m["active_sellers"]
        # A metric is NaN exactly when what it is a ratio or mean over is empty this step.
        undefined = {
            "price": m["volume"] == 0, "quality_traded": m["volume"] == 0,
            "satisfaction": m["volume"] == 0, "expectation_gap": m["volume"] == 0,
            "deception_rate": m["volume"] == 0, "trust": m["active_buyers"] == 0,
            "switch_rate": active_before == 0, "exit_rate": active_before == 0,
            "churn": active_before == 0, "mean_seller_quality": m["active_sellers"] == 0,
            "review_coverage": p.reviews.enabled and m["active_sellers"] == 0,
        }
        for name, value in m.items():
            if name in undefined:
                assert np.isnan(value) == undefined[name], name
            elif name not in ("efficiency", "disclosure_rate", "certified_share",
                              "claim_inflation", "review_coverage_top_half"):
                assert np.isfinite(value), name
        # Surpluses add up, and producer surplus is the sellers' profit by their books.
        assert m["consumer_surplus"] + m["producer_surplus"] == m["total_surplus"]
        booked = model.accounted  # sellers in the market this step, leavers included
        assert len(booked) == s.in_market.sum() + m["exits"] - m["entries"]
        profit = (t.price.sum() - s.unit_cost[t.seller].sum() - p.cost.fixed * len(booked)
                  - s.extra_cost[booked].sum())
        assert m["producer_surplus"] == pytest.approx(profit, rel=1e-9, abs=1e-9)
        # Sellers never sell below this step's unit cost.
        assert (t.price >= s.unit_cost[t.seller] - 1e-9).all()
    # The agents are the face of the arrays: one Mesa agent per live row.
    assert len(model.agents_by_type.get(Buyer, [])) == int(model.buyers.active.sum())
    assert len(model.agents_by_type.get(Seller, [])) == int(model.sellers.in_market.sum())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=markets, seed=st.integers(0, 2**32 - 1))
def test_same_seed_gives_bit_identical_data(market, seed):
    a = run_market(market, 15, seed)
    b = run_market(market, 15, seed)
    assert list(a.columns) == list(METRICS)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()


def test_different_seeds_give_different_markets():
    a = run_market({"buyers": 50, "sellers": 10}, 20, 1)
    b = run_market({"buyers": 50, "sellers": 10}, 20, 2)
    assert not a.equals(b)


def test_seed_sequence_and_int_seeds_are_both_accepted():
    seq = np.random.SeedSequence(5).spawn(2)[1]
    a = run_market({"buyers": 30, "sellers": 5}, 5, seq)
    b = run_market({"buyers": 30, "sellers": 5}, 5, np.random.SeedSequence(5).spawn(2)[1])
    pd.testing.assert_frame_equal(a, b)


def test_model_uses_no_global_random_state():
    # This test inspects the legacy global state on purpose.
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    before = (np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    run_market({"buyers": 40, "sellers": 8, "choice": {"logit_noise": 0.1}}, 10, 3)
    assert (np.random.get_state()[1] == before[0]).all()  # noqa: NPY002
    assert random.getstate() == before[1]


def test_beliefs_do_not_grow_with_sellers():
    small = MarketModel({"buyers": 500, "sellers": 10}, rng=1)
    large = MarketModel({"buyers": 500, "sellers": 2000}, rng=1)
    assert small.beliefs.nbytes == large.beliefs.nbytes


def test_buyers_remember_at_most_memory_sellers_and_learn_their_quality():
    model = MarketModel({"buyers": 50, "sellers": 40, "information": "asymmetric",
                         "identity": "identifiable", "pricing": "markup",
                         "beliefs": {"memory": 3}}, rng=4)
    for _ in range(40):
        model.step()
    known = (model.beliefs.slot_seller >= 0).sum(axis=1)
    assert known.max() <= 3 and known.max() > 0
    rows, slots = np.nonzero(model.beliefs.slot_seller >= 0)
    sellers = model.beliefs.slot_seller[rows, slots]
    error = np.abs(model.beliefs.slot_mean[rows, slots] - model.sellers.quality[sellers])
    prior_error = np.abs(model.market.quality_mean - model.sellers.quality[sellers])
    assert error.mean() < 0.5 * prior_error.mean()


def test_arrivals_and_leaving_change_the_population():
    model = MarketModel({"buyers": 100, "sellers": 10, "arrivals": {"rate": 0.1},
                         "trust": {"leave_below": 0.69, "initial": 0.7}}, rng=2)
    for _ in range(20):
        model.step()
    df = model.metrics_frame()
    assert df["exit_rate"].sum() > 0
    active = model.buyers.active[: model.buyers.size]
    assert (model.buyers.joined[: model.buyers.size][active] > 0).any()  # newcomers are here
    assert df["active_buyers"].iloc[-1] == len(model.agents_by_type[Buyer])


def test_seller_exit_and_free_entry_can_be_switched_on_and_off():
    base = {"buyers": 100, "sellers": 30, "pricing": "markup", "price": {"markup": 0.5},
            "choice": {"candidates": 2}}
    on = run_market({**base, "exit": {"enabled": True, "patience": 2},
                     "entry": {"enabled": True, "cost": 0.0, "rate": 0.2}}, 30, 1)
    off = run_market(base, 30, 1)
    assert on["exits"].sum() > 0 and on["entries"].sum() > 0
    assert off["exits"].sum() == 0 and off["entries"].sum() == 0


def test_params_reject_nonsense_with_the_key_path():
    from simulator.params import ParamError
    with pytest.raises(ParamError, match=r"market\.prospect\.lam"):
        MarketParams.from_dict({"prospect": {"lam": 0.5}})
    with pytest.raises(ParamError, match="did you mean 'buyers'"):
        MarketParams.from_dict({"buyer": 3})


@pytest.mark.parametrize("market", [
    {},
    {"identity": "anonymous", "claims": {"enabled": True}},
    {"information": "noisy", "reviews": {"enabled": True}, "certification": {"enabled": True},
     "warranty": {"enabled": True}, "moral_hazard": {"enabled": True}},
    {"information": "delayed", "claims": {"enabled": True}, "reviews": {"enabled": True},
     "disclosure": {"enabled": True}, "segments": {"a": {"share": 0.5}, "b": {
         "share": 0.5, "review_weight": 3.0}}},
])
def test_compiled_beliefs_equal_the_numpy_reference(market):
    model = MarketModel({"buyers": 400, "sellers": 40, **market}, rng=3)
    for _ in range(15):
        model.step()
    buyers = np.flatnonzero(model.buyers.active[: model.buyers.size])
    cands = np.random.default_rng(0).integers(0, model.sellers.size, size=(len(buyers), 6))
    compiled = predictive_beliefs(model.market, buyers, cands)
    reference = predictive_beliefs(model.market, buyers, cands, compiled=False)
    for got, want in zip(compiled, reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    if not market:  # identifiable sellers, hidden quality: buyers remember some of them
        assert (compiled[2] >= 0).any()


def test_every_public_property_of_the_agents_reads_its_row():
    model = MarketModel({"buyers": 60, "sellers": 12, "information": "noisy",
                         "arrivals": {"rate": 0.1}}, rng=2)
    for _ in range(10):
        model.step()
    s, b = model.sellers, model.buyers
    for kind, agents in ((Seller, model.agents_by_type[Seller]),
                         (Buyer, model.agents_by_type[Buyer])):
        names = [n for n, v in vars(kind).items()
                 if not n.startswith("_") and (isinstance(v, property) or callable(v))]
        assert names, kind
        for agent in agents:
            for name in names:
                value = getattr(agent, name)
                if callable(value):
                    value = value()
                assert value is None or isinstance(value, bool | int | float | tuple | dict
                                                   | Seller), (kind, name, value)
    seller = next(iter(model.agents_by_type[Seller]))
    r = seller.row
    assert (seller.quality, seller.cost, seller.price) == (s.quality[r], s.cost[r], s.price[r])
    assert seller.in_market and seller.public_quality == pytest.approx(s.pub_mean[r])
    buyer = next(iter(model.agents_by_type[Buyer]))
    mean, sd = buyer.belief_about_market
    assert mean == model.beliefs.pool_mean[buyer.row, 0] and 0 < sd < 1
    assert buyer.active and buyer.taste == b.theta[buyer.row]
    for row, believed in buyer.known_sellers().items():
        assert 0 <= row < s.size and np.isfinite(believed)
    if buyer.seller is not None:
        assert buyer.seller.row == b.last_seller[buyer.row]


def test_large_markets_make_buyer_agents_on_demand(monkeypatch):
    import simulator.model as model_module

    monkeypatch.setattr(model_module, "EAGER_BUYERS", 50)
    model = MarketModel({"buyers": 80, "sellers": 10, "arrivals": {"rate": 0.1},
                         "trust": {"leave_below": 0.5}}, rng=3)
    assert len(model.agents_by_type.get(Buyer, [])) == 0  # none made yet
    for _ in range(5):
        model.step()
    rows = np.flatnonzero(model.buyers.active[: model.buyers.size])
    agent = model.buyer_agents[int(rows[0])]
    assert isinstance(agent, Buyer) and agent.taste == model.buyers.theta[rows[0]]
    assert agent.unique_id == model.buyers.uid[rows[0]]
    assert model.buyer_agents[int(rows[0])] is agent  # made once
    assert len(model.agents_by_type[Buyer]) == 1
    uids = model.buyers.uid[rows]
    assert len(np.unique(uids)) == len(uids)  # ids stay unique across recycled rows
    gone = np.flatnonzero(~model.buyers.active[: model.buyers.size])
    if len(gone):
        with pytest.raises(KeyError):
            model.buyer_agents[int(gone[0])]
