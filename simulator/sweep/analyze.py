"""`infogap analyze`: what drives the outcomes of a sweep, as a Markdown report with figures.

Sensitivity indices come from SALib (Sobol first-order and total indices with
bootstrap confidence intervals for `sobol` designs, Morris mu*/sigma for
`morris`), computed on each design point's mean over replications. Every design
also gets main-effect plots, two-factor heatmaps (phase diagrams) and the table
of design points.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..errors import UserError
from ..measures import axis_label, key_name
from ..metrics import METRICS
from ..output import markdown_frame, save_figure, write_atomically, write_csv
from .design import salib_problem
from .experiment import Factor, factors_from_description
from .store import load_points, load_sweep, sweep_description

#: Continuous factors are cut into this many equal-count bins for plots.
BINS = 8
#: Heatmaps of continuous factors use this many bins per axis.
HEAT_BINS = 10
#: Rows of the design-point table shown in report.md (the CSV has them all).
TABLE_ROWS = 60


def analyze_sweep(directory: str | Path, out: str | Path | None = None,
                  metrics: list[str] | None = None,
                  heatmaps: list[tuple[str, str]] | None = None) -> Path:
    """Write DIR/report (or `out`) with report.md, figures and CSV tables; returns the folder."""
    directory = Path(directory)
    info = sweep_description(directory)
    factors = factors_from_description(info)
    names = [f.key for f in factors]
    metrics = list(metrics or info["metrics"])
    for metric in metrics:
        if metric not in METRICS:
            raise UserError(f"--metric {metric}: expected a metric name (one of "
                            f"{', '.join(METRICS)})")
    pairs = [tuple(p) for p in (heatmaps or info["heatmaps"])]
    for pair in pairs:
        for name in pair:
            if name not in names:
                raise UserError(f"--heatmap {','.join(pair)}: {name} is not a factor of this "
                                f"sweep (factors: {', '.join(names)})")

    table = load_sweep(directory)
    out = Path(out) if out else directory / "report"
    points = load_points(directory)
    return write_atomically(out, lambda folder: _Report(info, factors, table, points, metrics,
                                                          folder).write(pairs))


class _Report:
    def __init__(self, info: dict[str, Any], factors: tuple[Factor, ...], table: pd.DataFrame,
                 points: pd.DataFrame, metrics: list[str], folder: Path):
        self.info, self.factors, self.table = info, factors, table
        self.points, self.metrics, self.folder = points, metrics, folder
        self.names = [f.key for f in factors]
        self.ok = table[table["status"] == "ok"]
        self.arms = list(info["arms"])
        # Mean over replications per (arm, point): what sensitivity analysis and plots use.
        self.means = (self.ok.groupby(["arm", "point"], sort=True)[metrics].mean()
                      .reset_index().merge(points[self.names].reset_index(), on="point"))
        self.lines: list[str] = []

    # -- report --------------------------------------------------------------------------------
    def write(self, pairs: list[tuple[str, str]]) -> None:
        self._header()
        if self.info["design"] == "sobol":
            self._sobol()
        elif self.info["design"] == "morris":
            self._morris()
        self._main_effects()
        self._heatmaps(pairs)
        self._tables()
        (self.folder / "report.md").write_text("\n".join(self.lines) + "\n")

    def _header(self) -> None:
        info, counts = self.info, self.table["status"].value_counts()
        self.lines += [f"# Sweep report: {info['name']}", ""]
        if info["description"]:
            self.lines += [info["description"].strip(), ""]
        self.lines += [
            f"Scenario `{info['scenario_file']}`, arms {', '.join(self.arms)}; design "
            f"`{info['design']}`, {self.points.shape[0]} design points x "
            f"{_plural(info['replications'], 'replication')}; {info['steps']} steps, metrics are "
            f"means over "
            f"the final {info['window']:g} of the steps, then over replications.", "",
            f"Runs: {int(counts.get('ok', 0))} ok, {int(counts.get('failed', 0))} failed, "
            f"{int(counts.get('pending', 0))} not run.", "",
            "| factor | values | scale |", "|---|---|---|"]
        for f in self.factors:
            shown = (", ".join(map(str, f.values)) if f.values is not None
                     else f"{f.low:g} to {f.high:g}")
            self.lines.append(f"| `{f.key}` | {shown} | {f.scale if f.values is None else ''} |")
        if self.info["fixed"]:
            fixed = ", ".join(f"`{k}` = {v!r}" for k, v in self.info["fixed"].items())
            self.lines += ["", f"Fixed on every run: {fixed}."]
        self.lines.append("")

    def _analysable(self):
        """(arm, metric, report heading, per-point means) for every pair SALib can use; the
        others get their heading and the reason in the report."""
        for arm in self.arms:
            for metric in self.metrics:
                y, why = self._complete_y(arm, metric)
                head = f"### `{metric}` ({arm})"
                if y is None:
                    self.lines += [head, "", f"Not computed: {why}.", ""]
                else:
                    yield arm, metric, head, y

    def _complete_y(self, arm: str, metric: str) -> tuple[np.ndarray | None, str]:
        """Per-point means in design order, or None and the reason SALib cannot use them."""
        rows = self.means[self.means["arm"] == arm].set_index("point")[metric]
        missing = len(self.points) - len(rows)
        if missing:
            return None, f"{missing} design points have no finished run (resume the sweep)"
        y = rows.sort_index().to_numpy(dtype=float)
        if np.isnan(y).any():
            return None, (f"{int(np.isnan(y).sum())} design points have no value (e.g. no "
                          "trade in the window)")
        return y, ""

    def _sobol(self) -> None:
        from SALib.analyze import sobol

        problem = salib_problem(self.factors)
        second = bool(self.info["second_order"])
        self.lines += ["## Sobol indices", "",
                       "First-order S1 (share of the variance a factor explains alone) and total "
                       "ST (including its interactions), with 95% bootstrap half-widths "
                       "(SALib, Saltelli/Jansen estimators).", ""]
        for arm, metric, head, y in self._analysable():
            if np.ptp(y) == 0:
                self.lines += [head, "", "Not computed: the metric does not vary.", ""]
                continue
            s = sobol.analyze(problem, y, calc_second_order=second, conf_level=0.95,
                              seed=int(self.info["seed"]) % 2**32)
            frame = pd.DataFrame({"factor": self.names, "S1": s["S1"],
                                  "S1_conf": s["S1_conf"], "ST": s["ST"],
                                  "ST_conf": s["ST_conf"]})
            write_csv(frame, self.folder / f"sobol_{metric}_{arm}.csv")
            image = self._sobol_plot(frame, metric, arm)
            self.lines += [head, "", markdown_frame(frame), "", f"![Sobol {metric}]({image})", ""]
            if second:
                s2 = pd.DataFrame(s["S2"], index=self.names, columns=self.names)
                s2.to_csv(self.folder / f"sobol_s2_{metric}_{arm}.csv")
                self.lines += [f"Second-order indices: `sobol_s2_{metric}_{arm}.csv`.", ""]

    def _sobol_plot(self, frame: pd.DataFrame, metric: str, arm: str) -> str:
        fig = Figure(figsize=(1.2 + 0.9 * len(frame), 3.2), layout="constrained")
        ax = fig.subplots()
        x = np.arange(len(frame))
        ax.bar(x - 0.2, frame["S1"], 0.4, yerr=frame["S1_conf"], label="S1 (first order)",
               capsize=3)
        ax.bar(x + 0.2, frame["ST"], 0.4, yerr=frame["ST_conf"], label="ST (total)", capsize=3)
        ax.set_xticks(x, [key_name(n) for n in frame["factor"]], rotation=20, ha="right")
        ax.set_ylabel("share of the variance of " + metric)
        ax.set_title(f"Sobol indices of {metric} ({arm})")
        ax.axhline(0, color="black", lw=0.5)
        fig.legend(loc="outside lower center", ncol=2, fontsize="small", frameon=False)
        return self._save(fig, f"sobol_{metric}_{arm}.png")

    def _morris(self) -> None:
        from SALib.analyze import morris

        problem = salib_problem(self.factors)
        x = np.array(self.points["x"].tolist(), dtype=float)
        self.lines += ["## Morris elementary effects", "",
                       "mu* (mean absolute effect: how much the factor matters) and sigma (spread "
                       "of its effects: non-linearity or interactions), in metric units per "
                       "factor range (log range for log-scale factors); 95% bootstrap "
                       "half-width for mu* (SALib).", ""]
        for arm, metric, head, y in self._analysable():
            m = morris.analyze(problem, x, y, num_levels=int(self.info["levels"]),
                               conf_level=0.95, seed=int(self.info["seed"]) % 2**32)
            frame = pd.DataFrame({"factor": self.names,
                                  "mu_star": np.asarray(m["mu_star"], dtype=float),
                                  "mu_star_conf": np.asarray(m["mu_star_conf"], dtype=float),
                                  "sigma": np.asarray(m["sigma"], dtype=float)})
            write_csv(frame, self.folder / f"morris_{metric}_{arm}.csv")
            fig = Figure(figsize=(4.5, 3.5), layout="constrained")
            ax = fig.subplots()
            ax.errorbar(frame["mu_star"], frame["sigma"], xerr=frame["mu_star_conf"],
                        fmt="o", capsize=3)
            for _, row in frame.iterrows():
                ax.annotate(key_name(row["factor"]), (row["mu_star"], row["sigma"]),
                            fontsize="small", xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel(f"mu*: mean |effect| on {metric}")
            ax.set_ylabel("sigma: spread of the effects")
            ax.set_title(f"Morris screening of {metric} ({arm})")
            image = self._save(fig, f"morris_{metric}_{arm}.png")
            self.lines += [head, "", markdown_frame(frame), "", f"![Morris {metric}]({image})", ""]

    # -- plots for every design ------------------------------------------------------------------
    def _levels(self, factor: Factor, values: pd.Series) -> pd.Series:
        """Plot positions: exact values for value lists and grids, bin centres otherwise."""
        if (factor.values is not None or self.info["design"] == "grid"
                or values.nunique() <= (2 * BINS if factor.kind == "int" else BINS)):
            return values
        bins = pd.qcut(values.astype(float), BINS, duplicates="drop")
        return bins.map(lambda interval: interval.mid).astype(float)

    def _main_effects(self) -> None:
        if self.means.empty:
            return
        self.lines += ["## Main effects", "",
                       "Each panel: the metric's mean over all other factors (and replications) "
                       "against one factor; bars are 95% intervals of that mean"
                       + ("" if self.info["design"] == "grid"
                          else f"; continuous factors are cut into {BINS} equal-count bins")
                       + ".", ""]
        for metric in self.metrics:
            n = len(self.factors)
            cols = min(n, 3)
            rows = math.ceil(n / cols)
            fig = Figure(figsize=(3.6 * cols, 2.8 * rows), layout="constrained")
            axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
            for ax, factor in zip(axes, self.factors, strict=False):
                for arm in self.arms:
                    part = self.means[self.means["arm"] == arm]
                    level = self._levels(factor, part[factor.key])
                    grouped = part[metric].groupby(level, sort=True)
                    mean, sem = grouped.mean(), grouped.sem().fillna(0)
                    x = (mean.index.astype(float) if _numeric(mean.index)
                         else np.arange(len(mean)))
                    ax.errorbar(x, mean.to_numpy(), yerr=1.96 * sem.to_numpy(), marker="o",
                                capsize=2, label=arm)
                    if not _numeric(mean.index):
                        ax.set_xticks(x, [str(v) for v in mean.index])
                ax.set_xlabel(key_name(factor.key))
                if factor.scale == "log":
                    ax.set_xscale("log")
                    ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_ylabel(axis_label(metric), fontsize="small")
            for ax in axes[n:]:
                ax.set_visible(False)
            if len(self.arms) > 1:  # under the panels, never on the lines
                fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                           ncol=min(len(self.arms), 5), fontsize="small", frameon=False)
            fig.suptitle(f"Main effects on {metric}")
            image = self._save(fig, f"main_effects_{metric}.png")
            self.lines += [f"![main effects on {metric}]({image})", ""]

    def _heatmaps(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs or self.means.empty:
            return
        self.lines += ["## Phase diagrams", "",
                       "Mean of the metric over replications (and over the other factors, if "
                       "any) for each pair of factor values"
                       + ("" if self.info["design"] == "grid"
                          else f"; continuous factors are cut into {HEAT_BINS} bins")
                       + ". Dashed white lines: the boundary between the equilibria theory "
                       "predicts for these parameters (docs/theory.md); dotted: the same for "
                       "risk-neutral buyers.", ""]
        by_key = {f.key: f for f in self.factors}
        for xname, yname in pairs:
            for metric in self.metrics:
                for arm in self.arms:
                    part = self.means[self.means["arm"] == arm]
                    grid = part.assign(
                        _x=self._heat_levels(by_key[xname], part[xname]),
                        _y=self._heat_levels(by_key[yname], part[yname]),
                    ).pivot_table(index="_y", columns="_x", values=metric, aggfunc="mean",
                                  dropna=False, observed=False)
                    image = self._heatmap_plot(grid, xname, yname, metric, arm)
                    self.lines += [f"![{metric} over {xname} x {yname} ({arm})]({image})", ""]
                    grid.to_csv(self.folder / image.replace(".png", ".csv"))

    def _heat_levels(self, factor: Factor, values: pd.Series) -> pd.Series:
        if factor.values is not None or self.info["design"] == "grid" \
                or values.nunique() <= HEAT_BINS:
            return values
        lo, hi = factor.design_bounds()
        edges = np.linspace(lo, hi, HEAT_BINS + 1)
        coords = np.log(values.astype(float)) if factor.scale == "log" else values.astype(float)
        index = np.clip(np.searchsorted(edges, coords, side="right") - 1, 0, HEAT_BINS - 1)
        centres = (edges[:-1] + edges[1:]) / 2
        centres = np.exp(centres) if factor.scale == "log" else centres
        return pd.Series(np.round(centres[index], 6), index=values.index)

    def _heatmap_plot(self, grid: pd.DataFrame, xname: str, yname: str, metric: str,
                      arm: str) -> str:
        fig = Figure(figsize=(5.6, 4.4), layout="constrained")
        ax = fig.subplots()
        data = grid.to_numpy(dtype=float)
        image = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis",
                          interpolation="nearest")
        ax.set_xticks(range(grid.shape[1]), [_tick(v) for v in grid.columns], rotation=45,
                      ha="right")
        ax.set_yticks(range(grid.shape[0]), [_tick(v) for v in grid.index])
        if data.size <= 150:
            finite = data[np.isfinite(data)]
            middle = (finite.min() + finite.max()) / 2 if finite.size else 0
            for (i, j), value in np.ndenumerate(data):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7,
                            color="black" if value > middle else "white")
        ax.set_xlabel(key_name(xname))
        ax.set_ylabel(key_name(yname))
        ax.set_title(f"{metric} ({arm})")
        fig.colorbar(image, ax=ax, label=axis_label(metric))
        self._theory_boundary(ax, arm, xname, yname, grid)
        return self._save(fig, f"heatmap_{metric}_{_slug(xname)}_x_{_slug(yname)}_{arm}.png")

    def _theory_boundary(self, ax, arm: str, xname: str, yname: str, grid) -> None:
        """Theory's phase boundary for the two keys, dashed white (simulator.theory.boundary)."""
        from ..theory.boundary import base_params, draw

        params = base_params(self.info, arm)
        if params is not None:
            draw(ax, params, xname, yname, grid.columns, grid.index)

    def _tables(self) -> None:
        write_csv(self.table.drop(columns=["key"]), self.folder / "runs.csv")
        wide = self.means.pivot_table(index=["point", *self.names], columns="arm",
                                      values=self.metrics, aggfunc="first", observed=True)
        wide = wide[[(m, a) for m in self.metrics for a in self.arms if (m, a) in wide.columns]]
        if len(self.arms) == 1:
            wide.columns = [metric for metric, _ in wide.columns]
        else:
            wide.columns = [f"{metric} ({arm})" for metric, arm in wide.columns]
        wide = wide.reset_index()
        write_csv(wide, self.folder / "points.csv")
        self.lines += ["## Design points", "",
                       "Metric means over replications per design point "
                       "(`points.csv`; every run with its status: `runs.csv`)."
                       + (f" First {TABLE_ROWS} of {len(wide)} shown."
                          if len(wide) > TABLE_ROWS else ""), "",
                       markdown_frame(wide.head(TABLE_ROWS)), ""]
        failed = self.table[self.table["status"] == "failed"]
        if len(failed):
            self.lines += ["## Failed runs", "",
                           markdown_frame(failed[["run_id", "point", "arm", "replication", "error"]]
                                     .head(TABLE_ROWS)), "",
                           "Full tracebacks: `simulator.sweep.load_failures(DIR)`.", ""]

    def _save(self, fig: Figure, name: str) -> str:
        save_figure(fig, self.folder / name)
        return name


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _numeric(index: pd.Index) -> bool:
    return pd.api.types.is_numeric_dtype(index) and not pd.api.types.is_bool_dtype(index)


def _short(key: str) -> str:
    return key.removeprefix("market.")


def _slug(key: str) -> str:
    return _short(key).replace(".", "-")


def _tick(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
