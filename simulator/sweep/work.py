"""One sweep run, as a worker executes it: parameters in, reduced data out.

A worker returns the run's window means (and, if asked, the metrics every
`series_every` steps), never the model or per-agent data, so what travels back
to the parent is a few hundred bytes per run. Exceptions are caught here and
returned with their traceback: a failing run is a result, not a crash.
"""

from __future__ import annotations

import importlib
import math
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

#: What a run calls: "module:function" taking (params, steps, seed) -> DataFrame of metrics.
DEFAULT_RUNNER = "simulator.model:run_market"


@dataclass(frozen=True)
class RunTask:
    key: str
    params: dict[str, Any]
    steps: int
    seed_entropy: int
    seed_spawn_key: tuple[int, ...]
    window: float
    series_every: int = 0
    runner: str = DEFAULT_RUNNER

    def seed(self) -> np.random.SeedSequence:
        """A fresh SeedSequence: the same streams whichever process runs the task."""
        return np.random.SeedSequence(self.seed_entropy, spawn_key=self.seed_spawn_key)


def execute(task: RunTask) -> dict[str, Any]:
    """Run one task; returns {"key", "ok", "summary", "series", "error", "elapsed"}."""
    start = time.perf_counter()
    try:
        summary, series = _run(task)
    except Exception:
        return {"key": task.key, "ok": False, "summary": None, "series": None,
                "error": traceback.format_exc(), "elapsed": time.perf_counter() - start}
    return {"key": task.key, "ok": True, "summary": summary, "series": series, "error": None,
            "elapsed": time.perf_counter() - start}


def _run(task: RunTask) -> tuple[dict[str, float], dict[str, list] | None]:
    from ..metrics import METRICS
    from ..params import MarketParams
    from ..runner import window_means

    module, _, name = task.runner.partition(":")
    run_market = getattr(importlib.import_module(module), name)
    df = run_market(MarketParams.from_dict(task.params), task.steps, task.seed())
    df = df.reindex(columns=list(METRICS)).astype(float)
    summary = {m: _plain(v) for m, v in window_means(df, task.window).items()}
    series = None
    if task.series_every:
        rows = df.iloc[task.series_every - 1::task.series_every]
        series = {"step": [int(s) for s in rows.index]}
        series.update({m: [_plain(v) for v in rows[m]] for m in METRICS})
    return summary, series


def _plain(value: Any) -> float | None:
    """A JSON-safe float: NaN (e.g. price when nothing traded) becomes None."""
    value = float(value)
    return None if math.isnan(value) else value
