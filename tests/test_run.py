"""Running scenarios: seeds, window summaries, statistics, workers, output files, atomicity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_SCENARIO
from scipy import stats as sps

import simulator.model
import simulator.report
from simulator.cli import main
from simulator.metrics import HEADLINE, METRICS
from simulator.runner import replication_seeds, window_means, window_steps
from simulator.scenario import Scenario
from simulator.stats import band, mean_ci, paired_difference, t_quantile, t_sf

OUTPUTS = {"timeseries.csv", "summary.csv", "comparison.csv", "theory.csv", "report.md",
           "headline.png", "metrics.png"}


# -- seeds and windows ------------------------------------------------------------------------
def test_replication_seeds_are_spawned_from_the_root_seed():
    seeds = replication_seeds(42, 4)
    expected = np.random.SeedSequence(42).spawn(4)
    assert [s.generate_state(4).tolist() for s in seeds] == [
        s.generate_state(4).tolist() for s in expected]
    assert len({tuple(s.generate_state(4)) for s in seeds}) == 4
    assert replication_seeds(42, 2)[1].generate_state(4).tolist() == (
        seeds[1].generate_state(4).tolist())  # adding replications keeps earlier ones


def test_window_means_average_the_final_steps_and_skip_missing_prices():
    df = pd.DataFrame({m: np.arange(1.0, 11.0) for m in METRICS},
                      index=pd.RangeIndex(1, 11, name="step"))
    df.loc[9, "price"] = np.nan
    df.loc[8:10, "trust"] = np.nan
    means = window_means(df, 0.3)  # steps 8, 9, 10
    assert means["volume"] == pytest.approx(9.0)
    assert means["price"] == pytest.approx(9.0)  # (8 + 10) / 2
    assert math.isnan(means["trust"])  # no value in the window at all
    assert list(means.index) == list(METRICS)
    assert window_means(df, 1.0)["volume"] == pytest.approx(5.5)
    assert window_means(df, 0.01)["volume"] == pytest.approx(10.0)  # at least one step


@pytest.mark.parametrize("steps, window, expected", [
    (150, 0.3, 45), (10, 0.3, 3), (10, 0.25, 3), (10, 1.0, 10), (10, 1e-6, 1), (1, 0.5, 1)])
def test_window_steps(steps, window, expected):
    assert window_steps(steps, window) == expected


# -- statistics -------------------------------------------------------------------------------
def test_mean_ci_is_the_student_t_interval():
    x = [1.0, 2.0, 4.0, 7.0, np.nan]
    got = mean_ci(x)
    low, high = sps.t.interval(0.95, 3, loc=3.5, scale=sps.sem([1.0, 2.0, 4.0, 7.0]))
    assert (got.mean, got.n) == (3.5, 4)
    assert got.ci_low == pytest.approx(low) and got.ci_high == pytest.approx(high)
    one = mean_ci([2.0])
    assert one.mean == 2.0 and one.n == 1 and math.isnan(one.ci_low)
    assert mean_ci([np.nan, np.nan]).n == 0


def test_paired_difference_is_the_paired_t_test():
    rng = np.random.default_rng(3)
    base = rng.normal(size=8)
    treated = base + 0.5 + rng.normal(scale=0.3, size=8)
    got = paired_difference(treated, base)
    ref = sps.ttest_rel(treated, base)
    d = treated - base
    assert got.diff == pytest.approx(d.mean())
    assert got.p_value == pytest.approx(ref.pvalue)
    assert got.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    low, high = sps.t.interval(0.95, 7, loc=d.mean(), scale=sps.sem(d))
    assert (got.ci_low, got.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_paired_difference_drops_incomplete_pairs_and_handles_constant_differences():
    got = paired_difference([1.0, np.nan, 3.0, 4.0], [0.0, 1.0, np.nan, 3.0])
    assert got.n == 2 and got.diff == 1.0
    same = paired_difference([0.1 + 0.5, 0.2 + 0.5, 0.3 + 0.5], [0.1, 0.2, 0.3])
    assert same.p_value == 0.0 and same.effect_size == math.inf
    assert (same.ci_low, same.ci_high) == (same.diff, same.diff)
    none = paired_difference([1.0, 2.0], [1.0, 2.0])
    assert (none.diff, none.p_value, none.effect_size) == (0.0, 1.0, 0.0)


def test_paired_values_equal_up_to_rounding_do_not_differ():
    # The same posted price averaged over different numbers of trades: equal but for the
    # last bits, which a t-test read as d_z = -1.65 between two markup-priced arms.
    def mean_of(price, trades):
        return float(np.full(trades, price).sum() / trades)

    treated = [mean_of(0.45, n) for n in (7, 13, 29, 31, 57)]
    base = [mean_of(0.45, n) for n in (11, 17, 23, 41, 53)]
    assert any(t != b for t, b in zip(treated, base, strict=True))   # in the last bits
    got = paired_difference(treated, base)
    assert (got.diff, got.ci_low, got.ci_high, got.p_value, got.effect_size) \
        == (0.0, 0.0, 0.0, 1.0, 0.0)
    # A difference far below the values' own noise but above rounding is still one.
    real = paired_difference([0.45 + 1e-9 * k for k in (1.0, 1.1, 0.9, 1.2, 1.0)], [0.45] * 5)
    assert real.diff > 0 and real.effect_size > 0 and real.p_value < 0.05


def test_t_quantile_and_sf_give_scipy_stats_bits():
    # stats.py calls scipy.special's ufuncs (scipy.stats takes ~1.5 s to import): same bits.
    df = np.arange(1, 200)
    for q in (0.5, 0.9, 0.95, 0.975, 0.995):
        assert np.array_equal(t_quantile(q, df), sps.t.ppf(q, df))
        assert all(float(t_quantile(q, int(k))) == float(sps.t.ppf(q, int(k))) for k in df)
    x = np.linspace(0.0, 40.0, 401)
    for k in (1, 2, 7, 29, 150):
        assert np.array_equal(t_sf(x, k), sps.t.sf(x, k))


def test_band_matches_mean_ci_column_by_column():
    x = np.array([[1.0, 5.0, np.nan], [2.0, np.nan, np.nan], [4.0, 6.0, 3.0]])
    mean, low, high = band(x)
    for col in range(2):
        ref = mean_ci(x[:, col])
        assert (mean[col], low[col], high[col]) == (
            pytest.approx(ref.mean), pytest.approx(ref.ci_low), pytest.approx(ref.ci_high))
    assert mean[2] == 3.0 and math.isnan(low[2])


# -- running ---------------------------------------------------------------------------------
def test_common_random_numbers_and_engine_spawns_do_not_leak(scenario_file, monkeypatch):
    calls = []
    real = simulator.model.simulate

    def recording(params, steps, seed, **options):
        calls.append((params.information, tuple(seed.generate_state(2))))
        seed.spawn(3)  # an engine that spawns must not shift the next run's streams
        return real(params, steps, seed, **options)

    monkeypatch.setattr(simulator.model, "simulate", recording)
    Scenario.load(scenario_file()).run(replications=3, steps=5, progress=False)
    by_arm = {}
    for info, state in calls:
        by_arm.setdefault(info, []).append(state)
    assert by_arm["asymmetric"] == by_arm["transparent"]  # replication r shares its seed
    assert len(set(by_arm["asymmetric"])) == 3  # replications differ


def test_results_have_the_documented_shape(scenario_file):
    res = Scenario.load(scenario_file()).run(progress=False)
    ts = res.timeseries
    assert list(ts.columns) == ["arm", "replication", "step", *METRICS]
    assert len(ts) == 2 * 3 * 30
    assert list(ts["arm"].unique()) == ["asymmetric", "transparent"]
    assert ts.groupby(["arm", "replication"])["step"].apply(list).map(
        lambda s: s == list(range(1, 31))).all()
    assert list(res.summary.columns) == ["arm", "segment", "metric", "mean", "ci_low",
                                         "ci_high", "n", "steps"]
    assert len(res.summary) == 2 * len(METRICS)
    assert set(res.summary["segment"]) == {"all"}  # no segments: the whole market only
    assert list(res.comparison.columns) == [
        "arm", "segment", "metric", "diff", "ci_low", "ci_high", "p_value", "effect_size"]
    assert res.segment_timeseries is None and res.panel is None and res.early_summary is None
    assert set(res.comparison["arm"]) == {"transparent"}
    # summary = mean and t interval of each replication's window mean
    runs = ts[ts["arm"] == "transparent"].groupby("replication")
    per_rep = [window_means(run.set_index("step"), 0.5)["volume"] for _, run in runs]
    row = res.summary.query("arm == 'transparent' and metric == 'volume'").iloc[0]
    ref = mean_ci(per_rep)
    assert (row["mean"], row["ci_low"], row["n"]) == (
        pytest.approx(ref.mean), pytest.approx(ref.ci_low, nan_ok=True), 3)
    fig = simulator.report.plot_metrics(res)
    assert [ax.get_title() for ax in fig.axes] == list(HEADLINE)
    assert len(fig.axes[0].get_lines()) == 2  # one mean line per arm


def test_same_seed_same_results_different_seed_different(scenario_file):
    s = Scenario.load(scenario_file())
    a = s.run(replications=2, steps=20, progress=False).timeseries
    b = s.run(replications=2, steps=20, progress=False).timeseries
    pd.testing.assert_frame_equal(a, b)
    c = s.with_overrides({"scenario.seed": 8}).run(replications=2, steps=20, progress=False)
    assert not c.timeseries[list(METRICS)].equals(a[list(METRICS)])


def test_run_writes_every_file_and_prints_a_summary(scenario_file, tmp_path, capsys):
    out = tmp_path / "results" / "tiny"
    assert main(["run", str(scenario_file()), "--out", str(out), "--steps", "20"]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]  # no staging folder left
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns[:3]) == ["arm", "replication", "step"] and ts["step"].max() == 20
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["arm"]) == {"asymmetric", "transparent"}
    assert (summary["n"] <= 3).all()
    report = (out / "report.md").read_text()
    assert "](headline.png)" in report and "asymmetric" in report and "common random" in report
    assert (out / "headline.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    for word in ("asymmetric", "transparent", *HEADLINE, "diff vs asymmetric"):
        assert word in printed


def test_default_output_folder_is_results_name(scenario_file, tmp_path, monkeypatch):
    path = scenario_file()
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "--steps", "5", "--replications", "2", "--quiet"]) == 0
    assert {p.name for p in (tmp_path / "results" / "tiny").iterdir()} == OUTPUTS


def test_two_workers_write_the_same_bytes_as_one(scenario_file, tmp_path):
    path = scenario_file()
    for workers in ("1", "2"):
        assert main(["run", str(path), "--out", str(tmp_path / workers), "--workers", workers,
                     "--steps", "20", "--quiet"]) == 0
    for name in ("timeseries.csv", "summary.csv", "comparison.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_write_keeps_the_old_folder_and_leaves_nothing_half_written(
        scenario_file, tmp_path, monkeypatch, failure):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous results")

    def broken(results, folder, figures=None):
        (folder / "timeseries.csv").write_text("half")
        raise failure

    monkeypatch.setattr(simulator.report, "write_files", broken)
    argv = ["run", str(scenario_file()), "--out", str(out), "--steps", "5", "--quiet"]
    if isinstance(failure, KeyboardInterrupt):
        assert main(argv) == 130  # the CLI reports Ctrl-C itself
    else:
        with pytest.raises(RuntimeError):  # a bug, not a user error: the traceback is kept
            main(argv)
    assert [p.name for p in tmp_path.iterdir() if p.name != "tiny.toml"] == ["out"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_interrupted_run_reports_and_writes_nothing(scenario_file, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator.model, "simulate", interrupted)
    out = tmp_path / "out"
    assert main(["run", str(scenario_file()), "--out", str(out), "--quiet"]) == 130
    assert not out.exists()
    assert "nothing was written" in capsys.readouterr().err


def test_successful_run_replaces_an_existing_folder(scenario_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert main(["run", str(scenario_file()), "--out", str(out), "--steps", "5",
                 "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.toml"]


def test_out_that_is_a_file_is_refused(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("not a folder")
    assert main(["run", str(scenario_file()), "--out", str(out), "--steps", "5"]) == 2
    assert "expected a folder" in capsys.readouterr().err
    assert out.read_text() == "not a folder"


def test_bad_workers_is_a_user_error(scenario_file, tmp_path, capsys):
    assert main(["run", str(scenario_file()), "--out", str(tmp_path / "o"),
                 "--workers", "0"]) == 2
    assert "--workers: expected a whole number >= 1, found 0" in capsys.readouterr().err


def test_single_arm_and_single_replication_still_report(scenario_file, tmp_path):
    text = TINY_SCENARIO.split("[arms.transparent.market]")[0]
    out = tmp_path / "o"
    assert main(["run", str(scenario_file(text)), "--out", str(out), "--steps", "5",
                 "--replications", "1", "--quiet"]) == 0
    assert pd.read_csv(out / "comparison.csv").empty
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n"] <= 1).all() and summary["ci_low"].isna().all()


def test_lemons_scenario_unravels_only_without_information(tmp_path):
    """The shipped default, shrunk: asymmetric volume and trust below transparent, CIs apart."""
    from conftest import ROOT

    s = Scenario.load(ROOT / "scenarios" / "lemons.toml",
                      {"market.buyers": 60, "market.sellers": 30})
    summary = s.run(replications=3, steps=40, progress=False).summary.set_index(["arm", "metric"])
    for metric in ("volume", "trust"):
        asym, transp = summary.loc[("asymmetric", metric)], summary.loc[("transparent", metric)]
        assert asym["ci_high"] < transp["ci_low"], (metric, asym.to_dict(), transp.to_dict())


def test_no_progress_bar_when_stderr_is_not_a_terminal(scenario_file, capsys):
    Scenario.load(scenario_file()).run(replications=1, steps=3, progress=True)
    assert capsys.readouterr().err == ""


# -- segments, early period, panel --------------------------------------------------------
#: Two segments, leaving by trust and by lapse; a newcomer cannot leave at its first step
#: (one bad experience takes trust 0.7 to 0.595, above 0.45; lapse needs 3 idle steps).
SEGMENTED = """\
[scenario]
name = "segmented"
steps = 30
replications = 3
seed = 11
window = 0.5
early = 0.2

[market]
buyers = 60
sellers = 20
pricing = "markup"
arrivals = { rate = 0.05 }

[market.quality]
low = 0.2
high = 1.0

[market.segments.bargain]
share = 0.6
taste = { distribution = "uniform", low = 0.9, high = 1.4 }
trust = { leave_below = 0.45, lapse = 3 }

[market.segments.quality]
share = 0.4
taste = { value = 2.2 }
trust = { leave_below = 0.45 }

[arms.asymmetric.market]
information = "asymmetric"

[arms.transparent.market]
information = "transparent"
"""

ADDITIVE = ("volume", "consumer_surplus", "active_buyers")


def test_segment_rows_add_up_to_the_market_total(scenario_file, tmp_path):
    from simulator.metrics import SEGMENT_METRICS

    out = tmp_path / "seg"
    assert main(["run", str(scenario_file(SEGMENTED, "segmented.toml")), "--out", str(out),
                 "--quiet"]) == 0
    assert {"segments.csv", "segments.png", "early_summary.csv", "early_comparison.csv"} <= {
        p.name for p in out.iterdir()}
    summary = pd.read_csv(out / "summary.csv")
    for arm in ("asymmetric", "transparent"):
        mine = summary[summary["arm"] == arm]
        assert list(dict.fromkeys(mine["segment"])) == ["all", "bargain", "quality"]
        assert list(mine.loc[mine["segment"] == "all", "metric"]) == list(METRICS)
        assert list(mine.loc[mine["segment"] == "quality", "metric"]) == list(SEGMENT_METRICS)
        means = mine.set_index(["segment", "metric"])["mean"]
        for metric in ADDITIVE:
            parts = means[("bargain", metric)] + means[("quality", metric)]
            assert parts == pytest.approx(means[("all", metric)], rel=1e-9), (arm, metric)
        assert means[("all", "volume")] > 0 and means[("quality", "volume")] > 0
    comparison = pd.read_csv(out / "comparison.csv")
    assert set(comparison["segment"]) == {"all", "bargain", "quality"}
    seg = pd.read_csv(out / "segments.csv")
    assert list(seg.columns) == ["arm", "replication", "step", "segment", *SEGMENT_METRICS]
    assert len(seg) == 2 * 3 * 30 * 2
    report = (out / "report.md").read_text()
    assert "## Buyer segments" in report and "](segments.png)" in report
    assert "## Early period" in report


def test_early_summary_is_the_mean_of_the_first_steps(scenario_file):
    res = Scenario.load(scenario_file(SEGMENTED, "segmented.toml")).run(progress=False)
    ts = res.timeseries
    first = ts[(ts["arm"] == "transparent") & (ts["step"] <= 6)]  # ceil(0.2 * 30) steps
    per_rep = first.groupby("replication")["volume"].mean()
    row = res.early_summary.query("arm == 'transparent' and segment == 'all' "
                                  "and metric == 'volume'").iloc[0]
    assert row["mean"] == pytest.approx(per_rep.mean())
    diff = res.early_comparison.query("arm == 'transparent' and segment == 'all' "
                                      "and metric == 'volume'").iloc[0]
    base = ts[(ts["arm"] == "asymmetric") & (ts["step"] <= 6)].groupby("replication")["volume"]
    assert diff["diff"] == pytest.approx((per_rep - base.mean()).mean())


def test_panel_left_next_matches_the_runs_exits(scenario_file, tmp_path):
    from simulator.runner import PANEL_COLUMNS

    out = tmp_path / "p"
    assert main(["run", str(scenario_file(SEGMENTED, "segmented.toml")), "--out", str(out),
                 "--panel", "--quiet"]) == 0
    panel = pd.read_csv(out / "panel.csv")
    assert list(panel.columns) == PANEL_COLUMNS
    assert "idle" in PANEL_COLUMNS and "left" not in PANEL_COLUMNS
    assert panel["idle"].dtype == np.int64
    assert ((panel["idle"] == 0) == (panel["price_paid"] > 0)).all()  # idle: no purchase
    assert panel["idle"].max() > 1
    assert not panel.duplicated(["arm", "replication", "buyer", "step"]).any()
    assert set(panel["segment"]) == {"bargain", "quality"}
    ts = pd.read_csv(out / "timeseries.csv")
    flagged_total = 0
    for (arm, rep), run in ts.groupby(["arm", "replication"]):
        run = run.set_index("step")
        # leavers at step t+1 = exit_rate(t+1) x buyers active at its start (after step t)
        leavers = (run["exit_rate"].shift(-1) * run["active_buyers"]).round().iloc[:-1]
        mine = panel[(panel["arm"] == arm) & (panel["replication"] == rep)]
        flagged = mine.groupby("step")["left_next"].sum().reindex(leavers.index, fill_value=0)
        np.testing.assert_array_equal(flagged.to_numpy(), leavers.to_numpy().astype(int))
        assert mine["step"].max() == 29  # the last step has no next step to observe
        flagged_total += int(flagged.sum())
    assert flagged_total > 10


def test_large_panel_is_written_as_parquet(scenario_file, tmp_path, monkeypatch):
    res = Scenario.load(scenario_file(SEGMENTED, "segmented.toml")).run(
        steps=10, progress=False, panel=True)
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    assert simulator.report.write_panel(res.panel, small).name == "panel.csv"
    monkeypatch.setattr(simulator.report, "PANEL_CSV_MAX_ROWS", len(res.panel) - 1)
    assert simulator.report.write_panel(res.panel, large).name == "panel.parquet"
    pq = pd.read_parquet(large / "panel.parquet")
    pd.testing.assert_frame_equal(pq, res.panel)
    pd.testing.assert_frame_equal(pq, pd.read_csv(small / "panel.csv"), check_dtype=False)
    assert "`panel.parquet`" in simulator.report.report_markdown(res)


def test_segments_and_panel_are_identical_with_two_workers(scenario_file, tmp_path):
    path = scenario_file(SEGMENTED, "segmented.toml")
    for workers in ("1", "2"):
        assert main(["run", str(path), "--out", str(tmp_path / workers), "--workers", workers,
                     "--steps", "15", "--panel", "--quiet"]) == 0
    for name in ("segments.csv", "panel.csv", "summary.csv", "early_comparison.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


def test_over_promising_sells_more_early_and_churns_more_later():
    """scenarios/expectations.toml at full size, 4 replications: paired 95% CIs exclude 0."""
    from conftest import ROOT

    res = Scenario.load(ROOT / "scenarios" / "expectations.toml").run(replications=4,
                                                                      progress=False)
    early = res.early_comparison.set_index(["arm", "segment", "metric"])
    late = res.comparison.set_index(["arm", "segment", "metric"])
    volume = early.loc[("over_promise", "all", "volume")]
    churn = late.loc[("over_promise", "all", "churn")]
    assert volume["ci_low"] > 0, volume.to_dict()
    assert churn["ci_low"] > 0, churn.to_dict()
    # ... at a cost the buyers feel: expectations above what is delivered, lower satisfaction
    assert late.loc[("over_promise", "all", "satisfaction"), "ci_high"] < 0
    # under-promising sells less early and never makes anyone switch or leave
    assert early.loc[("under_promise", "all", "volume"), "ci_high"] < 0
    summary = res.summary.set_index(["arm", "segment", "metric"])
    assert summary.loc[("under_promise", "all", "churn"), "mean"] == 0
