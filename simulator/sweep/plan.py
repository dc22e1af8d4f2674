"""The runs of an experiment: design point x arm x replication, each with its seed and key.

Replication r uses `runner.replication_seeds(seed, R)[r]` for every point and
arm (common random numbers), the same seed `infogap run` gives replication r
of the scenario. A run's key hashes everything its result depends on (full
market parameters, arm, seed, steps, window, series period, runner, model
version), so a stored result is reused only when it would come out the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ..params import ParamError
from .design import Design
from .experiment import Experiment
from .work import DEFAULT_RUNNER, RunTask


@dataclass(frozen=True)
class PlannedRun:
    run_id: int
    point: int
    arm: str
    replication: int
    task: RunTask


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """`simulator.runner.replication_seeds`, restated so the parent need not import the
    model (a test keeps the two equal)."""
    return np.random.SeedSequence(seed).spawn(replications)


def model_version() -> str:
    """`simulator.__version__`, else the installed package's version."""
    import simulator

    version = getattr(simulator, "__version__", None)
    if version:
        return str(version)
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("infogap")
    except PackageNotFoundError:
        return "unknown"


def run_key(params: dict[str, Any], arm: str, entropy: int, spawn_key: tuple[int, ...],
            steps: int, window: float, series_every: int, runner: str, version: str) -> str:
    blob = json.dumps({"params": params, "arm": arm, "seed": [entropy, list(spawn_key)],
                       "steps": steps, "window": window, "series_every": series_every,
                       "runner": runner, "version": version},
                      sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def point_params(experiment: Experiment, index: int, values: dict[str, Any]
                 ) -> dict[str, dict[str, Any]]:
    """Full market parameters per experiment arm at one design point.

    Setting the factors on each arm's merged parameters is the same as overriding the base
    market before the arms apply, because the experiment refuses arms that set a factor key.
    """
    changes = {key.removeprefix("market."): value for key, value in values.items()}
    out = {}
    for arm in experiment.arms:
        try:
            out[arm] = experiment.scenario.arms[arm].replace(**changes).to_dict()
        except ParamError as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise UserError(f"{experiment.path}: design point {index} ({shown}) is not a valid "
                            f"market for arm '{arm}': {exc}") from None
    return out


def plan_runs(experiment: Experiment, design: Design, runner: str = DEFAULT_RUNNER
              ) -> Iterator[PlannedRun]:
    """Every run in table order (point, arm, replication), built lazily."""
    seeds = replication_seeds(experiment.seed, experiment.replications)
    version = model_version()
    run_id = 0
    for index, values in enumerate(design.points):
        for arm, params in point_params(experiment, index, values).items():
            for rep, seed in enumerate(seeds):
                spawn_key = tuple(int(k) for k in seed.spawn_key)
                key = run_key(params, arm, int(seed.entropy), spawn_key, experiment.steps,
                              experiment.window, experiment.series_every, runner, version)
                task = RunTask(key=key, params=params, steps=experiment.steps,
                               seed_entropy=int(seed.entropy), seed_spawn_key=spawn_key,
                               window=experiment.window, series_every=experiment.series_every,
                               runner=runner)
                yield PlannedRun(run_id, index, arm, rep, task)
                run_id += 1
