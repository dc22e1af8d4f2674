"""The theory module against closed forms (simulator/theory): Akerlof, Grossman-Milgrom,
Spence, CPT certainty equivalents, and the solved equilibria as fixed points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from simulator.cli import main
from simulator.params import MarketParams, ProspectParams
from simulator.scenario import Scenario
from simulator.theory import arm_theory, predictions, rows, table, theories
from simulator.theory.akerlof import equilibria, target
from simulator.theory.boundary import draw, regimes
from simulator.theory.buyers import certainty_equivalent, reservation
from simulator.theory.market import StaticMarket

RISK_NEUTRAL = {"alpha": 1.0, "beta": 1.0, "lam": 1.0, "gamma_gain": 1.0, "gamma_loss": 1.0}


def akerlof_market(**changes) -> MarketParams:
    """Akerlof's market: 200 buyers, 100 price-taking sellers of one unit, c = q, hidden q."""
    tree = {"buyers": 200, "sellers": 100, "capacity": 1, "pricing": "market",
            "identity": "anonymous", "information": "asymmetric", "prospect": RISK_NEUTRAL,
            "quality": {"distribution": "uniform", "low": 0.0, "high": 1.0},
            "cost": {"c0": 0.0, "c1": 1.0}, "taste": {"distribution": "constant", "value": 1.5}}
    for key, value in changes.items():
        node = tree
        *head, last = key.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return MarketParams.from_dict(tree)


def reached(theory):
    found = theory.prediction()
    assert found is not None
    return found


def by_name(outcomes, name):
    return next(o for o in outcomes if o.equilibrium == name)


# -- Akerlof: uniform quality, c = q, risk-neutral taste k --------------------------------------
@pytest.mark.parametrize("low, k", [(0.2, 1.5), (0.1, 1.8), (0.4, 1.2), (0.3, 1.05)])
def test_uniform_floor_partial_equilibrium_matches_closed_form(low, k):
    theory = arm_theory("a", akerlof_market(**{"quality.low": low, "taste.value": k}))
    eq = reached(theory)
    price = k * low / (2 - k)
    share = (price - low) / (1 - low)
    assert eq.benchmark == "akerlof" and eq.equilibrium == "partial"
    assert eq.metrics["price"] == pytest.approx(price, abs=1e-7)
    assert eq.metrics["quality_traded"] == pytest.approx((low + price) / 2, abs=1e-7)
    assert eq.metrics["volume"] == pytest.approx(100 * share, abs=1e-5)
    assert eq.metrics["active_sellers"] == pytest.approx(100 * share, abs=1e-5)
    # efficiency: traded units' surplus (k - 1) E[q | q <= p*] over all units' (k - 1) E[q]
    assert eq.metrics["efficiency"] == pytest.approx(
        share * (low + price) / 2 / ((low + 1) / 2), abs=1e-5)


@pytest.mark.parametrize("k", [1.2, 1.5, 1.9])
def test_uniform_from_zero_no_trade_below_two(k):
    outcomes = equilibria(StaticMarket.of(akerlof_market(**{"taste.value": k})))
    assert [o.equilibrium for o in outcomes] == ["no_trade"]
    assert outcomes[0].reached and outcomes[0].metrics["volume"] == 0.0
    assert math.isnan(outcomes[0].metrics["price"])


@pytest.mark.parametrize("k", [2.0, 2.5])
def test_uniform_from_zero_pools_from_two(k):
    eq = reached(arm_theory("a", akerlof_market(**{"taste.value": k})))
    assert eq.equilibrium == "pooling"
    assert eq.metrics["price"] == pytest.approx(k / 2)
    assert eq.metrics["volume"] == pytest.approx(100)


@pytest.mark.parametrize("k", [1.2, 1.5, 1.8])
def test_floor_threshold_is_two_minus_k_over_k(k):
    theory = arm_theory("a", akerlof_market(**{"taste.value": k, "quality.low": 0.1}))
    floor = next(t for t in theory.thresholds if t.key == "quality.low")
    assert floor.value == pytest.approx((2 - k) / k, abs=1e-6)
    taste = next(t for t in theory.thresholds if t.key == "taste.value")
    assert taste.value == pytest.approx(2 / 1.1, abs=1e-6)  # k E[q] = 1 on U[0.1, 1]


# -- Akerlof with two types ---------------------------------------------------------------------
def two_types(share: float, low=0.2, high=0.8, k=1.5) -> MarketParams:
    return akerlof_market(**{"quality.distribution": "two_type", "quality.low": low,
                             "quality.high": high, "quality.share_high": share,
                             "taste.value": k})


@pytest.mark.parametrize("low, high, k", [(0.2, 0.8, 1.5), (0.3, 1.0, 1.5), (0.4, 1.0, 1.6)])
def test_two_type_pooling_threshold_closed_form(low, high, k):
    closed = (high - k * low) / (k * (high - low))
    theory = arm_theory("a", two_types(0.5, low, high, k))
    found = next(t for t in theory.thresholds if t.key == "quality.share_high")
    assert found.value == pytest.approx(closed, abs=1e-6)
    for share, pools in ((closed + 0.02, True), (closed - 0.02, False)):
        names = [o.equilibrium for o in equilibria(StaticMarket.of(
            two_types(share, low, high, k)))]
        assert ("pooling" in names) is pools


def test_two_types_pooling_and_lemons_only_coexist_and_prior_reaches_pooling():
    outcomes = equilibria(StaticMarket.of(two_types(0.5, 0.4, 1.0, 1.6)))
    pooling, lemons = by_name(outcomes, "pooling"), by_name(outcomes, "lemons_only")
    assert pooling.metrics["price"] == pytest.approx(1.6 * 0.7)
    assert lemons.metrics["price"] == pytest.approx(1.6 * 0.4)
    assert lemons.metrics["volume"] == pytest.approx(50)
    assert lemons.metrics["quality_traded"] == pytest.approx(0.4)
    assert pooling.reached and not lemons.reached
    below = equilibria(StaticMarket.of(two_types(0.3)))
    assert [o.equilibrium for o in below] == ["lemons_only"]
    assert below[0].metrics["price"] == pytest.approx(0.3)
    assert below[0].metrics["volume"] == pytest.approx(70)


# -- first best and full information -----------------------------------------------------------
def test_first_best_and_full_information():
    theory = arm_theory("t", akerlof_market(information="transparent"))
    fb = by_name(theory.outcomes, "efficient")
    assert fb.metrics["volume"] == pytest.approx(100)
    assert fb.metrics["total_surplus"] == pytest.approx(100 * 0.5 * 0.5, rel=1e-4)
    full = reached(theory)
    assert full.benchmark == "full_information"
    assert full.metrics["efficiency"] == 1.0
    # a sellers' market: each quality at the marginal (here every) buyer's value 1.5 q
    assert full.metrics["price"] == pytest.approx(0.75, rel=1e-4)
    scarce = arm_theory("t", akerlof_market(information="transparent", buyers=50))
    assert reached(scarce).metrics["volume"] == pytest.approx(50)
    # the best 50 units trade (mean quality 0.75) and sellers compete to cost (Bertrand)
    assert reached(scarce).metrics["quality_traded"] == pytest.approx(0.75, rel=1e-3)
    assert reached(scarce).metrics["price"] == pytest.approx(0.75, rel=1e-3)


# -- CPT ----------------------------------------------------------------------------------------
def test_tversky_kahneman_certainty_equivalent():
    tk = ProspectParams(alpha=0.88, gamma_gain=0.61)
    assert certainty_equivalent(tk, [100.0, 0.0], [0.5, 0.5]) == pytest.approx(37.38, abs=0.005)
    assert certainty_equivalent(ProspectParams(**RISK_NEUTRAL), [100.0, 0.0], [0.5, 0.5]) \
        == pytest.approx(50.0)


@pytest.mark.parametrize("reference", ["outside_option", "expectation"])
def test_reservation_is_the_engines(reference):
    from simulator.valuation import Valuation

    rng = np.random.default_rng(3)
    prospect = ProspectParams(alpha=0.7, beta=0.9, lam=2.5, reference=reference)
    theta, mean, sd = rng.uniform(0.5, 3, 50), rng.uniform(0, 1, 50), rng.uniform(0, 0.4, 50)
    ours = reservation(prospect, theta, mean, sd**2, 3)
    assert np.allclose(ours, Valuation(prospect, 3).reservation(theta, mean, sd), atol=1e-9)


def test_unknown_seller_lottery_premium():
    theory = arm_theory("a", akerlof_market(prospect={}))  # TK1992 buyers
    facts = {metric: value for _, name, metric, value in theory.facts if name == "unknown_seller"}
    assert facts["expected_value"] == pytest.approx(0.75)
    assert facts["reservation"] < facts["certainty_equivalent"] < facts["expected_value"]


# -- Grossman-Milgrom ---------------------------------------------------------------------------
def test_free_disclosure_unravels_to_full_information():
    theory = arm_theory("d", akerlof_market(**{"disclosure.enabled": True}))
    eq = reached(theory)
    full = reached(arm_theory("t", akerlof_market(information="transparent")))
    assert eq.benchmark == "grossman_milgrom" and eq.metrics["disclosure_rate"] == 1.0
    for metric in ("price", "volume", "quality_traded", "efficiency"):
        assert eq.metrics[metric] == pytest.approx(full.metrics[metric])
    two = reached(arm_theory("d", two_types(0.3).replace(**{"disclosure.enabled": True})))
    assert two.metrics["disclosure_rate"] == pytest.approx(0.3)  # the low type is indifferent


def test_costly_disclosure_cutoff():
    # risk-neutral, one unit a step: k (q - (L + q) / 2) = d, so q_d = L + 2 d / k
    theory = arm_theory("d", akerlof_market(**{"disclosure.enabled": True,
                                                "disclosure.cost": 0.15, "quality.low": 0.1}))
    cutoff = next(t for t in theory.thresholds if t.name == "disclosure_cutoff")
    assert cutoff.value == pytest.approx(0.1 + 2 * 0.15 / 1.5, abs=1e-3)
    assert reached(theory).metrics["disclosure_rate"] == pytest.approx(
        1 - (cutoff.value - 0.1) / 0.9, abs=1e-6)


# -- Spence -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cost_high, cost_low, separates", [
    (0.1, 1.2, True), (0.9, 1.0, True), (1.0, 1.2, False), (0.1, 0.9, False)])
def test_certificate_separates_within_the_premium(cost_high, cost_low, separates):
    params = two_types(0.5, 0.4, 1.0, 1.6).replace(**{
        "certification.enabled": True, "certification.cost_high": cost_high,
        "certification.cost_low": cost_low})
    theory = arm_theory("c", params)
    premium = next(v for b, n, m, v in theory.facts if m == "premium")
    assert premium == pytest.approx(1.6 * 0.6)
    eq = reached(theory)
    assert (eq.benchmark == "spence") is separates
    if separates:
        assert eq.metrics["certified_share"] == 0.5 and eq.metrics["efficiency"] == 1.0
    else:
        assert eq.benchmark == "akerlof"


# -- solved equilibria are fixed points ---------------------------------------------------------
distributions = st.one_of(
    st.tuples(st.just("uniform"), st.floats(0, 0.6), st.floats(0.65, 1.0)),
    st.tuples(st.just("two_type"), st.floats(0, 0.5), st.floats(0.55, 1.0)),
    st.tuples(st.just("beta"), st.floats(0, 0.3), st.floats(0.7, 1.0)))
prospects = st.one_of(st.just(RISK_NEUTRAL), st.fixed_dictionaries({
    "alpha": st.floats(0.5, 1.0), "beta": st.floats(0.5, 1.0), "lam": st.floats(1.0, 3.0),
    "gamma_gain": st.floats(0.5, 1.0), "gamma_loss": st.floats(0.5, 1.0)}))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dist=distributions, share=st.floats(0.05, 0.95), a=st.floats(0.5, 4), b=st.floats(0.5, 4),
       k=st.floats(0.8, 3.5), c0=st.floats(0, 0.2), c1=st.floats(0.3, 1.5), prospect=prospects,
       taste_spread=st.floats(0, 0.8), buyers=st.integers(20, 300))
def test_solved_equilibria_are_fixed_points(dist, share, a, b, k, c0, c1, prospect,
                                            taste_spread, buyers):
    kind, low, high = dist
    taste = ({"distribution": "constant", "value": k} if taste_spread == 0 else
             {"distribution": "uniform", "low": k, "high": k + taste_spread})
    params = akerlof_market(**{"quality.distribution": kind, "quality.low": low,
                               "quality.high": high, "quality.share_high": share,
                               "quality.a": a, "quality.b": b, "cost.c0": c0, "cost.c1": c1,
                               "buyers": buyers, "taste": taste, "prospect": prospect})
    market = StaticMarket.of(params)
    outcomes = equilibria(market)
    assert outcomes, "every market has an equilibrium (at worst: no trade)"
    assert sum(o.reached for o in outcomes) == 1
    c_lo, _ = market.quality.cost_range()
    for o in outcomes:
        if o.equilibrium == "no_trade":
            assert target(market, np.array([c_lo]))[0] <= c_lo + 1e-6
            continue
        p = o.metrics["price"]
        assert abs(target(market, np.array([p]))[0] - p) <= 1e-5 * max(1.0, p)
        assert o.metrics["volume"] <= min(buyers, 100) + 1e-6
        if o.metrics["active_sellers"] > 1e-9:  # at p = T(p) the marginal buyer pays p
            assert o.metrics["volume"] > 0
        # no allocation beats the first best; risk-neutral buyers never pay more than a unit is
        # worth to them (CPT buyers may: x**alpha overweights small gains)
        assert o.metrics["efficiency"] <= 1 + 1e-6
        if prospect == RISK_NEUTRAL:
            assert o.metrics["efficiency"] >= -1e-9


# -- every arm of every shipped scenario; theory.csv; the command -------------------------------
def test_every_shipped_arm_has_theory_or_says_why():
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        scenario = Scenario.load(path)
        for theory in theories(scenario):
            assert theory.prediction() is not None or theory.notes, (path.name, theory.arm)
            assert any(r[1] == "first_best" for r in rows(theory))
    frame = table(Scenario.load(ROOT / "scenarios/lemons.toml"))
    assert list(frame.columns) == ["arm", "benchmark", "equilibrium", "metric", "value"]
    assert set(frame["arm"]) == {"asymmetric", "transparent"}
    lemons = predictions(frame)
    assert lemons["asymmetric"][1]["volume"] == 0
    assert lemons["transparent"][1]["volume"] == pytest.approx(100)



def test_theory_says_its_first_best_leaves_out_cost_noise():
    arms = {t.arm: t for t in theories(Scenario.load(ROOT / "scenarios/cost_disclosure.toml"))}
    assert any("cost noise" in note for note in arms["noisy_costs"].notes)
    assert not any("cost noise" in note for note in arms["published"].notes)

def test_theory_says_its_first_best_leaves_out_shirking_that_pays():
    path = ROOT / "scenarios/moral_hazard.toml"
    shipped = {t.arm: t for t in theories(Scenario.load(path))}
    assert not any("shirking" in note for t in shipped.values() for note in t.notes)
    large = {t.arm: t for t in theories(Scenario.load(
        path, overrides={"market.moral_hazard.saving": 1.0}))}   # pays below taste 3.33
    assert any("shirking" in note for note in large["anonymous"].notes)
    assert not any("shirking" in note for note in large["honest"].notes)   # cannot shirk
    free = {t.arm: t for t in theories(Scenario.load(
        path, overrides={"market.moral_hazard.shirk": 0.0}))}   # withholds nothing
    assert any("every buyer" in note for note in free["anonymous"].notes)


def test_theory_command(capsys, tmp_path):
    assert main(["theory", str(ROOT / "scenarios/two_types.toml"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for arm in ("share_80", "share_50", "share_30"):
        assert f"{arm}:" in out
    assert "* akerlof / pooling" in out and "* akerlof / lemons_only" in out
    frame = pd.read_csv(tmp_path / "theory.csv")
    share_50 = frame[(frame["arm"] == "share_50") & (frame["equilibrium"] == "lemons_only")]
    assert dict(zip(share_50["metric"], share_50["value"], strict=True))["price"] \
        == pytest.approx(0.3)
    assert main(["theory", str(ROOT / "scenarios/lemons.toml"), "--arm", "transparent"]) == 0
    out = capsys.readouterr().out
    assert "transparent:" in out and "asymmetric:" not in out
    assert main(["theory", str(ROOT / "scenarios/lemons.toml"), "--arm", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--arm nope" in err[0] and "asymmetric" in err[0]


def test_run_writes_theory_csv_report_table_and_dashed_lines(scenario_file, tmp_path):
    from simulator.report import plot_metrics, write_results

    results = Scenario.load(scenario_file()).run(replications=2, steps=12, progress=False)
    out = tmp_path / "out"
    write_results(results, out)
    frame = pd.read_csv(out / "theory.csv")
    assert {"asymmetric", "transparent"} <= set(frame["arm"])
    report = (out / "report.md").read_text()
    assert "## Simulation vs theory" in report and "| transparent | volume |" in report
    fig = plot_metrics(results, ["volume"])
    assert len(fig.axes[0].get_lines()) == 2  # the simulated means
    dashed = [c for c in fig.axes[0].collections if c.get_linestyle()[0][1] is not None]
    assert len(dashed) == 2  # one theory level per arm
    assert any("theory" in t.get_text() for t in fig.axes[0].texts)


# -- phase boundaries ---------------------------------------------------------------------------
def test_phase_boundary_is_akerlofs_for_risk_neutral_buyers():
    params = akerlof_market()
    ks, floors = np.array([1.3, 1.7, 2.2]), np.array([0.0, 0.1, 0.5, 0.9])
    found = regimes(params, "taste.value", "quality.low", ks, floors)
    for i, floor in enumerate(floors):
        for j, k in enumerate(ks):
            expected = ("pooling" if k >= 2 or floor >= (2 - k) / k else
                        "no_trade" if floor == 0 else "partial")
            assert found[i, j] == expected, (k, floor)
    ax = Figure().subplots()
    drawn = draw(ax, params, "market.taste.value", "market.quality.low", [1.0, 2.0, 3.0],
                 [0.0, 0.4, 0.8], points=9)
    assert set(drawn) == {"no_trade", "partial", "pooling"}
    assert ax.collections and any("pooling" in t.get_text() for t in ax.texts)
    assert draw(ax, params, "market.taste.value", "market.quality.low", ["a", "b"],
                [0, 1]) == []


def test_churn_command_default_is_the_libraries():
    from simulator.churn import DEFAULT_TEST_SHARE
    from simulator.commands import churn

    assert churn.DEFAULT_TEST_SHARE == DEFAULT_TEST_SHARE
