"""Sweeps end to end: crash-safe resume, executors agree bit for bit, failures are recorded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from simulator.cli import main
from simulator.metrics import METRICS
from simulator.model import run_market
from simulator.params import MarketParams
from simulator.runner import replication_seeds, window_means
from simulator.sweep import (
    load_experiment,
    load_failures,
    load_series,
    load_sweep,
    run_sweep,
)

REPO = Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
steps = 50
replications = 2
seed = 17
window = 0.4
[market]
buyers = 60
sellers = 20
capacity = 1
pricing = "market"
identity = "anonymous"
[arms.base]
[arms.open.market]
information = "transparent"
"""

# 12 design points x 2 arms x 2 replications = 48 runs of ~50 ms.
EXPERIMENT = """
[experiment]
scenario = "scenario.toml"
arms = ["base", "open"]
series_every = 10
metrics = ["volume", "trust"]
[factors."market.taste.value"]
range = [1.0, 3.0]
levels = 4
[factors]
"market.quality.low" = [0.0, 0.4, 0.6]
"""
RUNS = 48


def write_experiment(folder: Path, text: str = EXPERIMENT, name: str = "exp") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.toml").write_text(SCENARIO)
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep on 2 local workers: the table every other way must reproduce."""
    folder = tmp_path_factory.mktemp("sweep")
    path = write_experiment(folder)
    out = folder / "reference"
    outcome = run_sweep(load_experiment(path), out, workers=2, progress=False)
    assert (outcome.ran, outcome.failed, outcome.reused) == (RUNS, 0, 0)
    return path, out, load_sweep(out), load_series(out)


def ok_count(out: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{out / 'index.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:  # not created yet, or its tables are not committed yet
        return 0


def test_sweep_matches_direct_runs(reference):
    """A stored row is exactly what run_market gives for that point, arm and replication."""
    path, _, table, series = reference
    assert len(table) == RUNS and table["run_id"].is_unique
    assert (table["status"] == "ok").all()
    exp = load_experiment(path)
    seeds = replication_seeds(17, 2)
    row = table[(table["point"] == 7) & (table["arm"] == "open")
                & (table["replication"] == 1)].iloc[0]
    params = exp.scenario.arms["open"].replace(
        **{"taste.value": row["market.taste.value"], "quality.low": row["market.quality.low"]})
    assert (params.taste.value, params.quality.low) == (pytest.approx(7 / 3), 0.4)
    direct = run_market(params, 50, seeds[1])
    expected = window_means(direct, 0.4)
    assert np.array_equal(row[list(METRICS)].to_numpy(float),
                          expected[list(METRICS)].to_numpy(float), equal_nan=True)
    run = series[series["run_id"] == row["run_id"]]
    assert run["step"].tolist() == [10, 20, 30, 40, 50]
    assert np.array_equal(run["volume"].to_numpy(), direct.loc[[10, 20, 30, 40, 50], "volume"]
                          .to_numpy(float))
    # Replications differ, and the same replication of two points shares its seed.
    assert table.groupby("replication")["key"].nunique().tolist() == [24, 24]


@pytest.mark.timeout(120)
def test_killed_sweep_resumes_to_the_same_table_without_duplicates(reference, tmp_path, capsys):
    path, _, table, series = reference
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "sweep", str(path), "--out", str(out),
         "--workers", "1", "--no-progress"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    workers = []
    try:
        while ok_count(out) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep recorded no runs in 60 s"
            time.sleep(0.02)
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)   # the sweep itself, mid-run
        proc.wait()
        # Its worker processes notice and exit instead of waiting for tasks for ever.
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"orphaned workers: {alive}"
    finally:
        with contextlib.suppress(ProcessLookupError):   # whatever is left of our own group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    stored = ok_count(out)
    assert 3 <= stored < RUNS, "the sweep was not killed mid-way"
    partial = load_sweep(out)
    assert (partial["status"] == "ok").sum() == stored
    assert set(partial["status"]) <= {"ok", "pending"}

    code = main(["sweep", str(path), "--out", str(out), "--resume", "--workers", "2",
                 "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"{stored} already stored, {RUNS - stored} to do" in err

    resumed = load_sweep(out)
    pd.testing.assert_frame_equal(resumed, table, check_exact=True)
    pd.testing.assert_frame_equal(load_series(out), series, check_exact=True)
    db = sqlite3.connect(out / "index.sqlite")
    try:
        assert db.execute("SELECT count(*), count(DISTINCT key) FROM runs").fetchone() \
            == (RUNS, RUNS)
    finally:
        db.close()
    files = list((out / "runs").rglob("*"))
    assert len([f for f in files if f.suffix == ".json"]) == RUNS
    assert not [f for f in files if f.name.endswith(".tmp")]

    # Nothing is left to do, and a plain re-run into the same folder is refused.
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert f"{RUNS} already stored, 0 to do" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert f"holds a sweep with {RUNS} finished runs; pass --resume" in capsys.readouterr().err


@pytest.mark.timeout(180)
def test_dask_local_cluster_gives_the_same_table(reference, tmp_path):
    path, _, table, series = reference
    out = tmp_path / "dask"
    outcome = run_sweep(load_experiment(path), out, executor="dask", workers=2, progress=False)
    assert (outcome.ran, outcome.failed) == (RUNS, 0)
    pd.testing.assert_frame_equal(load_sweep(out), table, check_exact=True)
    pd.testing.assert_frame_equal(load_series(out), series, check_exact=True)


FAULTY = '''
from simulator.model import run_market


def run(params, steps, seed):
    if params.choice.candidates == 3:
        raise ValueError("boom: three candidates")
    return run_market(params, steps, seed)
'''


@pytest.mark.timeout(120)
def test_failing_runs_are_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    (tmp_path / "faulty_model.py").write_text(FAULTY)
    monkeypatch.syspath_prepend(str(tmp_path))   # spawned workers inherit sys.path
    path = write_experiment(tmp_path, """
        [experiment]
        scenario = "scenario.toml"
        steps = 20
        [factors]
        "market.choice.candidates" = [2, 3, 4]
    """)
    out = tmp_path / "out"
    outcome = run_sweep(load_experiment(path), out, workers=2, progress=False,
                        runner="faulty_model:run")
    assert (outcome.ran, outcome.failed) == (4, 2)
    assert outcome.failures == ["ValueError: boom: three candidates"] * 2
    table = load_sweep(out)
    failed = table[table["status"] == "failed"]
    assert failed["market.choice.candidates"].tolist() == [3, 3]
    assert failed["error"].tolist() == ["ValueError: boom: three candidates"] * 2
    assert failed[list(METRICS)].isna().all().all()
    ok = table[table["status"] == "ok"]
    assert len(ok) == 4 and ok["active_buyers"].notna().all()
    tracebacks = load_failures(out)["traceback"]
    assert len(tracebacks) == 2
    assert all("Traceback" in t and "faulty_model.py" in t for t in tracebacks)

    # Resuming retries only the failed runs (they fail again here).
    again = run_sweep(load_experiment(path), out, workers=1, progress=False, resume=True,
                      runner="faulty_model:run")
    assert (again.reused, again.ran, again.failed) == (4, 0, 2)

    assert main(["analyze", str(out)]) == 0
    report = (out / "report" / "report.md").read_text()
    assert "Runs: 4 ok, 2 failed, 0 not run." in report
    assert "## Failed runs" in report and "boom: three candidates" in report


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("design", "index_file", "columns"), [
    ("sobol", "sobol_trust_base.csv", ["S1", "S1_conf", "ST", "ST_conf"]),
    ("morris", "morris_trust_base.csv", ["mu_star", "mu_star_conf", "sigma"]),
])
def test_analyze_writes_salib_indices_plots_and_tables(tmp_path, capsys, design, index_file,
                                                       columns):
    path = write_experiment(tmp_path, f"""
        [experiment]
        scenario = "scenario.toml"
        design = "{design}"
        samples = 4
        replications = 1
        steps = 30
        metrics = ["trust", "volume"]
        [factors]
        "market.trust.loss" = {{ range = [0.05, 0.6] }}
        "market.taste.value" = {{ range = [1.0, 3.0] }}
    """)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--no-progress",
                 "--csv"]) == 0
    runs = {"sobol": 4 * 4, "morris": 4 * 3}[design]
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == runs and (csv["status"] == "ok").all()
    assert main(["analyze", str(out), "--metric", "trust",
                 "--heatmap", "market.taste.value,market.trust.loss"]) == 0
    report = out / "report"
    text = (report / "report.md").read_text()
    heading = {"sobol": "## Sobol indices", "morris": "## Morris elementary effects"}[design]
    assert heading in text and "## Main effects" in text and "## Phase diagrams" in text
    indices = pd.read_csv(report / index_file)
    assert indices["factor"].tolist() == ["market.trust.loss", "market.taste.value"]
    assert np.isfinite(indices[columns].to_numpy()).all()
    for image in ["main_effects_trust.png",
                  "heatmap_trust_taste-value_x_trust-loss_base.png"]:
        assert (report / image).stat().st_size > 5000
        assert f"]({image})" in text
    points = pd.read_csv(report / "points.csv")
    assert len(points) == runs and "trust" in points.columns
    assert main(["analyze", str(out), "--heatmap", "market.taste.value,market.nope"]) == 2
    assert "market.nope is not a factor of this sweep" in capsys.readouterr().err


def test_market_params_round_trip_through_the_stored_task(reference):
    """The parameters stored per task rebuild the very MarketParams the plan made."""
    path, out, _, _ = reference
    db = sqlite3.connect(out / "index.sqlite")
    try:
        (text,) = db.execute("SELECT task FROM tasks ORDER BY first_run LIMIT 1").fetchone()
    finally:
        db.close()
    params = MarketParams.from_dict(json.loads(text)["params"])
    exp = load_experiment(path)
    assert params == exp.scenario.arms["base"].replace(**{"taste.value": 1.0,
                                                          "quality.low": 0.0})
