"""Plots and tables show what a metric can be: intervals cut to its range, n where few
replications define a value, units on the axes, readable factor names, legends off the data."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from simulator.measures import KEY_NAMES, MEASURES, axis_label, bounds, key_name
from simulator.metrics import METRICS, SEGMENT_METRICS
from simulator.params import MarketParams, iter_fields
from simulator.report import _cell, plot_metrics, plot_segments
from simulator.scenario import Scenario
from simulator.stats import Interval, band, clip_interval, mean_ci

SEGMENTED = """
[market.segments.thrifty]
share = 0.5
taste = { value = 1.2 }
[market.segments.picky]
share = 0.5
taste = { value = 1.9 }
"""


# -- ranges ----------------------------------------------------------------------------------
def test_every_metric_has_a_unit_and_a_range_from_its_definition():
    assert set(MEASURES) == set(METRICS)
    for metric in METRICS:
        low, high = bounds(metric)
        assert low < high and axis_label(metric) != metric, metric
    for share in ("trust", "churn", "switch_rate", "exit_rate", "disclosure_rate",
                  "certified_share", "deception_rate", "review_coverage",
                  "mean_seller_quality"):
        assert bounds(share) == (0.0, 1.0), share
    for count in ("price", "volume", "active_buyers", "active_sellers", "entries", "exits"):
        assert bounds(count) == (0.0, math.inf), count
    assert bounds("efficiency") == (-math.inf, 1.0)
    for signed in ("consumer_surplus", "total_surplus", "expectation_gap", "satisfaction",
                   "quality_traded"):
        assert bounds(signed) == (-math.inf, math.inf), signed
    assert "money/unit" in axis_label("price") and "units/step" in axis_label("volume")
    assert "share of buyers" in axis_label("churn")


def test_a_t_interval_of_five_prices_is_cut_at_zero():
    prices = [0.02, 0.01, 1.6, 0.0, 0.03]  # five runs, one of them far off: t reaches below 0
    raw = mean_ci(prices)
    assert raw.ci_low < 0
    cut = clip_interval(raw, bounds("price"))
    assert cut.ci_low == 0.0 and cut.ci_high == raw.ci_high and cut.mean == raw.mean
    share = clip_interval(Interval(0.95, 0.8, 1.1, 3), bounds("trust"))
    assert (share.ci_low, share.ci_high) == (0.8, 1.0)
    none = clip_interval(Interval(0.5, math.nan, math.nan, 1), bounds("trust"))
    assert math.isnan(none.ci_low) and math.isnan(none.ci_high)


def test_bands_are_cut_to_the_range_and_drawn_only_where_two_runs_have_a_value():
    x = np.array([[0.02, 0.9, np.nan], [0.01, 0.95, 0.4], [1.6, 0.99, np.nan]])
    mean, low, high = band(x)
    assert low[0] < 0 and high[1] > 1  # the raw t band passes what price and trust can be
    _, price_low, _ = band(x, bounds=bounds("price"))
    _, _, share_high = band(x, bounds=bounds("trust"))
    assert price_low[0] == 0.0 and share_high[1] == 1.0
    assert math.isnan(price_low[2])  # one value: no band
    np.testing.assert_allclose(mean, band(x, bounds=bounds("price"))[0])


# -- tables ----------------------------------------------------------------------------------
def test_report_cells_cut_the_interval_and_show_n_when_runs_are_missing():
    row = {"metric": "price", "mean": 0.1, "ci_low": -0.75, "ci_high": 0.95, "n": 5}
    assert _cell(row, replications=10) == "0.1 [0, 0.95] (n=5)"
    assert _cell(row, replications=5) == "0.1 [0, 0.95]"
    assert _cell({**row, "n": 1, "ci_low": math.nan, "ci_high": math.nan}, 10) == "0.1 (n=1)"
    assert _cell({**row, "n": 0}, 10) == "no trade"
    trust = {"metric": "trust", "mean": 0.97, "ci_low": 0.9, "ci_high": 1.04, "n": 3}
    assert _cell(trust, 3) == "0.97 [0.9, 1]"


# -- plots -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from conftest import TINY_SCENARIO

    path = tmp_path_factory.mktemp("s") / "tiny.toml"
    path.write_text(TINY_SCENARIO + SEGMENTED)
    return Scenario.load(path).run(replications=3, steps=12)


def _band_extent(ax) -> tuple[float, float]:
    ys = np.concatenate([p.vertices[:, 1] for c in ax.collections for p in c.get_paths()
                         if len(p.vertices)])
    ys = ys[np.isfinite(ys)]
    return float(ys.min()), float(ys.max())


def test_headline_plot_bands_stay_in_range_with_units_and_a_legend_off_the_panels(results):
    ts = results.timeseries
    wild = ts.copy()
    # Runs that disagree wildly, so that raw t bands would pass 0 (price) and 1 (trust).
    wild.loc[wild["replication"] == 0, ["price", "trust"]] = [3.0, 0.99]
    wild.loc[wild["replication"] != 0, ["price", "trust"]] = [0.01, 0.9]
    raw = band(wild.pivot_table(index="replication", columns="step", values="price")
               .to_numpy())[1]
    assert np.nanmin(raw) < 0
    shown = copy.copy(results)
    shown.timeseries = wild
    fig = plot_metrics(shown, ["price", "volume", "trust", "churn"])
    axes = {ax.get_title(): ax for ax in fig.axes}
    assert _band_extent(axes["price"])[0] >= 0.0
    assert _band_extent(axes["trust"])[1] <= 1.0
    for metric, ax in axes.items():
        assert ax.get_ylabel() == axis_label(metric)
        assert ax.get_legend() is None  # no legend on the data
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [*results.arm_names, "summary window"]


def test_segments_plot_has_a_band_per_segment_and_units(results):
    fig = plot_segments(results)
    names = results.segment_names[results.arm_names[0]]
    assert sorted(names) == ["picky", "thrifty"]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 4 * len(results.arm_names)
    for ax in panels:
        assert len(ax.collections) == len(names)  # one CI band per segment
        assert ax.get_legend() is None
        metric = ax.get_title().split(": ")[1]
        assert metric in SEGMENT_METRICS
        low, high = _band_extent(ax)
        lo, hi = bounds(metric)
        assert lo <= low and high <= hi
    first_column = [ax for ax in panels if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in first_column] == [
        axis_label(m) for m in ("volume", "trust", "churn", "satisfaction")]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(names)


# -- names -----------------------------------------------------------------------------------
def test_market_keys_get_readable_names_with_the_doc_as_fallback():
    keys = {key for key, *_ in iter_fields(MarketParams)}
    assert set(KEY_NAMES) <= keys
    assert key_name("market.taste.value") == "buyer taste k"
    assert key_name("quality.low") == "lowest quality L"
    assert key_name("market.beliefs.memory") == "sellers a buyer remembers individually"
    assert key_name("market.claims.strategy") == "claims.strategy"  # a doc that is a choice
    for key in keys:
        name = key_name(key)
        assert name and len(name) <= 41 and "\n" not in name, key



def test_sweep_plots_name_factors_readably_and_keep_legends_off_the_data(tmp_path,
                                                                        monkeypatch):
    from conftest import TINY_SCENARIO

    from simulator.sweep import analyze as analyze_module
    from simulator.sweep import load_experiment, run_sweep

    (tmp_path / "scenario.toml").write_text(TINY_SCENARIO)
    (tmp_path / "exp.toml").write_text("""
[experiment]
scenario = "scenario.toml"
arms = ["asymmetric", "transparent"]
design = "grid"
replications = 1
steps = 8
metrics = ["volume", "price"]
[factors]
"market.taste.value" = [1.2, 2.0]
"market.quality.low" = [0.0, 0.5]
[analyze]
heatmaps = [["market.taste.value", "market.quality.low"]]
""")
    out = tmp_path / "sweep"
    run_sweep(load_experiment(tmp_path / "exp.toml"), out, workers=1, progress=False)
    figures = {}
    real_save = analyze_module._Report._save

    def keep(self, fig, name):
        figures[name] = fig
        return real_save(self, fig, name)

    monkeypatch.setattr(analyze_module._Report, "_save", keep)
    analyze_module.analyze_sweep(out)
    heat = figures["heatmap_volume_taste-value_x_quality-low_asymmetric.png"].axes[0]
    assert (heat.get_xlabel(), heat.get_ylabel()) == ("buyer taste k", "lowest quality L")
    colorbar = figures["heatmap_volume_taste-value_x_quality-low_asymmetric.png"].axes[1]
    assert colorbar.get_ylabel() == axis_label("volume")
    main = figures["main_effects_price.png"]
    assert [ax.get_xlabel() for ax in main.axes] == ["buyer taste k", "lowest quality L"]
    assert all(ax.get_ylabel() == axis_label("price") for ax in main.axes)
    assert all(ax.get_legend() is None for ax in main.axes)
    assert [t.get_text() for t in main.legends[0].get_texts()] == ["asymmetric", "transparent"]
