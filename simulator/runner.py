"""Running a scenario: every arm x every replication, on one process or several.

Replication r of every arm gets the same seed (common random numbers), so the
difference between two arms in replication r comes from the arms, not from
luck. Each run depends only on (arm parameters, steps, seed), and results are
put back in (arm, replication) order, so the output is bit-identical whatever
the number of workers.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import model
from .errors import UserError
from .metrics import METRICS
from .params import MarketParams
from .stats import mean_ci, paired_difference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .scenario import Scenario

KEYS = ["arm", "replication", "step"]


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """One independent seed per replication, shared by all arms (common random numbers)."""
    return np.random.SeedSequence(seed).spawn(replications)


def window_means(df: pd.DataFrame, window: float) -> pd.Series:
    """Mean of each metric over the final `window` fraction of steps (at least one step).

    NaN steps are skipped (price has none when nothing trades); a metric that is
    NaN on every step of the window stays NaN.
    """
    columns = [m for m in METRICS if m in df.columns]
    tail = df[columns].iloc[-window_steps(len(df), window):]
    return tail.mean(skipna=True)


def window_steps(steps: int, window: float) -> int:
    """How many final steps the summary window covers."""
    return max(1, min(steps, math.ceil(window * steps - 1e-9)))


def _fresh(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """A copy that has spawned nothing yet, so no run can shift another run's streams."""
    return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                  pool_size=seed.pool_size)


def run_one(arm: str, replication: int, params: MarketParams, steps: int,
            seed: np.random.SeedSequence) -> pd.DataFrame:
    """One run, as rows keyed by (arm, replication, step). Top level so spawn workers find it."""
    df = model.run_market(params, steps, _fresh(seed))
    df = df.reindex(columns=list(METRICS)).astype(float)
    df.index = pd.RangeIndex(1, len(df) + 1, name="step")
    df = df.reset_index()
    df.insert(0, "replication", replication)
    df.insert(0, "arm", arm)
    return df


def run_scenario(scenario: Scenario, replications: int | None = None, steps: int | None = None,
                 workers: int = 1, progress: bool = True) -> Results:
    """Run every arm `replications` times for `steps` steps; see `Results`."""
    replications = scenario.replications if replications is None else int(replications)
    steps = scenario.steps if steps is None else int(steps)
    if replications < 1:
        raise UserError(f"replications: expected a whole number >= 1, found {replications}")
    if steps < 1:
        raise UserError(f"steps: expected a whole number >= 1, found {steps}")
    if workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {workers}")
    seeds = replication_seeds(scenario.seed, replications)
    tasks = [(arm, r, scenario.arms[arm], steps, seeds[r])
             for r in range(replications) for arm in scenario.arm_names]
    bar = tqdm(total=len(tasks), desc=scenario.name, unit="run", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty())
    try:
        if workers == 1 or len(tasks) == 1:
            frames = []
            for task in tasks:
                frames.append(run_one(*task))
                bar.update()
        else:
            frames = _run_parallel(tasks, min(workers, len(tasks)), bar)
    finally:
        bar.close()
    order = {arm: i for i, arm in enumerate(scenario.arm_names)}
    frames.sort(key=lambda f: (order[f["arm"].iat[0]], int(f["replication"].iat[0])))
    timeseries = pd.concat(frames, ignore_index=True)
    return Results(scenario, timeseries, steps=steps, replications=replications)


def _run_parallel(tasks: list[tuple], workers: int, bar: tqdm) -> list[pd.DataFrame]:
    # spawn, not fork: the parent may hold threads (dask, solara), and fork + threads
    # deadlocks; a local context leaves the global start method alone.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    frames = []
    try:
        with _workers_ignore_interrupts():  # workers start while the tasks are submitted
            pending = {pool.submit(run_one, *task) for task in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                frames.append(future.result())
                bar.update()
    except BaseException:
        # Interrupted or failed: the other runs' results would be thrown away, so stop them
        # now rather than after they finish (Python < 3.14 has no public terminate_workers).
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown()
    return frames


@contextmanager
def _workers_ignore_interrupts():
    """Processes started inside inherit an ignored SIGINT, so Ctrl-C reaches only the parent,
    which cancels the pool: no traceback from every worker, even one still importing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Results:
    """The runs of a scenario and their summaries.

    - `timeseries`: one row per (arm, replication, step), one column per metric;
    - `replication_means`: one row per (arm, replication): window means;
    - `summary`: per arm and metric, mean over replications with a 95% CI;
    - `comparison`: per non-baseline arm and metric, paired difference to the baseline.
    """

    def __init__(self, scenario: Scenario, timeseries: pd.DataFrame, *, steps: int,
                 replications: int):
        self.scenario = scenario
        self.timeseries = timeseries
        self.steps = steps
        self.replications = replications
        self.arm_names = list(scenario.arm_names)
        self.baseline = scenario.baseline
        self.window = scenario.window
        self.replication_means = self._replication_means()
        self.summary = self._summary()
        self.comparison = self._comparison()

    def _replication_means(self) -> pd.DataFrame:
        rows = []
        for (arm, rep), run in self.timeseries.groupby(["arm", "replication"], sort=False):
            rows.append({"arm": arm, "replication": rep, **window_means(run, self.window)})
        return pd.DataFrame(rows, columns=["arm", "replication", *METRICS])

    def _values(self, arm: str, metric: str) -> np.ndarray:
        means = self.replication_means
        return means.loc[means["arm"] == arm, metric].to_numpy(dtype=float)

    def _summary(self) -> pd.DataFrame:
        rows = [{"arm": arm, "metric": metric, **mean_ci(self._values(arm, metric))._asdict()}
                for arm in self.arm_names for metric in METRICS]
        return pd.DataFrame(rows, columns=["arm", "metric", "mean", "ci_low", "ci_high", "n"])

    def _comparison(self) -> pd.DataFrame:
        rows = []
        for arm in self.arm_names:
            if arm == self.baseline:
                continue
            for metric in METRICS:
                d = paired_difference(self._values(arm, metric),
                                      self._values(self.baseline, metric))
                rows.append({"arm": arm, "metric": metric, **d._asdict()})
        columns = ["arm", "metric", "diff", "ci_low", "ci_high", "p_value", "effect_size"]
        return pd.DataFrame(rows, columns=[*columns, "n"])[columns]

    def plot(self, metrics=None) -> Figure:
        """Mean line and 95% band over time per arm, one panel per metric (headline four
        by default)."""
        from .report import plot_metrics

        return plot_metrics(self, metrics)

    def write(self, directory) -> None:
        """Write CSVs, plots and report.md to `directory`, atomically."""
        from .report import write_results

        write_results(self, directory)

    def __repr__(self) -> str:
        return (f"Results({self.scenario.name!r}, arms={self.arm_names}, "
                f"replications={self.replications}, steps={self.steps})")
