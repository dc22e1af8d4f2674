"""The engine reproduces textbook results about hidden quality (Akerlof 1970)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.model import MarketModel, run_market

#: Long theory runs: `pytest -m "not slow"` leaves them out (make test runs everything).
pytestmark = pytest.mark.slow

RISK_NEUTRAL = {"alpha": 1, "beta": 1, "lam": 1, "gamma_gain": 1, "gamma_loss": 1}

#: Akerlof's used-car market: q ~ U[0, 1], c = q, theta = 1.5, price-taking sellers,
#: anonymous sellers, no entry; buyers never leave, so only the price mechanism acts.
AKERLOF = {
    "buyers": 200, "sellers": 100, "capacity": 1, "pricing": "market",
    "identity": "anonymous", "information": "asymmetric",
    "quality": {"distribution": "uniform", "low": 0.0, "high": 1.0},
    "cost": {"c0": 0.0, "c1": 1.0}, "taste": {"distribution": "constant", "value": 1.5},
    "prospect": RISK_NEUTRAL, "trust": {"leave_below": 0.0},
    "entry": {"enabled": False}, "exit": {"enabled": False},
}


def tail(df, n=30):
    return df.iloc[-n:].mean()


def market(**changes):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in AKERLOF.items()}
    for key, value in changes.items():
        if isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_akerlof_asymmetric_market_unravels(seed):
    df = run_market(market(), 150, seed)
    start, end = df.iloc[:3].mean(), tail(df, 20)
    assert start["volume"] > 30
    assert end["volume"] < 0.05 * 100
    # Only lemons on offer, or none at all (NaN: no seller offers).
    assert end["mean_seller_quality"] < 0.1 or np.isnan(end["mean_seller_quality"])
    assert end["price"] < 0.15 or np.isnan(end["price"])
    # Adverse selection: what trades is worse than the average seller (0.5) from the start.
    assert start["mean_seller_quality"] < 0.4


@pytest.mark.parametrize("seed", [1, 2])
def test_akerlof_transparent_twin_keeps_every_seller_trading(seed):
    df = run_market(market(information="transparent", choice={"candidates": 10}), 150, seed)
    end = tail(df)
    assert (df["active_sellers"].iloc[1:] == 100).all()  # every seller offers, every step
    assert end["volume"] >= 95
    assert end["mean_seller_quality"] == pytest.approx(0.5, abs=0.07)
    assert end["efficiency"] > 0.95


# Larger markets here: with few sellers the realised qualities can, by chance,
# hold a thin pooled trade near k = 2 (a finite-sample effect, see docs/model.md).
BIG = {"buyers": 800, "sellers": 400}


@pytest.mark.parametrize("k, ceiling", [(1.4, 0.02), (1.6, 0.05), (1.8, 0.3)])
def test_pooled_trade_collapses_when_buyers_value_quality_less_than_twice(k, ceiling):
    df = run_market(market(taste={"value": k}, **BIG), 300, 3)
    assert df["volume"].iloc[0] > 0.6 * 400  # it starts as a thick market ...
    assert tail(df)["volume"] < ceiling * 400  # ... and unravels


@pytest.mark.parametrize("k, top", [(2.2, 1.0), (3.0, 1.0), (2.5, 0.5)])
def test_pooled_trade_survives_when_buyers_value_quality_at_least_twice(k, top):
    end = tail(run_market(market(taste={"value": k}, quality={"high": top}, **BIG), 300, 3))
    assert end["volume"] > 0.75 * 400  # most sellers trade at the pooled price
    assert end["mean_seller_quality"] == pytest.approx(top / 2, rel=0.15)
    assert end["price"] == pytest.approx(k * top / 2, rel=0.1)


# Two types: low 0.3, high 1.0, c = q, theta = 1.5. The high type sells only if
# 1.5 * (0.3 + 0.7 s) >= 1, i.e. when the high-type share s >= 0.524.
TWO_TYPES = {"distribution": "two_type", "low": 0.3, "high": 1.0}
THRESHOLD = (1 / 1.5 - 0.3) / 0.7


@pytest.mark.parametrize("share", [0.3, 0.45])
def test_two_types_separate_below_the_pooling_condition(share):
    assert share < THRESHOLD
    end = tail(run_market(market(quality={**TWO_TYPES, "share_high": share}), 200, 4))
    assert end["quality_traded"] == pytest.approx(0.3, abs=0.02)  # only lemons trade
    assert end["mean_seller_quality"] == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("share", [0.6, 0.8])
def test_two_types_pool_above_the_pooling_condition(share):
    assert share > THRESHOLD
    end = tail(run_market(market(quality={**TWO_TYPES, "share_high": share}), 200, 4))
    pooled_mean = 0.3 + 0.7 * share
    assert end["quality_traded"] == pytest.approx(pooled_mean, abs=0.05)
    assert end["price"] >= 1.0 - 1e-9  # high enough for the high type to sell


def test_trust_and_volume_are_lower_in_the_asymmetric_market_with_prospect_theory_buyers():
    cpt = {"prospect": {"alpha": 0.88, "beta": 0.88, "lam": 2.25, "gamma_gain": 0.61,
                        "gamma_loss": 0.69}, "trust": {"leave_below": 0.2}}
    asym = tail(run_market(market(**cpt), 150, 5))
    transparent = tail(run_market(market(information="transparent", **cpt), 150, 5))
    assert asym["volume"] < 0.2 * transparent["volume"]
    if np.isnan(asym["trust"]):  # every buyer has lost trust and left: none to average
        assert asym["active_buyers"] == 0 and transparent["active_buyers"] > 150
    else:
        assert asym["trust"] < transparent["trust"] - 0.2


def test_delayed_revelation_restores_trade_once_quality_becomes_public():
    df = run_market(market(information="delayed", delay={"steps": 20}), 80, 6)
    early, late = df.iloc[10:20].mean(), tail(df, 20)
    assert late["volume"] > 2 * early["volume"]
    assert late["volume"] > 80


def test_noisier_public_signals_mean_less_efficient_markets():
    eff = []
    for noise in (0.02, 0.3, 3.0):
        model_market = market(information="noisy", signal={"noise": noise},
                              choice={"candidates": 10})
        eff.append(tail(run_market(model_market, 100, 7))["efficiency"])
    assert eff[0] > eff[1] > eff[2]


def test_market_price_moves_with_excess_demand():
    model = MarketModel(market(information="transparent", taste={"value": 1.5}), rng=8)
    model.step()
    first = model.market.grade_taste
    assert first == pytest.approx(1.5)  # more buyers than units: the marginal buyer's taste
    many_units = MarketModel(market(information="asymmetric", buyers=20, sellers=100,
                                    capacity=1), rng=8)
    many_units.step()
    costs = np.sort(many_units.sellers.cost)
    assert many_units.market.pool_price[0] < costs[25]  # excess supply: the price sits low among costs
