"""The customer-relationship lens in the engine: segments, satisfaction and the buyer panel."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from simulator.metrics import SEGMENT_METRICS
from simulator.model import MarketModel, simulate
from simulator.params import MarketParams, ParamError
from simulator.phases.population import draw_segments

SEGMENTED = {
    "buyers": 301, "sellers": 30, "pricing": "markup", "arrivals": {"rate": 0.03},
    "quality": {"low": 0.2, "high": 1.0},
    "segments": {
        "bargain": {"share": 0.5, "taste": {"distribution": "uniform", "low": 1.0, "high": 1.4},
                    "trust": {"leave_below": 0.4}},
        "quality": {"share": 0.3, "taste": {"value": 2.2}, "prospect": {"lam": 3.0}},
        "loyal": {"share": 0.2, "trust": {"loss": 0.05, "leave_below": 0.05}},
    },
}


def test_segment_shares_are_respected_exactly_at_the_start_and_on_average_after():
    model = MarketModel(SEGMENTED, rng=1)
    counts = np.bincount(model.buyers.segment[: model.buyers.size], minlength=3)
    assert counts.tolist() == [151, 90, 60]  # largest remainder of 150.5, 90.3, 60.2
    model.market.now = 1  # newcomers are drawn by share
    drawn = np.bincount(draw_segments(model.market, 20_000), minlength=3) / 20_000
    np.testing.assert_allclose(drawn, [0.5, 0.3, 0.2], atol=0.015)


def test_segments_get_their_own_parameters():
    model = MarketModel(SEGMENTED, rng=2)
    b = model.buyers
    quality_buyers = b.segment[: b.size] == 1
    assert (b.theta[: b.size][quality_buyers] == 2.2).all()
    bargain = b.segment[: b.size] == 0
    assert b.theta[: b.size][bargain].max() <= 1.4
    assert model.market.valuations[1].prefs.lam == 3.0
    assert model.market.valuations[0].prefs.lam == 2.25  # the market's default


def test_per_segment_metrics_add_up_to_the_market_total():
    sim = simulate(SEGMENTED, 40, 3)
    seg, ts = sim.segments, sim.timeseries
    assert set(seg["segment"]) == {"bargain", "quality", "loyal"}
    assert list(seg.columns) == ["step", "segment", *SEGMENT_METRICS]
    totals = seg.groupby("step")[["volume", "consumer_surplus", "active_buyers"]].sum()
    for name in totals:
        np.testing.assert_allclose(totals[name].to_numpy(), ts[name].to_numpy(), rtol=1e-12)
    # Rates weighted by each segment's buyers at the start of the step give the total.
    start = seg.pivot(index="step", columns="segment", values="active_buyers")
    exit_rate = seg.pivot(index="step", columns="segment", values="exit_rate")
    prior = start.shift(1)  # buyers active at the start of step t = active after t-1
    prior.iloc[0] = pd.Series({"bargain": 151, "loyal": 60, "quality": 90})
    leavers = (exit_rate * prior).sum(axis=1)
    assert leavers.sum() > 0
    np.testing.assert_allclose(leavers.to_numpy(),
                               (ts["exit_rate"] * prior.sum(axis=1)).to_numpy(), rtol=1e-9)


def test_panel_left_next_matches_the_models_own_exit_events():
    model = MarketModel(SEGMENTED, rng=4, record_panel=True)
    left_at = {}
    for _ in range(40):
        before = {int(b.unique_id) for b in model.agents_by_type[type(next(iter(
            model.buyer_agents.values())))]}
        model.step()
        after = {int(b.unique_id) for b in model.buyer_agents.values()}
        for uid in before - after:
            left_at[uid] = model.steps
    panel = model.panel_frame()
    assert list(panel.columns) == ["buyer", "step", "segment", "trust", "tenure", "last_gap",
                                   "losses_seen", "idle", "price_paid", "switched",
                                   "left_next"]
    flagged = panel[panel["left_next"]]
    assert len(flagged) > 5
    for uid, step in zip(flagged["buyer"], flagged["step"], strict=True):
        assert left_at[uid] == step + 1
    # ... and every departure (but those at step 1, which have no previous row) is flagged.
    expected = {(uid, s - 1) for uid, s in left_at.items() if s > 1}
    assert expected == set(zip(flagged["buyer"], flagged["step"], strict=True))


def test_panel_idle_counts_steps_in_a_row_without_a_purchase():
    lapse = 3
    params = copy.deepcopy(SEGMENTED)
    params["segments"]["bargain"]["trust"]["lapse"] = lapse  # the others never lapse
    model = MarketModel(params, rng=6, record_panel=True)
    for _ in range(40):
        model.step()
    panel = model.panel_frame()
    bought = panel["price_paid"] > 0
    assert bought.any() and not bought.all()
    assert ((panel["idle"] == 0) == bought).all()
    # Row by row: reset by a purchase, one more otherwise (a buyer's rows are consecutive).
    prev = panel.groupby("buyer")["idle"].shift(1)
    later = prev.notna() & (panel.groupby("buyer")["step"].diff() == 1)
    assert later.sum() > 1000
    expected = np.where(bought, 0, prev + 1)[later]
    np.testing.assert_array_equal(panel.loc[later, "idle"].to_numpy(), expected)
    # The lapse rule on it: a bargain hunter idle lapse - 1 steps leaves unless it buys next
    # step, so no bargain row reaches `lapse`; loyalists (no lapse) stay idle for longer.
    bargain = panel[panel["segment"] == "bargain"]
    assert bargain["idle"].max() == lapse - 1
    edge = bargain[bargain["idle"] == lapse - 1]
    assert edge["left_next"].sum() > 50
    nxt = panel.groupby("buyer")["idle"].shift(-1)[edge.index]
    assert (nxt[~edge["left_next"] & nxt.notna()] == 0).all()  # stayed: bought next step
    assert panel.loc[panel["segment"] == "loyal", "idle"].max() > lapse


def test_satisfaction_weighs_disappointment_more_than_delight():
    model = MarketModel({"buyers": 10, "sellers": 2}, rng=0)
    val = model.market.valuations[0]
    theta = np.array([1.5, 1.5])
    s = val.satisfaction(theta, np.array([0.6, 0.4]), np.array([0.5, 0.5]))
    assert s[1] < 0 < s[0] and abs(s[1]) > 2 * abs(s[0])


def test_segment_shares_must_add_up_and_keys_are_checked():
    with pytest.raises(ParamError, match="add up to 1"):
        MarketParams.from_dict({"segments": {"a": {"share": 0.5}, "b": {"share": 0.4}}})
    with pytest.raises(ParamError, match=r"market\.segments\.a\.taste\.vlaue.*did you mean"):
        MarketParams.from_dict({"segments": {"a": {"share": 1.0, "taste": {"vlaue": 2}}}})


def test_panel_is_empty_but_well_formed_before_any_step():
    panel = MarketModel(SEGMENTED, rng=5, record_panel=True).panel_frame()
    assert isinstance(panel, pd.DataFrame) and panel.empty
    assert "left_next" in panel.columns and "idle" in panel.columns
    assert "left" not in panel.columns


def test_per_segment_leavers_are_counted_in_the_segment_they_belonged_to():
    # Arrivals reuse leavers' rows within the same step; the count must follow the buyer.
    params = copy.deepcopy(SEGMENTED)
    params["arrivals"]["rate"] = 0.2
    model = MarketModel(params, rng=8)
    names = model.segment_names
    recycled = 0
    for _ in range(30):
        before = {uid: names[model.buyers.segment[row]]
                  for row, uid in ((r, a.unique_id) for r, a in model.buyer_agents.items())}
        start = pd.Series(before).value_counts()
        rows_before = set(model.buyer_agents)
        model.step()
        gone = before.keys() - {a.unique_id for a in model.buyer_agents.values()}
        recycled += len(rows_before & set(model.buyer_agents)) - (len(before) - len(gone))
        left = pd.Series([before[uid] for uid in gone], dtype=object).value_counts()
        for name in names:
            counted = model.segment_metrics[name]["exit_rate"] * start.get(name, 0)
            assert round(counted) == left.get(name, 0), (model.steps, name)
    assert recycled > 0  # rows really were reused by newcomers
