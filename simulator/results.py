"""What a scenario run produced: every run's frames, and their summaries across replications.

Built by the collector of `infogap run` from the runs' frames (see `runner`);
`report` turns it into files. It knows nothing about how or where runs execute.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .metrics import METRICS, SEGMENT_METRICS
from .stats import mean_ci, paired_difference
from .windows import defined_steps, early_defined_steps, early_means, window_means, window_steps

#: The segment label of whole-market rows in summaries.
ALL = "all"

#: Columns of the buyer-period panel (`--panel`), in file order.
PANEL_COLUMNS = ["buyer", "arm", "replication", "step", "segment", "trust", "tenure",
                 "last_gap", "losses_seen", "idle", "price_paid", "switched", "left_next"]

_PANEL_TYPES = {"buyer": np.int64, "step": np.int64, "tenure": np.int64,
                "losses_seen": np.int64, "idle": np.int64, "trust": float, "last_gap": float,
                "price_paid": float, "switched": bool, "left_next": bool, "segment": str}


class RunFrames(NamedTuple):
    """What one run contributes: market metrics per step, per segment (None without
    segments) and the buyer-period panel (None unless asked for)."""

    timeseries: pd.DataFrame
    segments: pd.DataFrame | None
    panel: pd.DataFrame | None


def keyed(frames: RunFrames, arm: str, replication: int) -> RunFrames:
    """A run's frames with its `arm` and `replication` as leading key columns."""
    def key(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df.insert(0, "replication", replication)
        df.insert(0, "arm", arm)
        return df

    panel = None
    if frames.panel is not None:
        panel = key(frames.panel).reindex(columns=PANEL_COLUMNS).astype(_PANEL_TYPES)
    return RunFrames(key(frames.timeseries),
                     None if frames.segments is None else key(frames.segments), panel)


class Results:
    """The runs of a scenario (a `scenario.Scenario`) and their summaries.

    - `timeseries`: one row per (arm, replication, step), one column per metric;
    - `segment_timeseries`: with buyer segments, one row per (arm, replication, step,
      segment), one column per `SEGMENT_METRICS`; None when no arm has segments;
    - `panel`: the buyer-period panel (`PANEL_COLUMNS`) when run with `panel=True`, else None;
    - `replication_means`: one row per (arm, replication): window means;
    - `summary`: per arm, segment (`all` = the whole market) and metric, mean over
      replications with a 95% CI, `n` replications with a value, and `steps`: the mean
      number of window steps the metric is defined on;
    - `comparison`: per non-baseline arm, segment and metric, paired difference to the
      baseline;
    - `early_summary`, `early_comparison`: the same over the first `early` fraction of steps
      (None when the scenario sets no early period).
    """

    def __init__(self, scenario: Any, timeseries: pd.DataFrame, *, steps: int,
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
        #: Steps in each replication's summary window (and early period).
        self.window_steps = window_steps(steps, self.window)
        self.early_steps = window_steps(steps, self.early) if self.early > 0 else 0
        late = self._per_replication(lambda df, metrics: window_means(df, self.window, metrics))
        counts = self._per_replication(lambda df, metrics: defined_steps(df, self.window,
                                                                         metrics))
        self.summary = self._summary(late, counts)
        self.comparison = self._comparison(late)
        self.early_summary = self.early_comparison = None
        if self.early > 0:
            early = self._per_replication(lambda df, metrics: early_means(df, self.early,
                                                                          metrics))
            counts = self._per_replication(
                lambda df, metrics: early_defined_steps(df, self.early, metrics))
            self.early_summary = self._summary(early, counts)
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

    def _summary(self, values: dict, counts: dict) -> pd.DataFrame:
        """`steps`: the mean number of steps per replication the metric is defined on (a
        ratio is not defined on a step with a zero denominator, e.g. price without trade)."""
        rows = [{"arm": arm, "segment": segment, "metric": metric,
                 **mean_ci(values[(arm, segment, metric)])._asdict(),
                 "steps": float(np.mean(counts[(arm, segment, metric)]))}
                for arm in self.arm_names for _, segment, metric in self._keys(values, arm)]
        return pd.DataFrame(rows, columns=["arm", "segment", "metric", "mean", "ci_low",
                                           "ci_high", "n", "steps"])

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

    def __repr__(self) -> str:
        return (f"Results({self.scenario.name!r}, arms={self.arm_names}, "
                f"replications={self.replications}, steps={self.steps})")
