"""Bad experiment files get one clear line (file, key path, expected, found) and exit status 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.sweep import load_experiment

REPO = Path(__file__).resolve().parent.parent
SCENARIO = """
[scenario]
steps = 30
replications = 2
seed = 4
[market]
buyers = 60
sellers = 20
[arms.base]
[arms.open.market]
information = "transparent"
"""

GOOD = """
[experiment]
scenario = "scenario.toml"
design = "grid"
[factors]
"market.taste.value" = { range = [1.0, 3.0], levels = 3 }
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(text))
    return path


def sweep_error(path: Path, capsys, *extra: str) -> str:
    code = main(["sweep", str(path), "--out", str(path.parent / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("infogap: error: ")
    assert not (path.parent / "out").exists()  # refused before anything was written
    return err


@pytest.mark.parametrize(("text", "fragments"), [
    ("[experiment]\nscenario = 'scenario.toml'\ndesing = 'grid'\n[factors]\n"
     "'market.buyers' = [50, 60]\n",
     ["experiment.desing: unknown key (did you mean 'design'?)"]),
    (GOOD + "[factor]\n", ["factor: unknown key (did you mean 'factors'?)"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[factors]\n'market.prospect.lamda' = [1, 2]\n",
     ["factors.\"market.prospect.lamda\": unknown market key (did you mean "
      "'market.prospect.lam'?)"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[factors]\n"
     "'market.prospect.lam' = { range = [0.5, 3.0], levels = 3 }\n",
     ["factors.\"market.prospect.lam\".range[0]: expected a value in [1.0, 10.0], found 0.5"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[factors]\n"
     "'market.information' = ['asymmetric', 'transparant']\n",
     ["factors.\"market.information\".values[1]: expected one of", "did you mean "
      "'transparent'?", "found 'transparant'"]),
    ("[experiment]\nscenario = 'scenario.toml'\ndesign = 'sobol'\nsamples = 100\n[factors]\n"
     "'market.prospect.lam' = { range = [1.0, 3.0] }\n",
     ["experiment.samples: expected the base sample size N (a power of 2", "e.g. 64 or 128",
      "found 100"]),
    ("[experiment]\nscenario = 'scenario.toml'\ndesign = 'sobol'\nsamples = 64\n[factors]\n"
     "'market.prospect.lam' = [1.0, 2.0]\n",
     ["factors.\"market.prospect.lam\": expected a numeric 'range'", "found a 'values' list"]),
    ("[experiment]\nscenario = 'scenario.toml'\ndesign = 'lhs'\n[factors]\n"
     "'market.prospect.lam' = { range = [1.0, 3.0] }\n",
     ["experiment.samples: expected a whole number, found nothing"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[factors]\n"
     "'market.prospect.lam' = { range = [1.0, 3.0] }\n",
     ["factors.\"market.prospect.lam\".levels: expected a number of grid levels"]),
    ("[experiment]\nscenario = 'scenario.toml'\ndesign = 'latin'\n[factors]\n"
     "'market.prospect.lam' = [1.0]\n",
     ["experiment.design: expected one of grid, random, lhs, sobol, morris", "found 'latin'"]),
    (GOOD + "[experiment.extra]\n", ["experiment.extra: unknown key"]),
    ("[experiment]\nscenario = 'scenario.toml'\nmetrics = ['volume', 'turst']\n[factors]\n"
     "'market.buyers' = [50, 60]\n",
     ["experiment.metrics[1]: expected a metric name (did you mean 'trust'?)"]),
    ("[experiment]\nscenario = 'scenario.toml'\narms = ['base', 'opne']\n[factors]\n"
     "'market.buyers' = [50, 60]\n",
     ["experiment.arms[1]: expected an arm of", "did you mean 'open'?", "found 'opne'"]),
    ("[experiment]\nscenario = 'scenario.toml'\narms = ['open']\n[factors]\n"
     "'market.information' = ['asymmetric', 'noisy']\n",
     ["arm 'open' of", "sets market.information itself"]),
    ("[experiment]\nscenario = 'missing.toml'\n[factors]\n'market.buyers' = [50, 60]\n",
     ["experiment.scenario: no scenario file 'missing.toml'"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[fixed]\n'market.buyer' = 10\n[factors]\n"
     "'market.sellers' = [5, 6]\n", ["fixed.\"market.buyer\": unknown market key",
                                     "did you mean 'market.buyers'?"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[fixed]\n'market.buyers' = -3\n[factors]\n"
     "'market.sellers' = [5, 6]\n", ["fixed.\"market.buyers\": expected a value in [1,", "found -3"]),
    (GOOD + "[analyze]\nheatmaps = [['market.taste.value', 'market.quality.hig']]\n",
     ["analyze.heatmaps[0][1]: expected a factor key", "found 'market.quality.hig'"]),
    ("[experiment]\nscenario = 'scenario.toml'\n[factors]\n"
     "'market.quality.low' = [0.2, 0.9]\n'market.quality.high' = [0.5, 1.0]\n",
     ["design point 2", "market.quality.low = 0.9", "market.quality.high = 0.5",
      "expected at most quality.high"]),
    ("[experiment\nscenario = 'x'\n", ["not valid TOML"]),
    ("[factors]\n'market.buyers' = [50]\n", ["experiment: expected a [experiment] table"]),
], ids=lambda v: v[0][:40] if isinstance(v, list) else None)
def test_bad_experiment_files_get_one_clear_line(tmp_path, capsys, text, fragments):
    path = write(tmp_path, text)
    err = sweep_error(path, capsys)
    assert str(path) in err
    for fragment in fragments:
        assert fragment in err


def test_a_good_file_loads_with_scenario_defaults(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD))
    assert exp.name == "exp"
    assert exp.arms == ("base",)
    assert (exp.steps, exp.replications, exp.seed, exp.window) == (30, 2, 4, 0.3)
    assert exp.metrics == ("price", "volume", "trust", "churn")
    assert exp.factors[0].grid_values() == (1.0, 2.0, 3.0)


def test_existing_folder_is_refused_without_resume(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    code = main(["sweep", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "already exists and is not empty; pass --resume" in err
    code = main(["sweep", str(path), "--out", str(tmp_path / "out"), "--resume"])
    assert code == 2
    assert "is not a sweep folder" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["notes.txt"]


def test_analyze_refuses_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    code = main(["analyze", str(tmp_path)])
    assert code == 2
    assert "not a sweep folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["lemons_phase", "trust_drivers", "certification_cost"])
def test_shipped_experiments_load(name):
    exp = load_experiment(REPO / "experiments" / f"{name}.toml")
    assert exp.name == name
    assert len(exp.factors) >= 2


def test_docs_describe_every_experiment_key():
    from simulator.sweep.experiment import (
        ANALYZE_KEYS,
        DESIGNS,
        EXPERIMENT_KEYS,
        FACTOR_KEYS,
        TOP_LEVEL_KEYS,
    )

    doc = (REPO / "docs" / "experiments.md").read_text()
    for key in (*EXPERIMENT_KEYS, *FACTOR_KEYS, *ANALYZE_KEYS, *DESIGNS):
        assert f"| `{key}` |" in doc, key
    for table in TOP_LEVEL_KEYS:
        assert f"[{table}]" in doc, table
