"""Uncertainty over replications: t confidence intervals and paired arm-vs-baseline tests.

Replications are the independent units: each contributes one number per metric
(its mean over the summary window), so intervals are over replications, never
over steps (steps within a run are autocorrelated). Arms share seeds per
replication (common random numbers), so arm differences are tested pairwise.
A t interval over a few replications can pass what a quantity can be (a price
below 0, a share above 1): `clip_interval` and `band(..., bounds=...)` cut it
to the possible range (`measures.bounds` gives a metric's).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

LEVEL = 0.95
#: Relative size below which two replications' values count as equal (summing the same
#: numbers in another order or count leaves differences of about 1e-16 of their size).
ROUNDING = 1e-12


def t_quantile(q, df):
    """Student-t quantile: what `scipy.stats.t.ppf` computes (the same ufunc, the same
    bits), without importing scipy.stats (about 1.5 s of every run's start). scipy.special
    itself (0.3 s) is imported at the first interval: a run of one replication has none."""
    from scipy.special import stdtrit

    return stdtrit(df, q)


def t_sf(x, df):
    """Student-t survival function, as `scipy.stats.t.sf` for finite x."""
    from scipy.special import stdtr

    return stdtr(df, -x)


class Interval(NamedTuple):
    mean: float
    ci_low: float
    ci_high: float
    n: int


class PairedDifference(NamedTuple):
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    effect_size: float
    n: int


def mean_ci(values, level: float = LEVEL) -> Interval:
    """Mean and Student-t interval of the non-NaN values (interval NaN when n < 2)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    half = _half_width(x, level)
    return Interval(mean, mean - half, mean + half, n)


def clip_interval(interval: Interval, bounds: tuple[float, float]) -> Interval:
    """The interval cut to [low, high] (NaN ends stay NaN)."""
    low, high = bounds
    return interval._replace(ci_low=_clip(interval.ci_low, low, high),
                             ci_high=_clip(interval.ci_high, low, high))


def _clip(x: float, low: float, high: float) -> float:
    return x if math.isnan(x) else min(max(x, low), high)


def paired_difference(treated, baseline, level: float = LEVEL) -> PairedDifference:
    """treated - baseline over replications where both are defined: paired t-test.

    `effect_size` is Cohen's d_z (mean difference / sd of differences). Pairs equal up
    to rounding (every difference within `ROUNDING` of the values' size, e.g. prices
    posted alike but averaged over different numbers of trades) differ by exactly 0:
    the t-test would read a "difference" out of the last bits. When every pair differs
    by the same amount (up to rounding) the sd is 0: p is 1 for a zero difference and 0
    otherwise, and d_z is 0 or +-inf accordingly.
    """
    a = np.asarray(treated, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    d = a[keep] - b[keep]
    n = int(d.size)
    if n == 0:
        return PairedDifference(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    size = max(float(np.max(np.abs(a[keep]))), float(np.max(np.abs(b[keep]))))
    if float(np.max(np.abs(d))) <= ROUNDING * size:
        d = np.zeros(n)
    diff = float(d.mean())
    if n < 2:
        return PairedDifference(diff, math.nan, math.nan, math.nan, math.nan, n)
    sd = float(d.std(ddof=1))
    half = _half_width(d, level)
    if sd <= 1e-12 * float(np.max(np.abs(d))):  # identical differences, up to rounding
        sd = 0.0
        half = 0.0
    if sd == 0.0:
        p, effect = (1.0, 0.0) if diff == 0.0 else (0.0, math.copysign(math.inf, diff))
    else:
        t = diff / (sd / math.sqrt(n))
        p = float(2.0 * t_sf(abs(t), n - 1))
        effect = diff / sd
    return PairedDifference(diff, diff - half, diff + half, p, effect, n)


def _half_width(x: np.ndarray, level: float) -> float:
    sem = float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(t_quantile(0.5 + level / 2.0, x.size - 1)) * sem


def band(values: np.ndarray, level: float = LEVEL,
         bounds: tuple[float, float] = (-math.inf, math.inf)
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean and t interval of a (replications x steps) array, NaN-aware.

    For plots: the mean line and CI band over time, the band cut to `bounds`.
    Columns with fewer than two values have no band (NaN).
    """
    x = np.asarray(values, dtype=float)
    n = np.sum(~np.isnan(x), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(x, axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(np.isnan(x), 0.0, x - mean) ** 2
        sd = np.sqrt(np.sum(dev, axis=0) / np.maximum(n - 1, 1))
        # (no quantile where no column has two values: then no scipy either)
        quantile = t_quantile(0.5 + level / 2.0, np.maximum(n - 1, 1)) if (n >= 2).any() else 0
        half = np.where(n >= 2, quantile * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    low, high = bounds
    return mean, np.clip(mean - half, low, high), np.clip(mean + half, low, high)
