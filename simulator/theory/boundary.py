"""Theoretical phase boundaries on a sweep's heatmap (a pair of swept market keys).

Over a fine grid of the two keys, the equilibrium theory predicts for the
arm (catalogue.arm_theory, quick) is classified (no trade, partial, pooling,
separating, ...); lines are drawn where the class changes, and each region is
named. For buyers who are not risk-neutral the risk-neutral boundary is drawn
too (dotted), the one closed forms such as L = (2 - k) / k describe.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..params import MarketParams
from .akerlof import with_value
from .catalogue import arm_theory

#: Classes ordered from the least to the most trade, so boundaries are level lines.
ORDER = ("none", "no_trade", "lemons_only", "partial", "pooling", "separating",
         "full_disclosure", "full_information")
POINTS = 33


def regime(params: MarketParams) -> str:
    found = arm_theory("", params, quick=True).prediction()
    return "none" if found is None else found.equilibrium.removesuffix("_unstable")


def regimes(params: MarketParams, xkey: str, ykey: str, xs, ys) -> np.ndarray:
    """The predicted class at every (y, x) of the grid (keys without `market.`)."""
    key = (repr(params), xkey, ykey, tuple(xs), tuple(ys))
    if key in _SOLVED:
        return _SOLVED[key]
    out = np.empty((len(ys), len(xs)), dtype=object)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            point = with_value(with_value(params, xkey, _typed(params, xkey, x)), ykey,
                               _typed(params, ykey, y))
            out[i, j] = regime(point)
    _SOLVED[key] = out
    return out


#: Solved grids (a heatmap is drawn once per metric, with the same boundary).
_SOLVED: dict[tuple, np.ndarray] = {}


def base_params(info: dict, arm: str) -> MarketParams | None:
    """The arm's market of a stored sweep (scenario plus [fixed]); None if the scenario file
    cannot be read any more."""
    from ..errors import UserError
    from ..scenario import Scenario

    try:
        scenario = Scenario.load(info["scenario_file"], dict(info.get("fixed") or {}))
    except (UserError, OSError, KeyError):
        return None
    return scenario.arms.get(arm)


def _typed(params: MarketParams, key: str, value: float):
    node = params
    for part in key.split("."):
        node = getattr(node, part)
    return int(round(value)) if isinstance(node, int) and not isinstance(node, bool) else value


def draw(ax, params: MarketParams, xkey: str, ykey: str, x_levels, y_levels,
         points: int = POINTS) -> list[str]:
    """Draw the boundary on a heatmap whose cells sit at positions 0..n-1 for the sorted
    level values; returns the classes found (nothing drawn when there is one or none)."""
    xkey, ykey = xkey.removeprefix("market."), ykey.removeprefix("market.")
    try:
        xl = np.asarray(x_levels, dtype=float)
        yl = np.asarray(y_levels, dtype=float)
    except (TypeError, ValueError):
        return []
    if len(xl) < 2 or len(yl) < 2:
        return []
    xs, ys = np.linspace(xl.min(), xl.max(), points), np.linspace(yl.min(), yl.max(), points)
    px, py = np.interp(xs, xl, np.arange(len(xl))), np.interp(ys, yl, np.arange(len(yl)))
    found = _contour(ax, regimes(params, xkey, ykey, xs, ys), px, py, "--", 1.8, label=True)
    if len(found) > 1 and not {xkey, ykey} & _prospect_keys():
        neutral = dataclasses.replace(params, prospect=dataclasses.replace(
            params.prospect, alpha=1.0, beta=1.0, lam=1.0, gamma_gain=1.0, gamma_loss=1.0))
        if neutral.prospect != params.prospect and not params.segments:
            _contour(ax, regimes(neutral, xkey, ykey, xs, ys), px, py, ":", 1.4, label=False)
    return found


def _prospect_keys() -> set[str]:
    return {f"prospect.{f.name}" for f in dataclasses.fields(MarketParams().prospect)}


def _contour(ax, classes: np.ndarray, px, py, style: str, width: float,
             label: bool) -> list[str]:
    names = [c for c in ORDER if (classes == c).any()]
    if len(names) < 2:
        return names
    code = np.vectorize(lambda c: ORDER.index(c))(classes).astype(float)
    present = sorted({ORDER.index(n) for n in names})
    levels = [(a + b) / 2 for a, b in zip(present[:-1], present[1:], strict=True)]
    ax.contour(px, py, code, levels=levels, colors="white", linestyles=style,
               linewidths=width)
    if label:
        import matplotlib.patheffects as effects

        for name in names:
            rows, cols = np.nonzero(classes == name)
            ax.text(float(np.mean(px[cols])), float(np.mean(py[rows])),
                    f"theory: {name.replace('_', ' ')}", ha="center", va="center",
                    fontsize=7, color="white",
                    path_effects=[effects.withStroke(linewidth=2, foreground="black")])
    return names
