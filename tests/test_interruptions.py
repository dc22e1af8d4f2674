"""Runs and sweeps that survive interruption: signals, killed workers, two sweeps on one
folder, damaged run files, and folders that cannot be written."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from conftest import ROOT

from simulator.cli import main
from simulator.metrics import METRICS
from simulator.sweep import export_csv, load_experiment, load_sweep, run_sweep
from simulator.sweep.store import DAMAGED, SweepStore

EXPERIMENT = """
[experiment]
scenario = "tiny.toml"
steps = 10
replications = 2
[factors]
"market.taste.value" = [1.5, 2.0]
"""
RUNS = 4


@pytest.fixture
def experiment(scenario_file, tmp_path):
    scenario_file()
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(EXPERIMENT))
    return path


def _start(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", *argv], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_for(condition, proc: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"exited before {what}: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.02)


@contextlib.contextmanager
def _reaped(proc: subprocess.Popen):
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):   # whatever is left of our own group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()


def _staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.partial-*"))


def _old_results(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous results")
    return out


def _pool_worker(process: psutil.Process, sweep: psutil.Process) -> bool:
    """Spawned by the sweep's process, or forked by its forkserver."""
    line = " ".join(process.cmdline())
    return "spawn_main" in line or ("forkserver" in line and process.ppid() != sweep.pid)


# -- infogap run -----------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_sigterm_during_a_run_is_ctrl_c_and_keeps_the_old_folder(scenario_file, tmp_path):
    out = _old_results(tmp_path)
    with _reaped(_start("run", str(scenario_file()), "--out", str(out), "--steps", "20000",
                        "--quiet")) as proc:
        _wait_for(lambda: _staging(out), proc, "staging folder")
        time.sleep(0.3)   # into the simulation
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert "interrupted; nothing was written" in proc.stderr.read().decode()
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.toml"]


@pytest.mark.timeout(180)
def test_sigkilled_run_takes_its_workers_along_and_the_next_run_cleans_up(scenario_file,
                                                                          tmp_path):
    out = _old_results(tmp_path)
    path = scenario_file()
    with _reaped(_start("run", str(path), "--out", str(out), "--steps", "20000",
                        "--workers", "2", "--quiet")) as proc:
        parent = psutil.Process(proc.pid)
        workers: list[psutil.Process] = []

        def two_workers() -> bool:   # pool workers (forked or spawned), the figure process
            workers[:] = [p for p in parent.children(recursive=True)
                          if "resource_tracker" not in " ".join(p.cmdline())]
            return sum(_pool_worker(p, parent) for p in workers) >= 2

        _wait_for(two_workers, proc, "two worker processes")
        servers = sum(p.ppid() == parent.pid and "forkserver" in " ".join(p.cmdline())
                      for p in workers)
        assert len(workers) == 3 + servers   # the figure process is the third
        time.sleep(0.5)   # the workers are running
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"orphaned workers: {alive}"
    # The old results are intact; the killed run's staging folder is the only trace ...
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert len(_staging(out)) == 1
    # ... and the next run into the same folder removes it.
    assert main(["run", str(path), "--out", str(out), "--steps", "3", "--replications", "1",
                 "--quiet"]) == 0
    assert (out / "summary.csv").is_file() and not (out / "old.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.toml"]


# -- infogap sweep: wrong folders ------------------------------------------------------------
def test_sweep_out_that_is_a_file_is_refused(experiment, tmp_path, capsys):
    out = tmp_path / "afile"
    out.write_text("mine")
    for extra in ([], ["--resume"]):
        assert main(["sweep", str(experiment), "--out", str(out), "--no-progress",
                     *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is a file, expected a folder" in err
    assert out.read_text() == "mine"


def test_a_garbage_index_is_refused_by_sweep_and_analyze(experiment, tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "index.sqlite").write_bytes(b"this is not a database" * 100)
    assert main(["sweep", str(experiment), "--out", str(out), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable sweep index" in err
    assert main(["sweep", str(experiment), "--out", str(out), "--no-progress"]) == 2
    assert "holds an unreadable index.sqlite; pass --resume" in capsys.readouterr().err
    assert main(["analyze", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable sweep index" in err


def test_a_bad_scheduler_is_refused_and_leaves_no_folder(experiment, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(experiment), "--out", str(out), "--executor", "dask",
                 "--scheduler", "nonsense://nowhere:1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scheduler nonsense://nowhere:1: cannot reach" in err
    assert not out.exists()


def test_a_second_sweep_on_a_folder_in_use_is_refused(experiment, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(experiment), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    capsys.readouterr()
    first = SweepStore.open(out, resume=True)   # as a sweep still running there would
    try:
        assert main(["sweep", str(experiment), "--out", str(out), "--resume",
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"another `infogap sweep` (pid {os.getpid()}) is writing this folder" in err
    finally:
        first.close()
    assert main(["sweep", str(experiment), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert f"{RUNS} already stored, 0 to do" in capsys.readouterr().err


# -- infogap sweep: lost workers and damaged files -------------------------------------------
KILLER = '''
import os
import signal
from pathlib import Path

from simulator.model import simulate

MARKS = Path(__file__).with_name("marks")


def run(params, steps, seed, **options):
    """Kills its own worker process the first time it meets each value of taste."""
    MARKS.mkdir(exist_ok=True)
    try:
        os.close(os.open(MARKS / str(params.taste.value), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return simulate(params, steps, seed, **options)
    os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.mark.timeout(180)
def test_a_killed_worker_loses_no_run(experiment, tmp_path, monkeypatch):
    (tmp_path / "killer.py").write_text(KILLER)
    monkeypatch.syspath_prepend(str(tmp_path))   # spawned workers inherit sys.path
    outcome = run_sweep(load_experiment(experiment), tmp_path / "killed", workers=2,
                        progress=False, runner="killer:run")
    assert (outcome.ran, outcome.failed) == (RUNS, 0)
    assert len(list((tmp_path / "marks").iterdir())) == 2   # two workers were killed
    reference = run_sweep(load_experiment(experiment), tmp_path / "reference", workers=1,
                          progress=False)
    assert reference.ran == RUNS
    got, expected = load_sweep(tmp_path / "killed"), load_sweep(tmp_path / "reference")
    assert (got["status"] == "ok").all()
    pd.testing.assert_frame_equal(got[list(METRICS)], expected[list(METRICS)], check_exact=True)


@pytest.mark.timeout(120)
def test_damaged_run_files_are_read_as_not_run_and_resume_runs_them_again(experiment, tmp_path,
                                                                         capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(experiment), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    table = load_sweep(out)
    files = sorted((out / "runs").rglob("*.json"))
    assert len(files) == RUNS
    files[0].write_text("")                    # what a power cut can leave
    files[1].write_text('{"key": "abc", "summ')
    (out / "results.parquet").unlink()         # no cache: the readers meet the files
    damaged = load_sweep(out)
    assert (damaged["status"] == "pending").sum() == 2
    assert set(damaged.loc[damaged["status"] == "pending", "error"]) == {DAMAGED}
    assert damaged.loc[damaged["status"] == "pending", list(METRICS)].isna().all().all()
    assert len(pd.read_csv(export_csv(out))) == RUNS
    assert main(["analyze", str(out)]) == 0
    assert "Runs: 2 ok, 0 failed, 2 not run." in (out / "report" / "report.md").read_text()
    capsys.readouterr()

    assert main(["sweep", str(experiment), "--out", str(out), "--resume", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "2 already stored, 2 to do (2 stored runs unreadable, run again)" in err
    pd.testing.assert_frame_equal(load_sweep(out), table, check_exact=True)
