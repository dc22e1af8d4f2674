"""What one run does, wherever it executes: parameters and a seed in, the run's data out.

Every run of `infogap run` and `infogap sweep` is a `RunTask` executed by
`execute`. A sweep's worker returns the run's window means (and, if asked,
the metrics every `series_every` steps, the per-segment window means, the
buyer panel), never the model, so what travels back is small; `infogap run`
asks for the whole frames (`frames=True`). Exceptions are caught here and
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

#: What a run calls: "module:function" taking (params, steps, seed) and returning a
#: `model.Simulation` (or just the DataFrame of metrics per step); with `panel` it is
#: also given `panel=True`.
DEFAULT_RUNNER = "simulator.model:simulate"


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
    panel: bool = False      # also record the buyer-period panel
    frames: bool = False     # return every step (infogap run), not the reduction (sweeps)

    def seed(self) -> np.random.SeedSequence:
        """A fresh SeedSequence: the same streams whichever process runs the task."""
        return np.random.SeedSequence(self.seed_entropy, spawn_key=self.seed_spawn_key)


def execute(task: RunTask) -> dict[str, Any]:
    """Run one task; returns {"key", "ok", "error", "elapsed"} plus, when ok, either
    "frames" (a `results.RunFrames`) or "summary", "series", "segments" and "panel"."""
    start = time.perf_counter()
    try:
        out = _run(task)
    except Exception:
        return {"key": task.key, "ok": False, "error": traceback.format_exc(),
                "elapsed": time.perf_counter() - start}
    return {"key": task.key, "ok": True, "error": None, **out,
            "elapsed": time.perf_counter() - start}


def warm_up() -> None:
    """What a worker does when it starts, while the parent still plans: import what a run
    needs and run a tiny market for two steps, which loads the compiled kernels from
    numba's cache; the first real run then starts at full speed. It changes no state a
    result depends on, and never raises: at worst the first run pays for it."""
    try:
        from ..compile_notice import announce_compiling
        from ..metrics import METRICS  # noqa: F401 - imported for what it loads
        from ..model import simulate as simulate_market
        from ..params import MarketParams
        from ..windows import window_means  # noqa: F401

        announce_compiling()   # forked workers inherit it, said or not
        simulate_market(MarketParams(buyers=8, sellers=4), 2, 0)
    except Exception:   # noqa: BLE001 - a warm-up that fails only costs time
        pass


def simulate(task: RunTask):
    """The run itself: (metrics per step, per segment or None, panel or None)."""
    from ..params import MarketParams

    module, _, name = task.runner.partition(":")
    run = getattr(importlib.import_module(module), name)
    options = {"panel": True} if task.panel else {}
    sim = run(MarketParams.from_dict(task.params), task.steps, task.seed(), **options)
    if hasattr(sim, "timeseries"):
        return sim.timeseries, sim.segments, sim.panel
    return sim, None, None


def _run(task: RunTask) -> dict[str, Any]:
    from ..metrics import METRICS
    from ..windows import window_means

    timeseries, segments, panel = simulate(task)
    df = timeseries.reindex(columns=list(METRICS)).astype(float)
    if task.frames:
        return {"frames": _frames(df, segments, panel)}
    summary = {m: _plain(v) for m, v in window_means(df, task.window).items()}
    series = None
    if task.series_every:
        rows = df.iloc[task.series_every - 1::task.series_every]
        series = {"step": [int(s) for s in rows.index]}
        series.update({m: [_plain(v) for v in rows[m]] for m in METRICS})
    return {"summary": summary, "series": series,
            "segments": None if segments is None else _segment_summary(segments, task.window),
            "panel": None if panel is None else panel.reset_index(drop=True)}


def _frames(df, segments, panel):
    """The frames `infogap run` keeps, with the column types its CSV files promise."""
    import pandas as pd

    from ..metrics import SEGMENT_METRICS
    from ..results import RunFrames

    df = df.copy()
    df.index = pd.RangeIndex(1, len(df) + 1, name="step")
    if segments is not None:
        segments = _typed_segments(segments, SEGMENT_METRICS).reset_index(drop=True)
    return RunFrames(df.reset_index(), segments,
                     None if panel is None else panel.reset_index(drop=True))


def _typed_segments(segments, metrics):
    seg = segments.reindex(columns=["step", "segment", *metrics])
    return seg.astype({"step": np.int64, **dict.fromkeys(metrics, float)})


def _segment_summary(segments, window: float) -> dict[str, dict[str, float | None]]:
    """Window means per buyer segment: {segment: {metric: value}}, in the market's order."""
    from ..metrics import SEGMENT_METRICS
    from ..windows import window_means

    seg = _typed_segments(segments, SEGMENT_METRICS)
    return {str(name): {m: _plain(v) for m, v in window_means(rows, window,
                                                              SEGMENT_METRICS).items()}
            for name, rows in seg.groupby("segment", sort=False)}


def _plain(value: Any) -> float | None:
    """A JSON-safe float: NaN (e.g. price when nothing traded) becomes None."""
    value = float(value)
    return None if math.isnan(value) else value
