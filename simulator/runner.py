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
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import model
from .errors import UserError
from .metrics import METRICS, SEGMENT_METRICS
from .params import MarketParams
from .stats import mean_ci, paired_difference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .scenario import Scenario

KEYS = ["arm", "replication", "step"]

#: The segment label of whole-market rows in summaries.
ALL = "all"

#: Columns of the buyer-period panel (`--panel`), in file order.
PANEL_COLUMNS = ["buyer", "arm", "replication", "step", "segment", "trust", "tenure",
                 "last_gap", "losses_seen", "idle", "price_paid", "switched", "left_next"]


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """One independent seed per replication, shared by all arms (common random numbers)."""
    return np.random.SeedSequence(seed).spawn(replications)


def window_means(df: pd.DataFrame, window: float, metrics=METRICS) -> pd.Series:
    """Mean of each metric over the final `window` fraction of steps (at least one step).

    NaN steps are skipped (price has none when nothing trades); a metric that is
    NaN on every step of the window stays NaN.
    """
    columns = [m for m in metrics if m in df.columns]
    tail = df[columns].iloc[-window_steps(len(df), window):]
    return tail.mean(skipna=True)


def early_means(df: pd.DataFrame, early: float, metrics=METRICS) -> pd.Series:
    """Mean of each metric over the first `early` fraction of steps (at least one step):
    the transient, where short-term gains show before long-term costs."""
    columns = [m for m in metrics if m in df.columns]
    return df[columns].iloc[:window_steps(len(df), early)].mean(skipna=True)


def window_steps(steps: int, window: float) -> int:
    """How many final steps the summary window covers."""
    return max(1, min(steps, math.ceil(window * steps - 1e-9)))


def _fresh(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """A copy that has spawned nothing yet, so no run can shift another run's streams."""
    return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                  pool_size=seed.pool_size)


class RunFrames(NamedTuple):
    """What one run contributes: market metrics per step, per segment (None without
    segments) and the buyer-period panel (None unless asked for)."""

    timeseries: pd.DataFrame
    segments: pd.DataFrame | None
    panel: pd.DataFrame | None


def run_one(arm: str, replication: int, params: MarketParams, steps: int,
            seed: np.random.SeedSequence, panel: bool = False) -> RunFrames:
    """One run, as rows keyed by (arm, replication, ...). Top level so spawn workers find it."""
    sim = model.simulate(params, steps, _fresh(seed), panel=panel)
    df = sim.timeseries.reindex(columns=list(METRICS)).astype(float)
    df.index = pd.RangeIndex(1, len(df) + 1, name="step")
    df = _keyed(df.reset_index(), arm, replication)
    segments = None
    if sim.segments is not None:
        seg = sim.segments.reindex(columns=["step", "segment", *SEGMENT_METRICS])
        seg = seg.astype({"step": np.int64, **dict.fromkeys(SEGMENT_METRICS, float)})
        segments = _keyed(seg.reset_index(drop=True), arm, replication)
    buyers = None
    if panel:
        buyers = _keyed(sim.panel.reset_index(drop=True), arm, replication)
        buyers = buyers.reindex(columns=PANEL_COLUMNS).astype(
            {"buyer": np.int64, "step": np.int64, "tenure": np.int64, "losses_seen": np.int64,
             "idle": np.int64,
             "trust": float, "last_gap": float, "price_paid": float, "switched": bool,
             "left_next": bool, "segment": str})
    return RunFrames(df, segments, buyers)


def _keyed(df: pd.DataFrame, arm: str, replication: int) -> pd.DataFrame:
    df.insert(0, "replication", replication)
    df.insert(0, "arm", arm)
    return df


def run_scenario(scenario: Scenario, replications: int | None = None, steps: int | None = None,
                 workers: int = 1, progress: bool = True, panel: bool = False) -> Results:
    """Run every arm `replications` times for `steps` steps; see `Results`.

    With `panel`, every run also records its buyer-period panel (`Results.panel`).
    """
    replications = scenario.replications if replications is None else int(replications)
    steps = scenario.steps if steps is None else int(steps)
    if replications < 1:
        raise UserError(f"replications: expected a whole number >= 1, found {replications}")
    if steps < 1:
        raise UserError(f"steps: expected a whole number >= 1, found {steps}")
    if workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {workers}")
    seeds = replication_seeds(scenario.seed, replications)
    tasks = [(arm, r, scenario.arms[arm], steps, seeds[r], panel)
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
    frames.sort(key=lambda f: (order[f.timeseries["arm"].iat[0]],
                               int(f.timeseries["replication"].iat[0])))
    timeseries = pd.concat([f.timeseries for f in frames], ignore_index=True)
    segments = [f.segments for f in frames if f.segments is not None]
    buyers = [f.panel for f in frames if f.panel is not None]
    return Results(scenario, timeseries, steps=steps, replications=replications,
                   segments=pd.concat(segments, ignore_index=True) if segments else None,
                   panel=pd.concat(buyers, ignore_index=True) if panel else None)


def _run_parallel(tasks: list[tuple], workers: int, bar: tqdm) -> list[RunFrames]:
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
    - `segment_timeseries`: with buyer segments, one row per (arm, replication, step,
      segment), one column per `SEGMENT_METRICS`; None when no arm has segments;
    - `panel`: the buyer-period panel (`PANEL_COLUMNS`) when run with `panel=True`, else None;
    - `replication_means`: one row per (arm, replication): window means;
    - `summary`: per arm, segment (`all` = the whole market) and metric, mean over
      replications with a 95% CI;
    - `comparison`: per non-baseline arm, segment and metric, paired difference to the
      baseline;
    - `early_summary`, `early_comparison`: the same over the first `early` fraction of steps
      (None when the scenario sets no early period).
    """

    def __init__(self, scenario: Scenario, timeseries: pd.DataFrame, *, steps: int,
                 replications: int, segments: pd.DataFrame | None = None,
                 panel: pd.DataFrame | None = None):
        self.scenario = scenario
        self.timeseries = timeseries
        self.segment_timeseries = segments
        self.panel = panel
        self.steps = steps
        self.replications = replications
        self.arm_names = list(scenario.arm_names)
        self.baseline = scenario.baseline
        self.window = scenario.window
        self.early = float(getattr(scenario, "early", 0.0) or 0.0)
        self.replication_means = self._replication_means()
        late = self._per_replication(lambda df, metrics: window_means(df, self.window, metrics))
        self.summary = self._summary(late)
        self.comparison = self._comparison(late)
        self.early_summary = self.early_comparison = None
        if self.early > 0:
            early = self._per_replication(lambda df, metrics: early_means(df, self.early,
                                                                          metrics))
            self.early_summary = self._summary(early)
            self.early_comparison = self._comparison(early)

    @property
    def segment_names(self) -> dict[str, list[str]]:
        """Each arm's buyer segments, in the order the scenario declares them."""
        return {arm: list(self.scenario.arms[arm].segments) for arm in self.arm_names}

    def _replication_means(self) -> pd.DataFrame:
        rows = []
        for (arm, rep), run in self.timeseries.groupby(["arm", "replication"], sort=False):
            rows.append({"arm": arm, "replication": rep, **window_means(run, self.window)})
        return pd.DataFrame(rows, columns=["arm", "replication", *METRICS])

    def _per_replication(self, reduce) -> dict[tuple[str, str, str], np.ndarray]:
        """(arm, segment, metric) -> one value per replication, in replication order."""
        values: dict[tuple[str, str, str], list[float]] = {}
        for (arm, _), run in self.timeseries.groupby(["arm", "replication"], sort=False):
            for metric, v in reduce(run, METRICS).items():
                values.setdefault((arm, ALL, metric), []).append(float(v))
        if self.segment_timeseries is not None:
            runs = self.segment_timeseries.groupby(["arm", "replication", "segment"],
                                                   sort=False)
            for (arm, _, segment), run in runs:
                for metric, v in reduce(run, SEGMENT_METRICS).items():
                    values.setdefault((arm, segment, metric), []).append(float(v))
        return {key: np.asarray(v, dtype=float) for key, v in values.items()}

    def _keys(self, values: dict, arm: str) -> list[tuple[str, str, str]]:
        """The arm's keys: the whole market first, then its segments in declared order."""
        order = {segment: i for i, segment in enumerate([ALL, *self.segment_names[arm]])}
        mine = [key for key in values if key[0] == arm]
        return sorted(mine, key=lambda k: order.get(k[1], len(order)))  # stable: metric order

    def _summary(self, values: dict) -> pd.DataFrame:
        rows = [{"arm": arm, "segment": segment, "metric": metric,
                 **mean_ci(values[(arm, segment, metric)])._asdict()}
                for arm in self.arm_names for _, segment, metric in self._keys(values, arm)]
        return pd.DataFrame(rows, columns=["arm", "segment", "metric", "mean", "ci_low",
                                           "ci_high", "n"])

    def _comparison(self, values: dict) -> pd.DataFrame:
        rows = []
        for arm in self.arm_names:
            if arm == self.baseline:
                continue
            for _, segment, metric in self._keys(values, arm):
                base = values.get((self.baseline, segment, metric))
                if base is None:  # a segment the baseline does not have
                    continue
                d = paired_difference(values[(arm, segment, metric)], base)
                rows.append({"arm": arm, "segment": segment, "metric": metric, **d._asdict()})
        columns = ["arm", "segment", "metric", "diff", "ci_low", "ci_high", "p_value",
                   "effect_size"]
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
