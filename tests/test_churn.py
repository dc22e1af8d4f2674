"""The churn model: held-out skill on the shipped scenario, known coefficients recovered,
separation handled, and one clear error for every unusable panel."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from simulator.churn import (
    REQUIRED,
    SEPARATION_LOGODDS,
    analyse,
    calibration_bins,
    find_panel,
    flag_separation,
    plot_coefficients,
    read_panel,
    report_markdown,
    split_replications,
)
from simulator.cli import main
from simulator.runner import PANEL_COLUMNS
from simulator.scenario import Scenario

#: Margin over a constant predictor (AUC 0.5) that every held-out AUC must clear.
AUC_MARGIN = 0.1

CHURN_FILES = {"report.md", "coefficients.csv", "performance.csv", "calibration.csv",
               "calibration.png", "coefficients.png"}


@pytest.fixture(scope="module")
def shipped_panel():
    """scenarios/segments.toml, shrunk: 120 buyers, 20 sellers, 50 steps, 5 replications."""
    s = Scenario.load(ROOT / "scenarios" / "segments.toml",
                      {"market.buyers": 120, "market.sellers": 20})
    return s.run(replications=5, steps=50, progress=False, panel=True).panel


def synthetic_panel(n_per_rep: int = 4000, replications: int = 4, seed: int = 0,
                    arm: str = "a") -> tuple[pd.DataFrame, dict[str, float]]:
    """Rows drawn from a known logistic model: leaving falls with trust and with switching,
    rises with the last expectation gap and with idle steps; tenure, losses and price are
    noise."""
    rng = np.random.default_rng(seed)
    n = n_per_rep * replications
    df = pd.DataFrame({
        "buyer": np.arange(n) % 500, "arm": arm, "replication": np.repeat(range(replications),
                                                                          n_per_rep),
        "step": np.arange(n) // 500 + 1, "segment": "all",
        "trust": rng.normal(0.6, 0.1, n), "tenure": rng.integers(1, 60, n),
        "last_gap": rng.normal(0.0, 0.2, n), "losses_seen": rng.integers(0, 5, n),
        "idle": rng.poisson(1.0, n), "price_paid": rng.uniform(0, 1, n),
        "switched": rng.random(n) < 0.3,
    })
    raw = {"trust": -12.0, "last_gap": 4.0, "idle": 0.7, "switched": -1.0}
    logit = (-3.0 + raw["trust"] * (df["trust"] - 0.6) + raw["last_gap"] * df["last_gap"]
             + raw["idle"] * (df["idle"] - 1) + raw["switched"] * df["switched"])
    df["left_next"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return df, raw


def write_panel(tmp_path, panel: pd.DataFrame, name: str = "panel.csv"):
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    if name.endswith(".csv"):
        panel.to_csv(folder / name, index=False)
    else:
        panel.to_parquet(folder / name, index=False)
    return folder


# -- skill -----------------------------------------------------------------------------------
def test_churn_model_beats_a_constant_predictor_on_held_out_replications(shipped_panel):
    result = analyse(shipped_panel)
    assert [f.arm for f in result.fits] == ["asymmetric", "reviews", "transparent"]
    for fit in result.fits:
        assert not fit.skipped, fit.skipped
        assert fit.train_replications == [0, 1, 2] and fit.test_replications == [3, 4]
        p = fit.performance
        assert p["test_leavers"] >= 20 and p["train_leavers"] >= 50
        assert p["auc"] > 0.5 + AUC_MARGIN, (fit.arm, p["auc"])
        assert p["brier"] < p["constant_brier"], fit.arm
        assert p["log_loss"] < p["constant_log_loss"], fit.arm


def _coef(fit, name: str) -> float:
    """A signal's coefficient, 0 when it was left out (the same in every training row)."""
    table = fit.coefficients.set_index("feature")
    return float(table.loc[name, "coef"]) if name in table.index else 0.0


def test_churn_coefficients_show_each_segments_leaving_rule(shipped_panel):
    """segments.toml: bargain hunters give up after 4 steps without a purchase (lapse),
    quality seekers almost only when their trust falls below 0.35 (their lapse, 8, is rarely
    reached), loyalists never leave. The coefficients must say so."""
    fits = {f.arm: f for f in analyse(shipped_panel).fits}
    # Pooled over segments (what `infogap churn` reports): idle raises the risk in every arm,
    # with its interval above zero where maximum likelihood has a finite solution (with
    # quality public, idle all but separates lapsing bargain hunters: a penalised fit).
    assert not fits["asymmetric"].penalised and not fits["reviews"].penalised
    for arm, fit in fits.items():
        table = fit.coefficients.set_index("feature")
        assert table.loc["idle", "coef"] > 0, arm
        if not fit.penalised:
            assert table.loc["idle", "ci_low"] > 0, arm
    # With reviews, bargain hunters trust more and quality seekers' trust-leaving stands out.
    assert fits["reviews"].coefficients.set_index("feature").loc["trust", "ci_high"] < 0
    # Per segment, the signal that dominates is the segment's own leaving rule.
    by_segment = {seg: {f.arm: f for f in analyse(
        shipped_panel[shipped_panel["segment"] == seg]).fits}
        for seg in ("quality_seekers", "bargain_hunters")}
    for arm in fits:
        quality, bargain = by_segment["quality_seekers"][arm], by_segment["bargain_hunters"][arm]
        assert not quality.skipped and not bargain.skipped, arm
        assert _coef(quality, "trust") < -1, arm
        assert abs(_coef(quality, "idle")) < abs(_coef(quality, "trust")) / 3, arm
        if not quality.penalised:
            assert quality.coefficients.set_index("feature").loc["trust", "ci_high"] < 0, arm
        assert _coef(bargain, "idle") > 1, arm
        assert abs(_coef(bargain, "trust")) < _coef(bargain, "idle") / 3, arm


def test_a_quasi_separated_coefficient_is_flagged_not_shown_as_an_effect(shipped_panel):
    """segments.toml with reviews: bargain hunters leave only after 3 idle steps, which a
    steep idle slope plus a huge negative bargain-hunter offset fits almost exactly; the
    offset's narrow Wald interval is not a confidence interval."""
    result = analyse(shipped_panel)
    fits = {f.arm: f for f in result.fits}
    reviews = fits["reviews"].coefficients.set_index("feature")
    assert reviews.loc["segment[bargain_hunters]", "coef"] < -SEPARATION_LOGODDS
    assert reviews.loc["segment[bargain_hunters]", "separated"]
    assert not reviews.loc[["trust", "idle"], "separated"].any()
    assert any(n.startswith("segment[bargain_hunters]: quasi-separated")
               for n in fits["reviews"].notes)
    for fit in result.fitted:  # nothing beyond the threshold passes as an effect
        table = fit.coefficients[fit.coefficients["feature"] != "const"]
        assert table.loc[table["coef"].abs() > SEPARATION_LOGODDS, "separated"].all(), fit.arm
        if fit.penalised:  # a ridge fit sizes nothing
            assert table["separated"].all(), fit.arm
    assert not fits["asymmetric"].coefficients["separated"].any()
    report = report_markdown(result)
    row = next(line for line in report.split("### reviews")[1].splitlines()
               if line.startswith("| segment[bargain_hunters] |"))
    assert "separated: no CI, sign only" in row and "[" not in row.split("|")[2]
    assert row.split("|")[4].strip() == "-"  # no p-value
    # The plot draws it without an interval, as an arrow at the edge with its value.
    ax = plot_coefficients(result).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.endswith(": separated") and t.startswith("-1") for t in texts), texts
    assert ax.get_xlim()[0] > reviews.loc["segment[bargain_hunters]", "coef"]


def test_separation_flags_huge_and_pinned_coefficients_and_every_penalised_one():
    table = pd.DataFrame({"feature": ["const", "trust", "segment[b]", "segment[c]", "x"],
                          "coef": [-3.0, -1.0, -4.0, 0.5, 12.0]})
    x = np.column_stack([np.ones(6), np.linspace(-1, 1, 6), [1, 1, 1, 0, 0, 0],
                         [0, 0, 0, 1, 1, 1], np.zeros(6)])
    p = np.array([1e-12, 1e-13, 1 - 1e-12, 0.2, 0.3, 1e-12])  # segment b: all at certainty
    notes: list[str] = []
    flag_separation(table, x, p, penalised=False, dummies={"segment[b]", "segment[c]"},
                    notes=notes)
    assert table["separated"].tolist() == [False, False, True, False, True]
    assert [n.split(":")[0] for n in notes] == ["segment[b]", "x"]
    assert "100% of its 3 training rows" in notes[0] and "beyond +-10" in notes[1]
    flag_separation(table, x, np.full(6, 0.3), penalised=True, dummies=set(), notes=[])
    assert table["separated"].tolist() == [False, True, True, True, True]


def test_coefficients_recover_a_known_logistic_model():
    panel, raw = synthetic_panel()
    fit = analyse(panel).fits[0]
    table = fit.coefficients.set_index("feature")
    train = panel[panel["replication"].isin(fit.train_replications)]
    truth = {"trust": raw["trust"] * train["trust"].std(ddof=0),  # per training sd
             "last_gap": raw["last_gap"] * train["last_gap"].std(ddof=0),
             "idle": raw["idle"] * train["idle"].std(ddof=0),
             "switched": raw["switched"]}
    for name, value in truth.items():
        row = table.loc[name]
        assert row["ci_low"] < value < row["ci_high"], (name, value, row.to_dict())
        assert row["p_value"] < 1e-6
    for noise in ("tenure", "losses_seen", "price_paid"):
        assert abs(table.loc[noise, "coef"]) < 0.15
    assert not table["separated"].any()
    assert table.loc["trust", "odds_ratio"] == pytest.approx(math.exp(table.loc["trust",
                                                                               "coef"]))
    assert fit.performance["auc"] > 0.6


def test_perfectly_separating_signal_is_left_out_and_said_so():
    panel, _ = synthetic_panel(n_per_rep=1500, replications=3, seed=1)
    panel.loc[panel["switched"], "left_next"] = False  # a switcher never leaves next step
    fit = analyse(panel).fits[0]
    assert "switched" not in set(fit.coefficients["feature"])
    assert any("switched" in n and "separation" in n for n in fit.notes)
    assert not fit.penalised and fit.coefficients["ci_low"].notna().all()


def test_complete_separation_falls_back_to_a_penalised_fit():
    panel, _ = synthetic_panel(n_per_rep=1500, replications=3, seed=2)
    panel["left_next"] = panel["trust"] < 0.45  # trust alone decides
    fit = analyse(panel).fits[0]
    assert fit.penalised and fit.coefficients["ci_low"].isna().all()
    assert fit.coefficients.set_index("feature").drop("const")["separated"].all()
    assert any("ridge-penalised" in n for n in fit.notes)
    table = fit.coefficients.set_index("feature")
    assert table.loc["trust", "coef"] < -1  # the direction survives
    assert fit.performance["auc"] > 0.99


def test_segments_enter_as_dummies_and_a_segment_without_leavers_is_left_out():
    panel, _ = synthetic_panel(n_per_rep=3000, replications=3, seed=3)
    panel["segment"] = np.where(panel.index % 3 == 0, "loyal",
                                np.where(panel.index % 3 == 1, "bargain", "quality"))
    panel.loc[panel["segment"] == "loyal", "left_next"] = False
    fit = analyse(panel).fits[0]
    features = list(fit.coefficients["feature"])
    assert [f for f in features if f.startswith("segment")] == ["segment[quality]"]
    assert fit.coefficients.set_index("feature").loc["segment[quality]", "unit"] == (
        "vs segment bargain")  # the largest remaining segment is the reference
    assert any(n.startswith("segment loyal:") for n in fit.notes)
    assert fit.performance["test_rows"] == int(((panel["replication"] == 2)
                                                & (panel["segment"] != "loyal")).sum())


def test_split_holds_out_the_last_replications():
    assert split_replications(range(10), 0.3) == ([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
    assert split_replications([3, 1], 0.3) == ([1], [3])
    assert split_replications(range(4), 0.9) == ([0], [1, 2, 3])  # at least one to train
    with pytest.raises(ValueError):
        split_replications([0], 0.3)


def test_calibration_bins_compare_predicted_and_observed_rates():
    p = np.array([0.1, 0.1, 0.2, 0.2, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    bins = calibration_bins(y, p, bins=3)
    assert bins["n"].tolist() == [2, 2, 2]
    np.testing.assert_allclose(bins["predicted"], [0.1, 0.2, 0.85])
    np.testing.assert_allclose(bins["observed"], [0.0, 0.5, 1.0])


# -- command line ----------------------------------------------------------------------------
def test_infogap_churn_writes_its_report_for_each_arm(tmp_path, capsys):
    panel, _ = synthetic_panel(n_per_rep=2000, replications=4)
    calm = panel.assign(arm="calm", left_next=False)  # nobody ever leaves in this arm
    folder = write_panel(tmp_path, pd.concat([panel, calm], ignore_index=True)[PANEL_COLUMNS],
                         "panel.parquet")
    assert main(["churn", str(folder), "--test-share", "0.5"]) == 0
    out = folder / "churn"
    assert {p.name for p in out.iterdir()} == CHURN_FILES
    perf = pd.read_csv(out / "performance.csv")
    assert perf["arm"].tolist() == ["a"] and perf["test_replications"].tolist() == ["2 3"]
    assert perf["auc"].iloc[0] > 0.5 + AUC_MARGIN
    coef = pd.read_csv(out / "coefficients.csv")
    assert list(coef.columns) == ["arm", "feature", "coef", "ci_low", "ci_high", "p_value",
                                  "odds_ratio", "unit", "separated"]
    assert not coef["separated"].any()  # a known logistic model: nothing separated
    report = (out / "report.md").read_text()
    assert "**calm**: no buyer left in the training replications" in report
    assert "](calibration.png)" in report and "AUC" in report
    printed = capsys.readouterr().out
    assert "a: AUC" in printed and "calm: no model" in printed
    assert (out / "calibration.png").read_bytes()[:4] == b"\x89PNG"


def test_run_panel_then_churn_end_to_end(tmp_path, capsys):
    out = tmp_path / "segments"
    assert main(["run", str(ROOT / "scenarios" / "segments.toml"), "--out", str(out),
                 "--panel", "--quiet", "--replications", "3", "--steps", "30",
                 "--set", "market.buyers=80", "--set", "market.sellers=15"]) == 0
    assert find_panel(out).name == "panel.csv"
    assert main(["churn", str(out), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert {p.name for p in (tmp_path / "c").iterdir()} == CHURN_FILES
    assert capsys.readouterr().out == ""


def _header_only(folder):
    (folder / "panel.csv").write_text(",".join(PANEL_COLUMNS) + "\n")


def _no_leavers(folder):
    panel, _ = synthetic_panel(n_per_rep=200, replications=2)
    panel.assign(left_next=False)[PANEL_COLUMNS].to_csv(folder / "panel.csv", index=False)


def _missing_column(folder):
    panel, _ = synthetic_panel(n_per_rep=200, replications=2)
    panel.drop(columns="left_next").to_csv(folder / "panel.csv", index=False)


def _one_replication(folder):
    panel, _ = synthetic_panel(n_per_rep=500, replications=1)
    panel[PANEL_COLUMNS].to_csv(folder / "panel.csv", index=False)


def _bad_outcome(folder):
    panel, _ = synthetic_panel(n_per_rep=200, replications=2)
    panel["left_next"] = panel["left_next"].map({True: "yes", False: "no"})
    panel[PANEL_COLUMNS].to_csv(folder / "panel.csv", index=False)


@pytest.mark.parametrize("make, fragments", [
    (None, ["no such folder", "--panel"]),
    (lambda folder: None, ["no panel.csv or panel.parquet", "infogap run SCENARIO --panel"]),
    (lambda folder: (folder / "panel.csv").write_text(""), ["panel.csv", "empty"]),
    (_header_only, ["panel.csv", "expected buyer-period rows, found none"]),
    (_no_leavers, ["left_next is False in all", "no buyer ever left", "nothing to predict"]),
    (_missing_column, ["missing left_next"]),
    (_one_replication, ["no arm has a churn model", "only 1 replication"]),
    (_bad_outcome, ["column left_next: expected True/False, found 'no'"]),
], ids=["missing-folder", "no-panel", "empty-file", "no-rows", "one-class", "missing-column",
        "one-replication", "bad-outcome"])
def test_unusable_panels_fail_with_one_clear_message(tmp_path, capsys, make, fragments):
    folder = tmp_path / "run"
    if make is not None:
        folder.mkdir()
        make(folder)
    assert main(["churn", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infogap: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not (folder / "churn").exists()


def test_read_panel_requires_every_documented_column(tmp_path):
    panel, _ = synthetic_panel(n_per_rep=300, replications=2)
    folder = write_panel(tmp_path, panel[PANEL_COLUMNS])
    read = read_panel(find_panel(folder))
    assert set(REQUIRED) <= set(read.columns) and read["left_next"].dtype == bool
    assert set(REQUIRED) == set(PANEL_COLUMNS)  # what the runner writes is what churn reads
