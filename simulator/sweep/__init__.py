"""Parameter sweeps: experiment files, designs, executors, a crash-safe store and analysis.

Names are imported on first use, so a worker process that only needs
`simulator.sweep.work` does not pay for SciPy, SALib and the store.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Experiment": "experiment", "load_experiment": "experiment",
    "SweepOutcome": "run", "run_sweep": "run",
    "export_csv": "store", "load_failures": "store", "load_points": "store",
    "load_series": "store", "load_sweep": "store", "load_segments": "store",
    "load_panel": "store",
    "analyze_sweep": "analyze",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'simulator.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
