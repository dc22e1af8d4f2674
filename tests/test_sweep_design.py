"""Designs give the right number of points inside the bounds, and runs get the right seeds/keys."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from simulator.errors import UserError
from simulator.runner import replication_seeds
from simulator.sweep.design import build_design, expected_points
from simulator.sweep.experiment import load_experiment
from simulator.sweep.plan import plan_runs

SCENARIO = """
[scenario]
steps = 30
replications = 3
seed = 11
[market]
buyers = 60
sellers = 20
[arms.base]
[arms.transparent.market]
information = "transparent"
"""


def experiment(tmp_path, text: str):
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(text))
    return load_experiment(path)


CONTINUOUS = """
[experiment]
scenario = "scenario.toml"
design = "{design}"
samples = {samples}
{extra}
[factors]
"market.prospect.lam" = {{ range = [1.0, 3.0] }}
"market.signal.noise" = {{ range = [0.01, 1.0], scale = "log" }}
"market.choice.candidates" = {{ range = [1, 8] }}
"""


@pytest.mark.parametrize(("design", "samples", "extra", "count"), [
    ("random", 37, "", 37),
    ("lhs", 40, "", 40),
    ("sobol", 16, "", 16 * (3 + 2)),
    ("sobol", 8, "second_order = true", 8 * (2 * 3 + 2)),
    ("morris", 5, "levels = 6", 5 * (3 + 1)),
])
def test_continuous_designs_have_the_right_size_and_stay_in_bounds(tmp_path, design, samples,
                                                                   extra, count):
    exp = experiment(tmp_path, CONTINUOUS.format(design=design, samples=samples, extra=extra))
    d = build_design(exp)
    assert len(d.points) == count == expected_points(exp)
    assert d.matrix.shape == (count, 3)
    lam = np.array([p["market.prospect.lam"] for p in d.points])
    noise = np.array([p["market.signal.noise"] for p in d.points])
    k = [p["market.choice.candidates"] for p in d.points]
    assert lam.min() >= 1.0 and lam.max() <= 3.0
    assert noise.min() >= 0.01 and noise.max() <= 1.0
    assert all(isinstance(v, int) and 1 <= v <= 8 for v in k)
    # Samplers draw in design space: the log of a log-scale factor, the range itself otherwise.
    assert np.allclose(np.exp(d.matrix[:, 1]), noise)
    assert np.allclose(d.matrix[:, 0], lam)
    if design != "morris":  # spread evenly in log space, not crowded near the top
        assert np.median(noise) < 0.3
    # Same seed, same design; the design is not a constant.
    again = build_design(exp)
    assert again.points == d.points
    assert len({p["market.prospect.lam"] for p in d.points}) > 2


def test_lhs_puts_one_point_in_every_stratum(tmp_path):
    exp = experiment(tmp_path, CONTINUOUS.format(design="lhs", samples=25, extra=""))
    lam = np.array([p["market.prospect.lam"] for p in build_design(exp).points])
    strata = np.floor((lam - 1.0) / 2.0 * 25).astype(int)
    assert sorted(strata) == list(range(25))


def test_morris_trajectories_move_one_factor_per_step(tmp_path):
    exp = experiment(tmp_path, CONTINUOUS.format(design="morris", samples=4, extra=""))
    x = build_design(exp).matrix.reshape(4, 4, 3)   # trajectories x (D + 1) x D
    changed = (np.abs(np.diff(x, axis=1)) > 1e-12).sum(axis=2)
    assert (changed == 1).all()


def test_sobol_design_feeds_salib_to_the_known_indices(tmp_path):
    """y = 4 lam + noise_log: S1(lam) = 16/17 of the variance when both are uniform."""
    from SALib.analyze import sobol

    exp = experiment(tmp_path, """
        [experiment]
        scenario = "scenario.toml"
        design = "sobol"
        samples = 1024
        [factors]
        "market.prospect.lam" = { range = [1.0, 2.0] }
        "market.trust.loss" = { range = [0.0, 1.0] }
    """)
    d = build_design(exp)
    y = np.array([4 * p["market.prospect.lam"] + p["market.trust.loss"] for p in d.points])
    from simulator.sweep.design import salib_problem
    s = sobol.analyze(salib_problem(exp.factors), y, calc_second_order=False, seed=1)
    assert s["S1"][0] == pytest.approx(16 / 17, abs=0.03)
    assert s["ST"][1] == pytest.approx(1 / 17, abs=0.03)


def test_grid_is_the_product_of_levels_in_file_order(tmp_path):
    exp = experiment(tmp_path, """
        [experiment]
        scenario = "scenario.toml"
        [factors."market.taste.value"]
        range = [1.0, 3.0]
        levels = 5
        [factors.market.information]
        values = ["asymmetric", "noisy"]
        [factors.market.choice]
        candidates = { range = [2, 4] }
    """)
    d = build_design(exp)
    assert len(d.points) == 5 * 2 * 3 == expected_points(exp)
    assert d.matrix is None
    assert [p["market.taste.value"] for p in d.points[::6]] == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert d.points[0] == {"market.taste.value": 1.0, "market.information": "asymmetric",
                           "market.choice.candidates": 2}
    assert d.points[5] == {"market.taste.value": 1.0, "market.information": "noisy",
                           "market.choice.candidates": 4}


def test_runs_share_replication_seeds_and_get_distinct_keys(tmp_path):
    exp = experiment(tmp_path, """
        [experiment]
        scenario = "scenario.toml"
        arms = ["base", "transparent"]
        replications = 2
        [factors]
        "market.prospect.lam" = [1.0, 2.0, 3.0]
    """)
    runs = list(plan_runs(exp, build_design(exp)))
    assert len(runs) == 3 * 2 * 2
    assert [r.run_id for r in runs] == list(range(12))
    expected = replication_seeds(11, 2)
    for run in runs:
        seed = expected[run.replication]
        assert run.task.seed_spawn_key == tuple(seed.spawn_key)
        assert run.task.seed_entropy == seed.entropy
        assert run.task.params["prospect"]["lam"] == [1.0, 2.0, 3.0][run.point]
        assert run.task.params["information"] == (
            "transparent" if run.arm == "transparent" else "asymmetric")
    assert len({r.task.key for r in runs}) == 12
    # The key is a function of what the run depends on: planning again gives the same keys.
    assert [r.task.key for r in plan_runs(exp, build_design(exp))] == [r.task.key for r in runs]


def test_factors_reach_named_buyer_segments(tmp_path):
    (tmp_path / "segments.toml").write_text(SCENARIO.replace("[arms.base]", """
[market.segments.cautious]
share = 0.4
[market.segments.bold]
share = 0.6
[arms.base]"""))
    path = tmp_path / "exp.toml"
    path.write_text("""
[experiment]
scenario = "segments.toml"
[factors]
"market.segments.cautious.prospect.lam" = [1.0, 3.0]
""")
    exp = load_experiment(path)
    runs = list(plan_runs(exp, build_design(exp)))
    lams = [(r.task.params["segments"]["cautious"]["prospect"]["lam"],
             r.task.params["segments"]["bold"]["prospect"]["lam"]) for r in runs]
    assert lams == [(1.0, 2.25)] * 3 + [(3.0, 2.25)] * 3
    path.write_text(path.read_text().replace("cautious", "cautios"))
    with pytest.raises(UserError, match="no buyer segment named 'cautios' in the scenario "
                       r"\(did you mean 'cautious'\?\)"):
        load_experiment(path)
