"""The steps a run is summarised by: the final window (the long run) and the early period.

Shared by `infogap run` (per replication) and sweeps (per run), so a run's summary
is the same number whichever path produced it.
"""

from __future__ import annotations

import math

import pandas as pd

from .metrics import METRICS


def window_steps(steps: int, window: float) -> int:
    """How many final steps the summary window covers."""
    return max(1, min(steps, math.ceil(window * steps - 1e-9)))


def window_means(df: pd.DataFrame, window: float, metrics=METRICS) -> pd.Series:
    """Mean of each metric over the final `window` fraction of steps (at least one step).

    NaN steps are skipped (a ratio has none when its denominator is zero: no price when
    nothing trades); a metric that is NaN on every step of the window stays NaN.
    `defined_steps` says how many steps each mean stands on.
    """
    return _final(df, window, metrics).mean(skipna=True)


def defined_steps(df: pd.DataFrame, window: float, metrics=METRICS) -> pd.Series:
    """How many steps of the final window each metric is defined on (not NaN)."""
    return _final(df, window, metrics).count()


def early_means(df: pd.DataFrame, early: float, metrics=METRICS) -> pd.Series:
    """Mean of each metric over the first `early` fraction of steps (at least one step):
    the transient, where short-term gains show before long-term costs."""
    return _first(df, early, metrics).mean(skipna=True)


def early_defined_steps(df: pd.DataFrame, early: float, metrics=METRICS) -> pd.Series:
    """How many steps of the early period each metric is defined on (not NaN)."""
    return _first(df, early, metrics).count()


def _final(df: pd.DataFrame, window: float, metrics) -> pd.DataFrame:
    columns = [m for m in metrics if m in df.columns]
    return df[columns].iloc[-window_steps(len(df), window):]


def _first(df: pd.DataFrame, early: float, metrics) -> pd.DataFrame:
    columns = [m for m in metrics if m in df.columns]
    return df[columns].iloc[:window_steps(len(df), early)]
