"""Running a scenario: a sweep of one point, through the sweep's own pipeline.

plan (`sweep.plan.plan_scenario`: every arm x every replication, with its seed)
-> executor (`sweep.executors`: this process, a local pool or Dask)
-> collector (`collect`: the runs' frames, in table order, as `results.Results`).

Replication r of every arm gets the same seed (common random numbers), so the
difference between two arms in replication r comes from the arms, not from
luck. Each run depends only on (arm parameters, steps, seed), and results are
put back in (arm, replication) order, so the output is bit-identical whatever
the number of workers or the executor.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from .errors import UserError
from .params import MarketParams
from .results import PANEL_COLUMNS, RunFrames, keyed
from .results import Results as Results
from .sweep.executors import check_options, make_executor
from .sweep.plan import PlannedRun, plan_scenario, replication_seeds, run_key
from .sweep.work import RunTask, execute
from .windows import early_means, window_means, window_steps

__all__ = ["PANEL_COLUMNS", "Results", "RunFrames", "collect", "early_means",
           "replication_seeds", "run_one", "run_scenario", "window_means", "window_steps"]


def run_scenario(scenario: Any, replications: int | None = None, steps: int | None = None,
                 workers: int = 1, progress: bool = True, panel: bool = False,
                 executor: str = "local", scheduler: str | None = None) -> Results:
    """Run every arm of a `scenario.Scenario` `replications` times for `steps` steps.

    With `panel`, every run also records its buyer-period panel (`Results.panel`).
    `executor` and `scheduler` are those of `infogap sweep` (local pool or Dask).
    """
    replications = scenario.replications if replications is None else int(replications)
    steps = scenario.steps if steps is None else int(steps)
    if replications < 1:
        raise UserError(f"replications: expected a whole number >= 1, found {replications}")
    if steps < 1:
        raise UserError(f"steps: expected a whole number >= 1, found {steps}")
    if workers is None or workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {workers}")
    check_options(executor, workers, scheduler)
    runs = plan_scenario(scenario, replications, steps, panel=panel)
    distinct = {}   # identical runs (e.g. two identical arms) are done once
    for run in sorted(runs, key=lambda r: (r.replication, r.run_id)):
        distinct.setdefault(run.task.key, run.task)
    frames: dict[str, RunFrames] = {}
    bar = tqdm(total=len(distinct), desc=scenario.name, unit="run", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty())
    try:
        with make_executor(executor, workers, scheduler, runs=len(distinct)) as pool:
            for task, result, error in pool.imap_unordered(execute, distinct.values()):
                frames[task.key] = _frames_of(task, result, error)
                bar.update()
    finally:
        bar.close()
    return collect(scenario, runs, frames, steps=steps, replications=replications)


def _frames_of(task: RunTask, result: dict | None, error: BaseException | None) -> RunFrames:
    if error is not None:
        raise RuntimeError(f"the executor lost a run: {error!r}") from error
    if not result["ok"]:
        raise RuntimeError(f"a run failed:\n{result['error']}")
    return result["frames"]


def collect(scenario: Any, runs: list[PlannedRun], frames: dict[str, RunFrames], *,
            steps: int, replications: int) -> Results:
    """The runs' frames keyed by arm and replication, in table order, as `Results`."""
    parts = [keyed(frames[run.task.key], run.arm, run.replication)
             for run in sorted(runs, key=lambda r: r.run_id)]
    segments = [f.segments for f in parts if f.segments is not None]
    panels = [f.panel for f in parts if f.panel is not None]
    return Results(scenario, pd.concat([f.timeseries for f in parts], ignore_index=True),
                   steps=steps, replications=replications,
                   segments=pd.concat(segments, ignore_index=True) if segments else None,
                   panel=pd.concat(panels, ignore_index=True) if panels else None)


def run_one(arm: str, replication: int, params: MarketParams, steps: int,
            seed: np.random.SeedSequence, panel: bool = False) -> RunFrames:
    """One run in this process, as rows keyed by (arm, replication, ...)."""
    spawn_key = tuple(int(k) for k in seed.spawn_key)
    data = params.to_dict()
    task = RunTask(key=run_key(data, arm, int(seed.entropy), spawn_key, steps, 1.0, 0, "", ""),
                   params=data, steps=steps, seed_entropy=int(seed.entropy),
                   seed_spawn_key=spawn_key, window=1.0, panel=panel, frames=True)
    return keyed(_frames_of(task, execute(task), None), arm, replication)
