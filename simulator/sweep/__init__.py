"""Parameter sweeps: experiment files, designs, executors, a crash-safe store and analysis."""

from .experiment import Experiment, load_experiment
from .run import SweepOutcome, run_sweep
from .store import export_csv, load_failures, load_points, load_series, load_sweep

__all__ = ["Experiment", "SweepOutcome", "export_csv", "load_experiment", "load_failures",
           "load_points", "load_series", "load_sweep", "run_sweep"]
