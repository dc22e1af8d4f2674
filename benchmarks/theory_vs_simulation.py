"""Simulation beside theory: window means of shipped scenarios against their static benchmarks.

Prints a Markdown table (scenario, arm, metric, simulated mean [95% CI], theory,
benchmark) for every arm that has a benchmark, and draws docs/img/theory_vs_simulation.png
for three scenarios (bars: simulated window means with 95% intervals; red
ticks: theory). Run from the repository root:

    .venv/bin/python benchmarks/theory_vs_simulation.py --replications 3 --workers 2
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from simulator.report import fmt
from simulator.scenario import Scenario
from simulator.theory import predictions
from simulator.theory.compare import COMPARED, frame

ROOT = Path(__file__).resolve().parent.parent
WITH_BENCHMARK = ("lemons", "two_types", "certification", "loss_aversion", "disclosure",
                  "noisy_signals", "delayed", "cost_disclosure", "segments")
PLOTTED = ("lemons", "two_types", "disclosure")
PLOT_METRICS = ("price", "volume", "quality_traded", "efficiency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenarios", nargs="+", default=list(WITH_BENCHMARK))
    parser.add_argument("--plot", type=Path, default=ROOT / "docs/img/theory_vs_simulation.png")
    args = parser.parse_args()
    done = {}
    print("| scenario | arm | metric | simulated | theory | benchmark |")
    print("|---|---|---|---|---|---|")
    for name in args.scenarios:
        scenario = Scenario.load(ROOT / "scenarios" / f"{name}.toml",
                                 {"scenario.replications": args.replications})
        results = scenario.run(workers=args.workers, progress=False)
        done[name] = results
        found = predictions(frame(results))
        for arm in results.arm_names:
            if arm not in found:
                continue
            label, values = found[arm]
            for metric in COMPARED:
                if metric in values:
                    mean, low, high = simulated(results, arm, metric)
                    print(f"| {name} | {arm} | {metric} | {fmt(mean)} [{fmt(low)}, {fmt(high)}] "
                          f"| {fmt(values[metric])} | {label} |", flush=True)
    if all(name in done for name in PLOTTED):
        plot({name: done[name] for name in PLOTTED}).savefig(args.plot, dpi=110,
                                                             metadata={"Software": None})
        print(f"\nwrote {args.plot}")


def simulated(results, arm: str, metric: str) -> tuple[float, float, float]:
    s = results.summary
    row = s[(s["arm"] == arm) & (s["segment"] == "all") & (s["metric"] == metric)].iloc[0]
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])


def plot(runs: dict) -> Figure:
    fig = Figure(figsize=(4.2 * len(runs), 2.5 * len(PLOT_METRICS) + 0.6), layout="constrained")
    axes = fig.subplots(len(PLOT_METRICS), len(runs), squeeze=False)
    for col, (name, results) in enumerate(runs.items()):
        found = predictions(frame(results))
        arms = results.arm_names
        x = np.arange(len(arms))
        for row, metric in enumerate(PLOT_METRICS):
            ax = axes[row, col]
            sims = np.array([simulated(results, arm, metric) for arm in arms])
            means = np.nan_to_num(sims[:, 0])
            err = np.abs(np.nan_to_num(sims[:, 1:].T - sims[:, 0]))
            ax.bar(x, means, 0.6, yerr=err, capsize=3, color="tab:blue", alpha=0.6,
                   error_kw={"ecolor": "0.3", "lw": 1}, label="simulated (window mean, 95% CI)")
            theory = [found.get(arm, ("", {}))[1].get(metric, math.nan) for arm in arms]
            ax.scatter(x, theory, marker="_", s=1400, color="tab:red", linewidths=2.5,
                       zorder=3, label="theory (the equilibrium reached)")
            ax.set_xticks(x, arms, rotation=20, ha="right", fontsize="small")
            ax.set_title(f"{name}: {metric}", fontsize="medium")
            ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle("Simulation (bars) vs theory (red): window means over replications")
    return fig


if __name__ == "__main__":
    main()
