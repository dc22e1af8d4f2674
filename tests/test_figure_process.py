"""Figures drawn by the figure process (`infogap run`) are those drawn in place."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from simulator.figure_process import Figures
from simulator.report import write_files
from simulator.runner import run_scenario
from simulator.scenario import Scenario

SEGMENTS = """
[arms.asymmetric.market.segments.careful]
share = 0.5
[arms.asymmetric.market.segments.hasty]
share = 0.5
"""


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "run", *argv, "--quiet"],
                          cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("replications", [1, 3])
def test_forked_figures_and_tables_are_byte_identical_to_those_drawn_in_place(
        scenario_file, tmp_path, replications):
    from conftest import TINY_SCENARIO

    path = scenario_file(TINY_SCENARIO + SEGMENTS)
    forked = tmp_path / "forked"
    done = _run_cli(str(path), "--steps", "6", "--replications", str(replications),
                    "--out", str(forked))
    assert done.returncode == 0, done.stderr
    scenario = Scenario.load(path, {"scenario.steps": 6,
                                    "scenario.replications": replications})
    here = tmp_path / "here"
    here.mkdir()
    figures = Figures(scenario, fork=False)
    assert not figures.forked
    write_files(run_scenario(scenario, progress=False), here, figures=figures)
    names = sorted(p.name for p in here.iterdir())
    assert {"segments.png", "metrics.png", "headline.png", "theory.csv"} <= set(names)
    assert sorted(p.name for p in forked.iterdir()) == names
    for name in names:
        assert (forked / name).read_bytes() == (here / name).read_bytes(), name


FAILING_FIGURE = """
import sys
import simulator.report as report
from simulator.cli import main

def broken(results, name):
    raise ValueError(f"cannot draw {name}")

report.draw_figure = broken
sys.exit(main(sys.argv[1:]))
"""


def test_a_figure_that_cannot_be_drawn_fails_the_run_and_writes_nothing(scenario_file,
                                                                        tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", FAILING_FIGURE, "run", str(scenario_file()),
                           "--steps", "3", "--quiet", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "drawing the figures failed" in done.stderr
    assert "ValueError: cannot draw metrics.png" in done.stderr       # the figure process
    assert "ValueError: cannot draw headline.png" in done.stderr      # and its fork
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]
