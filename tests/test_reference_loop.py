"""The engine and the plain per-agent reference loop (simulator/reference/loop.py) agree.

They draw random numbers in a different order, so they never match run for
run; what must match is the distribution of outcomes. For each scenario both
models run REPS replications (distinct seeds) and we compare, metric by
metric, the replications' window means (second half of the run) with a Welch
t-test (location) and a two-sample Kolmogorov-Smirnov test (shape). The
tolerance is a family-wise false-alarm rate of 1%: Bonferroni over every
comparison in this file, so a correct engine fails here about once in a
hundred re-seedings, and a discrepancy of the size checked in
`test_cross_check_detects_a_perturbed_model` fails every time.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator.metrics import METRICS
from simulator.model import run_market
from simulator.params import MarketParams, iter_fields
from simulator.reference.loop import (
    CORE_METRICS,
    IMPLEMENTED_KEYS,
    ReferenceMarket,
    run_reference,
)

#: Many replications: `pytest -m "not slow"` leaves them out (make test runs everything).
pytestmark = pytest.mark.slow

SMALL = {"buyers": 60, "sellers": 20}
SCENARIOS = {  # name: (market, steps, replications)
    "asymmetric": (SMALL, 40, 20),
    "transparent": ({**SMALL, "information": "transparent"}, 40, 20),
    # Rationing, adaptive prices, a noisy public signal, Gumbel noise, switching costs.
    "noisy_rationed": ({**SMALL, "information": "noisy", "pricing": "adaptive", "capacity": 3,
                        "choice": {"logit_noise": 0.1, "switching_cost": 0.05}}, 40, 20),
    # Price-taking sellers of unobservable quality (k = 2.5 keeps pooled trade alive),
    # anonymous sellers, exit and entry; buyers who find nothing to buy give up.
    "market_anonymous": ({"buyers": 40, "sellers": 15, "pricing": "market", "capacity": 3,
                          "identity": "anonymous", "taste": {"value": 2.5},
                          "trust": {"lapse": 3},
                          "prospect": {"alpha": 1, "beta": 1, "lam": 1, "gamma_gain": 1,
                                       "gamma_loss": 1},
                          "exit": {"enabled": True, "patience": 4},
                          "entry": {"enabled": True}}, 30, 16),
}
KEY_METRICS = ("volume", "price", "trust", "quality_traded", "churn")
TESTS_PER_METRIC = 2  # Welch and Kolmogorov-Smirnov
FAMILY_ALPHA = 0.01
ALPHA = FAMILY_ALPHA / (len(SCENARIOS) * len(KEY_METRICS) * TESTS_PER_METRIC)
ENGINE_SEEDS, REFERENCE_SEEDS = 0, 10_000  # first seed of each model's replications


def window_means(run, market: dict, steps: int, reps: int, first_seed: int) -> pd.DataFrame:
    """One row per replication: each metric's mean over the second half of the run."""
    rows = []
    for seed in range(first_seed, first_seed + reps):
        df = run(market, steps, seed)
        rows.append(df.iloc[steps // 2:].mean())  # price: NaN steps (no trade) are skipped
    return pd.DataFrame(rows)


@cache
def engine_runs(name: str) -> pd.DataFrame:
    market, steps, reps = SCENARIOS[name]
    return window_means(run_market, market, steps, reps, ENGINE_SEEDS)


@cache
def reference_runs(name: str, **changes) -> pd.DataFrame:
    market, steps, reps = SCENARIOS[name]
    params = MarketParams.from_dict(market).replace(**changes)
    return window_means(run_reference, params, steps, reps, REFERENCE_SEEDS)


def disagreements(reference: pd.DataFrame, engine: pd.DataFrame) -> list[str]:
    """Key metrics whose replication distributions differ at the stated tolerance."""
    found = []
    for name in KEY_METRICS:
        r, e = reference[name].dropna().to_numpy(), engine[name].dropna().to_numpy()
        if min(len(r), len(e)) < 0.75 * max(len(reference), len(engine)):
            found.append(f"{name}: too many replications without trade ({len(r)} vs {len(e)})")
            continue
        if np.ptp(r) == 0 and np.ptp(e) == 0:  # constant in both: must be the same constant
            if not np.isclose(r[0], e[0], rtol=1e-9, atol=1e-12):
                found.append(f"{name}: always {r[0]} in the reference, {e[0]} in the engine")
            continue
        welch = stats.ttest_ind(r, e, equal_var=False).pvalue
        ks = stats.ks_2samp(r, e).pvalue
        if welch < ALPHA or ks < ALPHA:
            found.append(f"{name}: reference {r.mean():.4g} +- {r.std(ddof=1):.2g}, engine "
                         f"{e.mean():.4g} +- {e.std(ddof=1):.2g} (Welch p={welch:.2g}, "
                         f"KS p={ks:.2g}, alpha={ALPHA:.2g})")
    return found


@pytest.mark.parametrize("name", SCENARIOS)
def test_reference_and_engine_agree(name):
    engine, reference = engine_runs(name), reference_runs(name)
    # The comparison means something only if the market trades.
    assert engine["volume"].mean() > 1 and reference["volume"].mean() > 1
    assert disagreements(reference, engine) == []


@pytest.mark.parametrize("changes, moved", [
    ({"prospect.lam": 1.0}, {"volume", "trust"}),  # no loss aversion: buyers buy more
    ({"information": "noisy"}, {"volume", "price", "trust", "quality_traded"}),
    ({"trust.idle_loss": 0.0}, {"trust"}),  # buyers who find nothing keep their trust
])
def test_cross_check_detects_a_perturbed_model(changes, moved):
    """The check can fail: a reference with one rule or parameter changed is caught."""
    found = disagreements(reference_runs("asymmetric", **changes), engine_runs("asymmetric"))
    assert {line.split(":")[0] for line in found} >= moved


def test_reference_is_deterministic_per_seed():
    market = SCENARIOS["noisy_rationed"][0]
    a, b = run_reference(market, 15, 3), run_reference(market, 15, 3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(run_reference(market, 15, 4))


def test_reference_reports_engine_metric_names_per_step():
    df = run_reference(SMALL, 5, 1)
    assert list(df.columns) == list(CORE_METRICS)
    assert set(CORE_METRICS) <= set(METRICS)
    assert list(df.index) == [1, 2, 3, 4, 5] and df.index.name == "step"
    assert not df.drop(columns="price").isna().any().any()


def test_reference_refuses_what_it_does_not_implement():
    """A mechanism switched on must not be silently ignored by the reference."""
    switches = [key for key, kind, default, _ in iter_fields()
                if key not in IMPLEMENTED_KEYS and ".NAME." not in key
                and kind == "bool" and default is False]
    if not switches:
        pytest.skip("no parameter beyond the core has an on/off switch yet")
    params = MarketParams.from_dict(SMALL).replace(**{switches[0]: True})
    with pytest.raises(ValueError, match=switches[0]):
        ReferenceMarket(params, rng=1)
    ReferenceMarket(MarketParams.from_dict(SMALL), rng=1)  # the core alone is accepted
