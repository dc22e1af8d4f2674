"""Executors start their workers at once and warm each one up before its first run, and a
failing warm-up never breaks a pool."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from functools import partial

import psutil
import pytest
from conftest import ROOT

from simulator.sweep import work
from simulator.sweep.executors import make_executor

PROBE = """
import os
from pathlib import Path


def warm(folder):
    Path(folder, f"warm-{os.getpid()}").touch()


def where(item):
    return item, os.getpid()


def origin(item):
    import sys
    return os.getppid(), "simulator.sweep.warm_workers" in sys.modules
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_every_worker_warms_up_before_its_runs(tmp_path, monkeypatch, executor):
    (tmp_path / "warm_probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))   # spawned workers inherit sys.path
    import warm_probe

    marks = tmp_path / "marks"
    marks.mkdir()
    with make_executor(executor, 2, runs=6, warm_up=partial(warm_probe.warm, str(marks))
                       ) as pool:
        ran = [result for _, result, error in pool.imap_unordered(warm_probe.where, range(6))]
    warmed = {int(mark.name.removeprefix("warm-")) for mark in marks.iterdir()}
    assert sorted(item for item, _ in ran) == list(range(6))
    assert len(warmed) == 2                       # each worker warmed up once
    assert {pid for _, pid in ran} <= warmed      # and every run ran on a warmed worker


@pytest.mark.timeout(120)
@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                    reason="workers are spawned where there is no forkserver")
def test_local_workers_are_forked_ready_from_one_forkserver(tmp_path):
    # In a fresh interpreter: the forkserver is one per process (in this one an earlier test
    # may have started it, or a Dask cluster, which preloads distributed, not the engine).
    # It starts with the executor, before any run.
    (tmp_path / "warm_probe.py").write_text(PROBE)
    code = ("import json, os, sys\nimport psutil\n"
            "from simulator.sweep.executors import make_executor\n"
            "import warm_probe\n"
            "if __name__ == '__main__':\n"
            "    with make_executor('local', 2, runs=4) as pool:\n"
            "        started = [c.pid for c in psutil.Process().children()]\n"
            "        got = [r for _, r, _ in pool.imap_unordered(warm_probe.origin, range(4))]\n"
            "    print(json.dumps([os.getpid(), started, got]))\n")
    (tmp_path / "probe_main.py").write_text(code)
    done = subprocess.run([sys.executable, str(tmp_path / "probe_main.py")], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"},
                          check=True, capture_output=True, text=True, timeout=100)
    me, started, got = json.loads(done.stdout.strip().splitlines()[-1])
    parents = {parent for parent, _ in got}
    assert len(got) == 4 and len(parents) == 1 and parents != {me}
    assert parents <= set(started)   # the forkserver was up before the first run was sent
    assert all(warmed for _, warmed in got)   # imported and warmed in the forkserver


EARLY_PROBE = """
import json, sys
from multiprocessing import forkserver
calls = []
real = forkserver.ensure_running


def ensure_running():
    calls.append("pandas" in sys.modules)
    return real()


forkserver.ensure_running = ensure_running
from simulator.cli import main
if __name__ == "__main__":
    code = main(sys.argv[1:])
    print(json.dumps([code, calls]))
"""

TINY_SWEEP = {"scenario.toml": "[scenario]\nsteps = 2\nreplications = 1\nseed = 1\n"
                               "[market]\nbuyers = 8\nsellers = 4\n[arms.base]\n",
              "exp.toml": "[experiment]\nscenario = \"scenario.toml\"\ndesign = \"grid\"\n"
                          "[factors]\n\"market.taste.value\" = [1.5, 2.0, 2.5]\n"}


@pytest.mark.timeout(120)
@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                    reason="workers are spawned where there is no forkserver")
@pytest.mark.parametrize("workers", ["2", "1"])
def test_the_sweep_command_starts_its_workers_before_its_own_imports(tmp_path, workers):
    # The forkserver's 0.5 s of imports overlap the command's own (pandas, the store, the
    # plan) rather than following them; one worker runs inline and starts none.
    for name, text in {**TINY_SWEEP, "probe_main.py": EARLY_PROBE}.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run([sys.executable, "probe_main.py", "sweep", "exp.toml", "--out", "out",
                           "--workers", workers, "--no-progress"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    code, calls = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0 and "3 runs done, 0 failed" in done.stdout
    assert calls[:1] == ([False] if workers == "2" else [])


def test_a_failing_warm_up_only_costs_time(monkeypatch):
    import simulator.model

    def broken(*args, **kwargs):
        raise RuntimeError("no kernels today")

    monkeypatch.setattr(simulator.model, "simulate", broken)
    assert work.warm_up() is None


def test_dask_tasks_take_about_a_second_of_runs():
    from simulator.sweep.executors import DASK_TASK_SECONDS, MAX_BATCH, batch_size

    assert batch_size(0, 0.0) == 1                      # nothing timed yet: one run a task
    assert batch_size(4, 0.8) == round(DASK_TASK_SECONDS / 0.2)
    assert batch_size(3, 30.0) == 1                     # long runs go one by one
    assert batch_size(1000, 0.001) == MAX_BATCH         # tiny runs: capped


BATCHED = """
def task_of(item):
    from distributed import get_worker
    if item == 13:
        raise ValueError("unlucky")
    return item * item, get_worker().get_current_task()
"""


@pytest.mark.timeout(120)
def test_dask_batches_quick_runs_and_keeps_each_runs_own_outcome(tmp_path, monkeypatch):
    (tmp_path / "batched_probe.py").write_text(BATCHED)
    monkeypatch.syspath_prepend(str(tmp_path))
    import batched_probe

    with make_executor("dask", 2) as pool:
        seen = list(pool.imap_unordered(batched_probe.task_of, range(200)))
    assert sorted(item for item, _, _ in seen) == list(range(200))
    errors = {item: error for item, _, error in seen if error is not None}
    assert list(errors) == [13] and isinstance(errors[13], ValueError)
    results = {item: result for item, result, _ in seen if item != 13}
    assert all(result[0] == item * item for item, result in results.items())
    per_task = {}
    for _, task in results.values():
        per_task[task] = per_task.get(task, 0) + 1
    assert max(per_task.values()) > 1            # quick runs shared a task
    assert len(per_task) < 199


@pytest.mark.timeout(120)
def test_the_local_dask_cluster_runs_with_its_quieter_settings():
    import dask

    from simulator.sweep.executors import LOCAL_CLUSTER_CONFIG

    with make_executor("dask", 2) as pool:
        client = pool.client
        for key, value in LOCAL_CLUSTER_CONFIG.items():
            assert set(client.run(dask.config.get, key).values()) == {value}, key
        # forked from one forkserver (which imported distributed once), not spawned by us
        parents = set(client.run(os.getppid).values())
        assert len(parents) == 1 and parents != {os.getpid()}
        assert "forkserver" in " ".join(psutil.Process(parents.pop()).cmdline())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("broken", ["cluster", "warm-up"])
def test_a_local_cluster_that_cannot_start_fails_where_runs_begin(monkeypatch, broken):
    import distributed

    from simulator.sweep.executors import DaskExecutor

    def fail(*args, **kwargs):
        raise RuntimeError("no cluster today")

    if broken == "cluster":
        monkeypatch.setattr(distributed, "LocalCluster", fail)
    else:   # the cluster and client are up, then submitting the warm-ups fails
        monkeypatch.setattr(DaskExecutor, "_warm_workers", fail)
    pool = make_executor("dask", 2, warm_up=work.warm_up)   # starts in the background
    with pytest.raises(RuntimeError, match="no cluster today"):
        next(iter(pool.imap_unordered(abs, [1])))
    pool.close(abort=True)                     # and closing it is still safe
