"""The runs to do: design point x arm x replication, each with its seed and key.

Both `infogap sweep` (an experiment's design points) and `infogap run` (one
point: the scenario itself) are planned here. Replication r of every point and
arm uses `replication_seeds(seed, R)[r]` (common random numbers). A run's key
hashes everything its result depends on (full market parameters, arm, seed,
steps, window, series period, runner, outputs, model version), so a stored
result is reused only when it would come out the same, and two identical runs
are done once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ..params import ParamError
from .work import DEFAULT_RUNNER, RunTask


@dataclass(frozen=True)
class PlannedRun:
    run_id: int
    point: int
    arm: str
    replication: int
    task: RunTask


@dataclass(frozen=True)
class RunSettings:
    """What every run of a plan shares."""

    steps: int
    window: float
    series_every: int = 0
    runner: str = DEFAULT_RUNNER
    panel: bool = False
    frames: bool = False


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """One independent seed per replication, shared by all arms (common random numbers)."""
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
            steps: int, window: float, series_every: int, runner: str, version: str,
            panel: bool = False) -> str:
    fields = {"params": params, "arm": arm, "seed": [entropy, list(spawn_key)],
              "steps": steps, "window": window, "series_every": series_every,
              "runner": runner, "version": version}
    if panel:   # only when set, so the keys of summary-only runs stay as they were
        fields["panel"] = True
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def plan(points: Iterable[tuple[int, dict[str, dict[str, Any]]]], seed: int,
         replications: int, settings: RunSettings) -> Iterator[PlannedRun]:
    """Every run in table order (point, arm, replication), built lazily; `points` yields
    (point, {arm: full market parameters})."""
    seeds = replication_seeds(seed, replications)
    version = model_version()
    run_id = 0
    for index, arms in points:
        for arm, params in arms.items():
            for rep, rep_seed in enumerate(seeds):
                spawn_key = tuple(int(k) for k in rep_seed.spawn_key)
                key = run_key(params, arm, int(rep_seed.entropy), spawn_key, settings.steps,
                              settings.window, settings.series_every, settings.runner,
                              version, settings.panel)
                task = RunTask(key=key, params=params, steps=settings.steps,
                               seed_entropy=int(rep_seed.entropy), seed_spawn_key=spawn_key,
                               window=settings.window, series_every=settings.series_every,
                               runner=settings.runner, panel=settings.panel,
                               frames=settings.frames)
                yield PlannedRun(run_id, index, arm, rep, task)
                run_id += 1


def point_params(experiment: Any, index: int, values: dict[str, Any]
                 ) -> dict[str, dict[str, Any]]:
    """Full market parameters per arm of an `experiment.Experiment` at one design point.

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


def plan_runs(experiment: Any, design: Any, runner: str = DEFAULT_RUNNER, panel: bool = False
              ) -> Iterator[PlannedRun]:
    """Every run of an experiment (and its `design.Design`) in table order."""
    points = ((i, point_params(experiment, i, values)) for i, values in enumerate(design.points))
    settings = RunSettings(experiment.steps, experiment.window, experiment.series_every,
                           runner, panel)
    return plan(points, experiment.seed, experiment.replications, settings)


def plan_scenario(scenario: Any, replications: int, steps: int, panel: bool = False
                  ) -> list[PlannedRun]:
    """Every run of a `scenario.Scenario`: one point, every arm, whole frames back."""
    arms = {arm: scenario.arms[arm].to_dict() for arm in scenario.arm_names}
    settings = RunSettings(steps, scenario.window, panel=panel, frames=True)
    return list(plan([(0, arms)], scenario.seed, replications, settings))
