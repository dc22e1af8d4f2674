"""Design points: which factor values each run uses (grid, random, LHS, Sobol, Morris).

Samplers work in "design space" (a factor's range, or its log for scale =
"log"); SALib's own samplers are used for Sobol (Saltelli) and Morris, so the
analysis can hand the same matrix back to SALib. The design's random stream is
its own child of the experiment seed, independent of the runs' streams.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # experiment.py counts its runs here before anything is built
    from .experiment import Experiment, Factor

#: Tag mixed into the experiment seed for the design's random stream (runs use spawn children).
DESIGN_STREAM = 0x5EEDDE51


@dataclass(frozen=True)
class Design:
    """The design points in run order, and the design-space matrix SALib analyses."""

    names: tuple[str, ...]
    points: list[dict[str, Any]]     # factor key -> parameter value
    matrix: np.ndarray | None        # (points, factors) in design space; None for grids


def salib_problem(factors: tuple[Factor, ...]) -> dict[str, Any]:
    """The SALib problem dict: one variable per factor, bounded in design space."""
    return {"num_vars": len(factors), "names": [f.key for f in factors],
            "bounds": [list(f.design_bounds()) for f in factors]}


def count_points(design: str, factors: tuple[Factor, ...], samples: int | None,
                 second_order: bool) -> int:
    """How many design points a design makes, by arithmetic alone (nothing is built), so a
    sweep of 10^9 runs is refused before it takes any memory."""
    d = len(factors)
    match design:
        case "grid":
            return math.prod(f.level_count() for f in factors)
        case "random" | "lhs":
            return samples
        case "sobol":
            return samples * (2 * d + 2 if second_order else d + 2)
        case "morris":
            return samples * (d + 1)
    raise ValueError(design)


def expected_points(experiment: Experiment) -> int:
    """How many design points the experiment's design makes (before arms and replications)."""
    return count_points(experiment.design, experiment.factors, experiment.samples,
                        experiment.second_order)


def design_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([DESIGN_STREAM, seed]))


def build_design(experiment: Experiment) -> Design:
    factors = experiment.factors
    names = tuple(f.key for f in factors)
    if experiment.design == "grid":
        points = [dict(zip(names, combo, strict=True))
                  for combo in itertools.product(*(f.grid_values() for f in factors))]
        return Design(names, points, None)

    rng = design_rng(experiment.seed)
    d, n = len(factors), experiment.samples
    if experiment.design in ("random", "lhs"):
        if experiment.design == "random":   # scipy.stats takes 0.4 s to import: only for lhs
            unit = rng.random((n, d))
        else:
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=d, rng=rng).random(n)
        points = [{f.key: f.from_unit(u) for f, u in zip(factors, row, strict=True)}
                  for row in unit]
        lows = np.array([f.design_bounds()[0] if f.is_range else 0.0 for f in factors])
        spans = np.array([np.subtract(*f.design_bounds()[::-1]) if f.is_range else 1.0
                          for f in factors])
        return Design(names, points, lows + unit * spans)

    problem = salib_problem(factors)
    if experiment.design == "sobol":
        from SALib.sample import sobol
        matrix = sobol.sample(problem, n, calc_second_order=experiment.second_order,
                              scramble=True, seed=rng)
    else:
        from SALib.sample import morris
        matrix = morris.sample(problem, n, num_levels=experiment.levels, seed=rng)
    points = [{f.key: f.from_design(x) for f, x in zip(factors, row, strict=True)}
              for row in matrix]
    return Design(names, points, np.asarray(matrix, dtype=float))
