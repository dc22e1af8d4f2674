"""Theory beside a run's results: theory.csv, the dashed levels and the report's table.

Small hooks for `simulator.report`: `frame(results)` (solved once per Results),
`overlay_metric(ax, results, metric, arm, color)` and `section(results)`.
"""

from __future__ import annotations

import math

from . import overlay, predictions, table

#: Metrics compared in report.md when theory gives them.
COMPARED = ("price", "volume", "quality_traded", "efficiency", "disclosure_rate",
            "certified_share")


def frame(results):
    """Every benchmark of every arm of the run (cached on the results)."""
    cached = getattr(results, "_theory_frame", None)
    if cached is None:
        cached = table(results.scenario, results.arm_names)
        results._theory_frame = cached
    return cached


def overlay_metric(ax, results, metric: str, arm: str, color) -> bool:
    """The arm's predicted level of `metric` as a dashed, labelled line."""
    return overlay(ax, frame(results), arm, metric, color)


def section(results, fmt, cell) -> list[str]:
    """report.md's "Simulation vs theory" section (markdown lines)."""
    found = predictions(frame(results))
    lines = ["## Simulation vs theory", "",
             "The window mean of each replication (mean [95% CI]) beside the static "
             "benchmark that applies to the arm, solved from the same parameters "
             "(`theory.csv`, `infogap theory`; dashed lines on the plots). See "
             "docs/theory.md for where an agent-based market is expected to depart.", ""]
    rows = []
    summary = results.summary
    for arm in results.arm_names:
        if arm not in found:
            continue
        name, values = found[arm]
        for metric in COMPARED:
            if metric not in values:
                continue
            sim = summary[(summary["arm"] == arm) & (summary["segment"] == "all")
                          & (summary["metric"] == metric)]
            simulated = cell(sim.iloc[0]) if len(sim) else "-"
            value = values[metric]
            shown = "no trade" if metric == "price" and math.isnan(value) else fmt(value)
            rows.append(f"| {arm} | {metric} | {simulated} | {shown} | {name} |")
    missing = [a for a in results.arm_names if a not in found]
    if rows:
        lines += ["| arm | metric | simulated | theory | benchmark |", "|---|---|---|---|---|",
                  *rows, ""]
    if missing:
        lines += [f"No static benchmark applies to {', '.join(missing)} (see `theory.csv` "
                  "for their first best).", ""]
    return lines
