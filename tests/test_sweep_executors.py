"""Executors start their workers at once and warm each one up before its first run, and a
failing warm-up never breaks a pool."""

from __future__ import annotations

from functools import partial

import psutil
import pytest

from simulator.sweep import work
from simulator.sweep.executors import make_executor

PROBE = """
import os
from pathlib import Path


def warm(folder):
    Path(folder, f"warm-{os.getpid()}").touch()


def where(item):
    return item, os.getpid()
"""


def _spawned_workers() -> int:
    return sum("--multiprocessing-fork" in " ".join(child.cmdline())
               for child in psutil.Process().children())


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
        if executor == "local":
            assert _spawned_workers() == 2   # started with the executor, before any run
        ran = [result for _, result, error in pool.imap_unordered(warm_probe.where, range(6))]
    warmed = {int(mark.name.removeprefix("warm-")) for mark in marks.iterdir()}
    assert sorted(item for item, _ in ran) == list(range(6))
    assert len(warmed) == 2                       # each worker warmed up once
    assert {pid for _, pid in ran} <= warmed      # and every run ran on a warmed worker


def test_a_failing_warm_up_only_costs_time(monkeypatch):
    import simulator.model

    def broken(*args, **kwargs):
        raise RuntimeError("no kernels today")

    monkeypatch.setattr(simulator.model, "simulate", broken)
    assert work.warm_up() is None
