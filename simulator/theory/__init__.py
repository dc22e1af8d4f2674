"""Economic theory beside the simulation: the static benchmarks of each arm's market.

`table(scenario)` gives every benchmark of every arm as rows (arm, benchmark,
equilibrium, metric, value), the content of theory.csv; `predictions` picks
the level each arm's simulation should approach, which `overlay` draws as a
dashed line on a metric's plot. One module per result: first_best, akerlof,
disclosure (Grossman-Milgrom), certification (Spence), cpt (certainty
equivalents); catalogue decides which apply to an arm; boundary draws phase
boundaries for sweeps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .catalogue import arm_theory
from .outcome import ArmTheory, Outcome, Threshold

if TYPE_CHECKING:
    import pandas as pd

    from ..scenario import Scenario

__all__ = ["ArmTheory", "Outcome", "Threshold", "arm_theory", "theories", "table", "rows",
           "predictions", "overlay", "COLUMNS"]

COLUMNS = ["arm", "benchmark", "equilibrium", "metric", "value"]


def theories(scenario: Scenario, arms: list[str] | None = None) -> list[ArmTheory]:
    return [arm_theory(arm, scenario.arms[arm]) for arm in (arms or scenario.arm_names)]


def rows(theory: ArmTheory) -> list[tuple]:
    """One arm's theory.csv rows. Each equilibrium also has a row `reached` (1: the one a
    price process from buyers' prior reaches; 0: another equilibrium); thresholds name the
    parameter key in `metric`; an arm without its own benchmark has a `none` row."""
    out = []
    for o in theory.outcomes:
        for metric, value in o.metrics.items():
            out.append((theory.arm, o.benchmark, o.equilibrium, metric, float(value)))
        out.append((theory.arm, o.benchmark, o.equilibrium, "reached", float(o.reached)))
    for t in theory.thresholds:
        out.append((theory.arm, "threshold", f"{t.benchmark}:{t.name}", t.key, float(t.value)))
    for benchmark, name, metric, value in theory.facts:
        out.append((theory.arm, benchmark, name, metric, float(value)))
    if theory.prediction() is None:
        out.append((theory.arm, "none", "no_benchmark", "reached", math.nan))
    return out


def table(scenario: Scenario, arms: list[str] | None = None) -> pd.DataFrame:
    """theory.csv as a DataFrame: every benchmark of every arm."""
    import pandas as pd

    return pd.DataFrame([r for t in theories(scenario, arms) for r in rows(t)], columns=COLUMNS)


def predictions(frame: pd.DataFrame) -> dict[str, tuple[str, dict[str, float]]]:
    """For each arm with a benchmark: (label, metric -> value) of the reached equilibrium of
    its own benchmark (not the first best)."""
    out: dict[str, tuple[str, dict[str, float]]] = {}
    if frame is None or frame.empty:
        return out
    reached = frame[(frame["metric"] == "reached") & (frame["value"] == 1.0)
                    & (frame["benchmark"] != "first_best")]
    for arm, benchmark, equilibrium in reached[["arm", "benchmark", "equilibrium"]].itertuples(
            index=False):
        if arm in out:
            continue
        part = frame[(frame["arm"] == arm) & (frame["benchmark"] == benchmark)
                     & (frame["equilibrium"] == equilibrium) & (frame["metric"] != "reached")]
        label = benchmark if benchmark == equilibrium else f"{benchmark}, {equilibrium}"
        out[arm] = (label.replace("_", " "),
                    dict(zip(part["metric"], part["value"], strict=True)))
    return out


def overlay(ax, frame: pd.DataFrame, arm: str, metric: str, color, label: bool = True) -> bool:
    """Draw the arm's predicted level of `metric` as a dashed line labelled on the right;
    False when theory has no value for it."""
    found = predictions(frame).get(arm)
    if found is None or metric not in found[1] or not math.isfinite(found[1][metric]):
        return False
    name, values = found
    # A collection across the axes (not a Line2D: the plot's lines stay the simulated ones).
    ax.hlines(values[metric], 0, 1, transform=ax.get_yaxis_transform(), colors=[color],
              linestyles="--", lw=1.1, alpha=0.9, zorder=3)
    low, high = ax.dataLim.intervaly
    ax.update_datalim([(ax.dataLim.x0, min(low, values[metric])),
                       (ax.dataLim.x0, max(high, values[metric]))], updatex=False)
    if label:
        ax.annotate(f"theory: {name}", xy=(1.0, values[metric]),
                    xycoords=("axes fraction", "data"), xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=6.5,
                    color=color)
    return True
