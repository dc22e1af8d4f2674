"""No result from an artefact: trust that reacts when trade stops, memories that fade,
pooled beliefs that learn how much what is on offer varies, prices that neither stall
nor move in lockstep."""

from __future__ import annotations

import numpy as np

from simulator import kernels
from simulator.beliefs import BeliefStore
from simulator.model import MarketModel, run_market

RETAIL = {"buyers": 200, "sellers": 20, "pricing": "markup", "information": "asymmetric",
          "quality": {"low": 0.2, "high": 1.0}, "trust": {"leave_below": 0.0}}


def test_a_market_that_keeps_refusing_its_buyers_loses_their_trust():
    dead = run_market({**RETAIL, "taste": {"value": 0.3}}, 60, 1)
    alive = run_market({**RETAIL, "taste": {"value": 2.0}}, 60, 1)
    assert (dead["volume"] == 0).all() and (alive["volume"] > 100).all()
    initial = 0.7
    assert dead["trust"].iloc[-1] < initial - 0.4
    assert dead["trust"].iloc[-1] < alive["trust"].iloc[-1] - 0.3


def test_buyers_turned_away_by_capacity_do_not_lose_trust_for_it():
    # Twice as many buyers as units, all worth buying (public quality): half are rationed.
    df = run_market({**RETAIL, "information": "transparent", "capacity": 5,
                     "taste": {"value": 2.0}}, 40, 2)
    assert (df["volume"] <= 100).all()
    assert df["trust"].iloc[-1] > 0.7  # only good experiences, so trust rises


def test_remembered_beliefs_drift_back_toward_the_pooled_belief():
    store = BeliefStore(capacity=2, memory=2, prior_mean=[0.5], prior_precision=1.0,
                        forgetting=0.0)
    slot = store.remember(np.array([0]), np.array([3]), np.array([0.0]), np.array([1e6]), 0)
    for _ in range(50):
        store.fade(0.05, seller_pool=np.zeros(10, dtype=np.int64), pub_mean=np.zeros(10),
                   pub_var=np.full(10, np.inf), now=5)
    believed = store.slot_mean[0, slot[0]]
    assert 0.5 * (1 - 0.95**50) - 1e-12 <= believed <= 0.5  # 0.05 of the way, each step
    assert believed > 0.45



def test_every_buyer_forgets_each_step_and_rows_without_buyers_are_skipped():
    from simulator.phases import publish

    model = MarketModel({**RETAIL, "beliefs": {"forgetting": 0.2},
                         "arrivals": {"rate": 0.05}}, rng=3)
    for _ in range(5):
        model.step()
    m, bel = model.market, model.beliefs
    n = m.buyers.size
    assert n > 200 and len(bel.pool_precision) > n  # arrivals: spare rows beyond the buyers
    before = bel.pool_precision.copy()
    bel.pool_precision[n:] = 7.0  # no buyer there: left alone (reset when one arrives)
    publish.start_step(m)
    faded = np.maximum(before[:n] * 0.8, bel.prior_precision)
    assert np.array_equal(bel.pool_precision[:n], faded)
    assert (bel.pool_precision[n:] == 7.0).all()

def test_a_seller_buyers_wrote_off_wins_them_back_as_the_memory_fades():
    # Three equal sellers; every buyer remembers seller 0 as worthless. Capacity makes
    # buyers go beyond the other two, but only to a seller they would pay for.
    def sales_of_seller_0(forgiveness: float) -> int:
        model = MarketModel({"buyers": 200, "sellers": 3, "capacity": 50,
                             "pricing": "markup", "quality": {"low": 0.6, "high": 0.6},
                             "quality_noise": 0.1, "taste": {"value": 2.0},
                             "trust": {"leave_below": 0.0},
                             "beliefs": {"forgiveness": forgiveness}}, rng=6)
        m = model.market
        buyers = m.active_buyers()
        m.beliefs.remember(buyers, np.zeros(len(buyers), dtype=np.int64),
                           np.zeros(len(buyers)), np.full(len(buyers), 1e4), 0)
        sold = 0
        for _ in range(60):
            model.step()
            sold += int(model.sellers.sales[0])
        return sold

    assert sales_of_seller_0(0.0) == 0  # without it: written off for ever
    assert sales_of_seller_0(0.05) > 500


def test_pooled_beliefs_learn_that_only_lemons_are_left():
    # Two types, too few high types to pool: the high type withdraws and lemons remain.
    market = {"buyers": 200, "sellers": 100, "capacity": 1, "pricing": "market",
              "identity": "anonymous", "information": "asymmetric",
              "quality": {"distribution": "two_type", "low": 0.2, "high": 0.8,
                          "share_high": 0.3},
              "taste": {"value": 1.5}, "trust": {"leave_below": 0.0}}
    model = MarketModel(market, rng=4)
    for _ in range(80):
        model.step()
    m = model.market
    buyers = m.active_buyers()
    population_var = m.quality_var
    spread = m.beliefs.pool_spread(buyers, 0, m.noise_var)
    assert np.median(spread) < 0.25 * population_var
    assert model.metrics["volume"] > 20  # loss-averse buyers keep buying the lemons


def test_pooled_beliefs_keep_the_spread_of_quality_that_is_still_on_offer():
    # Akerlof's market with buyers who value quality at 3: pooled trade survives, so
    # every kind of seller keeps selling and the spread stays.
    market = {"buyers": 200, "sellers": 100, "capacity": 1, "pricing": "market",
              "identity": "anonymous", "information": "asymmetric",
              "taste": {"value": 3.0}, "trust": {"leave_below": 0.0}}
    model = MarketModel(market, rng=7)
    for _ in range(60):
        model.step()
    m = model.market
    traded_var = float(np.var(model.trades.made))
    spread = np.median(m.beliefs.pool_spread(m.active_buyers(), 0, m.noise_var))
    assert traded_var > 0.03
    assert 0.6 * traded_var < spread < 1.6 * traded_var


def test_market_price_does_not_stall_above_a_reservation_price_nobody_meets():
    market = {"buyers": 100, "sellers": 50, "capacity": 2, "pricing": "market",
              "identity": "anonymous", "information": "asymmetric",
              "quality": {"low": 0.5, "high": 1.0}, "taste": {"value": 2.0},
              "trust": {"leave_below": 0.0}}
    model = MarketModel(market, rng=5)
    for _ in range(10):
        model.step()
    assert model.metrics["volume"] > 0
    model.market.pool_price[0] = 10.0  # far above what any buyer pays
    volumes = []
    for _ in range(4):
        model.step()
        volumes.append(model.metrics["volume"])
    assert volumes[0] == 0 and min(volumes[1:]) > 0  # one dead step, then trade again


def test_adaptive_prices_with_capacity_do_not_cycle_in_lockstep():
    market = {"buyers": 200, "sellers": 100, "capacity": 1, "pricing": "adaptive",
              "information": "transparent", "trust": {"leave_below": 0.0}}
    df = run_market(market, 120, 1).iloc[40:]
    volume = df["volume"].to_numpy()
    d = volume - volume.mean()
    lag1 = (d[1:] * d[:-1]).mean() / max(d.var(), 1e-12)
    assert lag1 > -0.5  # no every-other-step swing
    assert df["efficiency"].mean() > 0.85


#: Bolton-Katok-Ockenfels' trust game as a market: every seller can ship (quality 1 at cost
#: 0.4) or keep the money (hidden action saving the whole cost); the price is 0.7.
TRUST_GAME = {"buyers": 40, "sellers": 40, "capacity": 1, "pricing": "markup",
              "quality": {"low": 1.0, "high": 1.0}, "quality_noise": 0.0,
              "cost": {"c0": 0.4, "c1": 0.0}, "price": {"markup": 0.75},
              "taste": {"value": 1.0}, "trust": {"leave_below": 0.0},
              "moral_hazard": {"enabled": True, "shirk": 1.0, "saving": 0.4}}


def test_a_buyer_learns_its_seller_shirks_when_all_sellers_are_alike():
    # Capability has no spread and delivery no noise: the only uncertainty is the hidden
    # action, and the prior must leave room for it, or one's own experience counts for
    # nothing (a prior worth 2e9 against an observation worth 1e6: buyers kept buying from
    # sellers who never shipped).
    model = MarketModel({**TRUST_GAME, "identity": "partners"}, rng=1)
    cheated_beliefs = []
    for _ in range(30):
        model.step()
        t, bel = model.trades, model.market.beliefs
        shirked = t.deceptive
        slot = bel.find(t.buyer[shirked], t.seller[shirked])
        cheated_beliefs.extend(bel.slot_mean[t.buyer[shirked], slot])
    assert len(cheated_beliefs) > 20
    assert np.mean(cheated_beliefs) < 0.8  # one unit not shipped is news


def test_a_rating_is_worth_one_purchase_under_hidden_action():
    # Under hidden action a seller's delivery varies with what it withholds; a rating of one
    # delivery must carry that variance as the buyer's own observation does (reviews.weight
    # is "what one rating is worth against one own purchase").
    model = MarketModel({**TRUST_GAME, "reviews": {"enabled": True, "noise": 0.0}}, rng=2)
    m = model.market
    reviews = m.by_name["reviews"]
    m.sellers.rev_n[0], m.sellers.rev_sum[0] = 1.0, 0.0
    m.buyers.trust[0] = 1.0
    prior_var = 1.0 / m.beliefs.prior_precision
    mean, var = np.array([[1.0]]), np.array([[prior_var]])
    reviews.adjust_beliefs(m, kernels, np.array([0]), np.array([[0]]), mean, var,
                           np.array([[True]]))
    added = 1.0 / var[0, 0] - m.beliefs.prior_precision
    assert np.isclose(added, 1.0 / m.seller_obs_var)


def test_partners_hold_their_sellers_capacity_and_a_crowded_out_partner_moves_on():
    # As many buyers as sellers, one unit each, every seller honest and known: a buyer must
    # not lose its partner to a searching buyer and then wait for it for ever.
    market = {**TRUST_GAME, "identity": "partners", "information": "transparent",
              "moral_hazard": {"enabled": False}, "buyers": 60, "sellers": 60}
    df = run_market(market, 40, 3)
    assert (df["volume"].iloc[-10:] >= 58).all()


def test_compiled_remember_equals_its_numpy_reference_with_repeated_buyers():
    """Opening slots in the compiled pass gives the same memories as the numpy reference,
    including a buyer listed twice in one call (stories from two neighbours)."""
    import copy

    rng = np.random.default_rng(0)
    for _ in range(100):
        fast = BeliefStore(capacity=50, memory=4, prior_mean=0.5, prior_precision=1.0,
                           forgetting=0.1)
        fast.slot_seller[:] = rng.integers(-1, 10, size=fast.slot_seller.shape)
        fast.slot_used[:] = rng.integers(0, 5, size=fast.slot_used.shape)
        slow = copy.deepcopy(fast)
        buyers, sellers = rng.integers(0, 50, 60), rng.integers(0, 12, 60)
        prior_mean, prior_precision = rng.random(60), rng.random(60)
        got = fast.remember(buyers, sellers, prior_mean, prior_precision, 7)
        want = slow.remember_reference(buyers, sellers, prior_mean, prior_precision, 7)
        assert np.array_equal(got, want)
        for name in ("slot_seller", "slot_used", "slot_mean", "slot_precision"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert len(np.unique(buyers)) < len(buyers)  # repeats were exercised


def test_distinct_updates_give_the_bits_of_the_sorted_ones():
    """`distinct=True` (one trade per buyer, news to every buyer) skips the sort and runs
    compiled; the beliefs come out as the general information-form update's, bit for bit,
    with a scalar or per-entry noise and with or without observed squares."""
    import copy

    rng = np.random.default_rng(4)
    for trial in range(40):
        fast = BeliefStore(capacity=300, memory=3, prior_mean=[0.4, 0.6], prior_precision=2.0,
                           forgetting=0.1, pools=2, prior_obs_var=0.05)
        fast.pool_mean[:] = rng.random(fast.pool_mean.shape)
        fast.pool_sq[:] = fast.pool_mean**2 + rng.random(fast.pool_mean.shape)
        fast.slot_mean[:] = rng.random(fast.slot_mean.shape)
        fast.slot_precision[:] = rng.random(fast.slot_precision.shape) * 10
        slow, before = copy.deepcopy(fast), fast.pool_mean.copy()
        buyers = rng.permutation(300)[: rng.integers(1, 300)]
        pools, slots = rng.integers(0, 2, len(buyers)), rng.integers(0, 3, len(buyers))
        observed = rng.normal(0.5, 0.3, len(buyers))
        obs_var = rng.random(len(buyers)) + 0.01 if trial % 2 else 0.07
        squares = observed**2 + rng.random(len(buyers)) if trial % 3 == 0 else None
        for store, distinct in ((fast, True), (slow, False)):
            store.update_pool(buyers, pools, observed, obs_var, squares, distinct=distinct)
            store.update_slots(buyers, slots, observed, obs_var, distinct=distinct)
        for name in ("pool_mean", "pool_precision", "pool_sq", "slot_mean", "slot_precision"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        assert not np.array_equal(fast.pool_mean, before)


def test_sellers_who_leave_drop_out_of_every_memory():
    rng = np.random.default_rng(2)
    store = BeliefStore(capacity=200, memory=5, prior_mean=0.5, prior_precision=1.0,
                        forgetting=0.1)
    store.slot_seller[:] = rng.integers(-1, 30, size=store.slot_seller.shape)
    store.slot_used[:] = rng.integers(1, 9, size=store.slot_used.shape)
    before_seller, before_used = store.slot_seller.copy(), store.slot_used.copy()
    gone = np.array([3, 17, 29, 40])  # 40: a seller nobody remembers
    store.forget_seller(gone)
    hit = np.isin(before_seller, gone)
    assert hit.sum() > 50
    assert (store.slot_seller[hit] == -1).all() and (store.slot_used[hit] == 0).all()
    assert np.array_equal(store.slot_seller[~hit], before_seller[~hit])
    assert np.array_equal(store.slot_used[~hit], before_used[~hit])
