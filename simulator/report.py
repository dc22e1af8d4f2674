"""What a run leaves behind: CSV files, PNG plots, report.md and the printed summary.

The output folder is written atomically (see `output.AtomicFolder`): a failed or
interrupted run never leaves a half-written folder, and an existing one is
replaced only on success.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .figure_layout import fit_y_labels, panel_grid
from .measures import axis_label, bounds
from .metrics import HEADLINE, METRICS, SEGMENT_METRICS
from .output import CSV, fmt, fmt_p, write_atomically
from .output import colors as _colors
from .output import save_figure as _save
from .output import text_table as _table
from .params import flatten_dotted
from .results import ALL
from .stats import Interval, band, clip_interval
from .windows import window_steps

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .results import Results

FILES = ("timeseries.csv", "summary.csv", "comparison.csv", "theory.csv", "report.md",
         "headline.png", "metrics.png")

#: A panel with more rows than this is written as panel.parquet instead of panel.csv
#: (a CSV of millions of rows is slow to write and read, and large).
PANEL_CSV_MAX_ROWS = 200_000

#: Segment metrics plotted per segment in segments.png.
SEGMENT_PLOT = ("volume", "trust", "churn", "satisfaction")

__all__ = ["CSV", "FILES", "fmt", "fmt_p", "write_atomically", "write_results"]


# -- writing --------------------------------------------------------------------------------
def write_results(results: Results, directory, **options) -> Path:
    """Write every output file into `directory`, replacing it only once all are written."""
    return write_atomically(directory, lambda folder: write_files(results, folder), **options)


def write_files(results: Results, folder: Path, figures=None) -> None:
    """Every file of a run. `figures(results, folder)` writes the PNGs (default
    `write_figures`, here and now); it is called first, so that a `figure_process.Figures`
    draws them in its own process while this one writes the tables."""
    (write_figures if figures is None else figures)(results, folder)
    results.timeseries.to_csv(folder / "timeseries.csv", **CSV)
    results.summary.to_csv(folder / "summary.csv", **CSV)
    results.comparison.to_csv(folder / "comparison.csv", **CSV)
    if results.early_summary is not None:
        results.early_summary.to_csv(folder / "early_summary.csv", **CSV)
        results.early_comparison.to_csv(folder / "early_comparison.csv", **CSV)
    if results.segment_timeseries is not None:
        results.segment_timeseries.to_csv(folder / "segments.csv", **CSV)
    if results.panel is not None:
        write_panel(results.panel, folder)
    from .theory.compare import frame as theory_frame

    theory_frame(results).to_csv(folder / "theory.csv", **CSV)
    (folder / "report.md").write_text(report_markdown(results), encoding="utf-8")


def figure_names(results: Results) -> list[str]:
    """The PNG files of a run, the one with the most panels first."""
    segments = ["segments.png"] if results.segment_timeseries is not None else []
    return ["metrics.png", "headline.png", *segments]


def write_figures(results: Results, folder: Path, names=None) -> None:
    """Draw and save the run's figures `names` (default: all of `figure_names`)."""
    for name in figure_names(results) if names is None else names:
        _save(draw_figure(results, name), folder / name)


def draw_figure(results: Results, name: str) -> Figure:
    if name == "headline.png":
        return plot_metrics(results, HEADLINE)
    if name == "metrics.png":
        return plot_metrics(results, varying_metrics(results), columns=4)
    if name == "segments.png":
        return plot_segments(results)
    raise ValueError(f"no figure named {name!r}")


def panel_file_name(rows: int) -> str:
    return "panel.csv" if rows <= PANEL_CSV_MAX_ROWS else "panel.parquet"


def write_panel(panel, folder: Path) -> Path:
    """The buyer-period panel as CSV, or as Parquet when it is large."""
    path = folder / panel_file_name(len(panel))
    if path.suffix == ".csv":
        panel.to_csv(path, **CSV)
    else:
        panel.to_parquet(path, index=False, engine="pyarrow", compression="zstd")
    return path


# -- plots ----------------------------------------------------------------------------------
def varying_metrics(results: Results) -> list[str]:
    """Metrics that change somewhere (constant ones, e.g. mechanisms not in play, are noise)."""
    ts = results.timeseries
    return [m for m in METRICS if ts[m].dropna().nunique() > 1]


def constant_metrics(results: Results) -> dict[str, float]:
    ts = results.timeseries
    varying = set(varying_metrics(results))
    return {m: (float(ts[m].dropna().iloc[0]) if ts[m].notna().any() else math.nan)
            for m in METRICS if m not in varying}


def plot_metrics(results: Results, metrics=None, columns: int = 2) -> Figure:
    """One panel per metric; per arm the mean over replications and its 95% band over time.

    Bands are cut to what the metric can be (a price is never negative, a share stays in
    [0, 1]) and drawn only where two or more replications have a value. The shaded grey
    span is the summary window (the steps averaged in summary.csv).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    metrics = list(HEADLINE if metrics is None else metrics) or list(HEADLINE)
    columns = min(columns, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    fig = Figure(figsize=(4.6 * columns, 3.0 * rows + 0.9))
    grid = panel_grid(fig, rows, columns, count=len(metrics))
    axes = grid.ravel()[:len(metrics)]
    ts = results.timeseries
    steps = np.arange(1, results.steps + 1)
    from .theory.compare import overlay_metric

    window_start = results.steps - window_steps(results.steps, results.window) + 0.5
    colors = _colors(len(results.arm_names))
    by_arm = {arm: ts.loc[ts["arm"] == arm] for arm in results.arm_names}
    handles = []
    for ax, metric in zip(axes, metrics, strict=False):
        handles = []
        for arm, color in zip(results.arm_names, colors, strict=True):
            runs = by_arm[arm].pivot(index="replication", columns="step", values=metric)
            mean, low, high = band(runs.to_numpy(dtype=float), bounds=bounds(metric))
            handles += ax.plot(steps, mean, color=color, lw=1.6, label=arm)
            ax.fill_between(steps, low, high, color=color, alpha=0.22, lw=0)
            overlay_metric(ax, results, metric, arm, color)  # theory's level, dashed, labelled
        ax.axvspan(window_start, results.steps + 0.5, color="0.92", zorder=0, lw=0)
        _axes_for(ax, metric, results.steps)
    for ax in axes[max(0, len(metrics) - columns):len(metrics)]:
        ax.set_xlabel("step")
    fit_y_labels(fig, grid)
    handles.append(Patch(color="0.92", label="summary window"))
    _legend_below(fig, handles)
    _suptitle(fig, f"{results.scenario.name}: mean of {results.replications} replications "
              f"with 95% CI (where 2 or more have a value); dashed: theory")
    return fig


def plot_segments(results: Results, metrics=SEGMENT_PLOT) -> Figure:
    """Per segment (colour), the mean over replications with its 95% band; a column per arm.

    One column per arm keeps the bands apart; rows share their y axis, so the arms
    compare across a row.
    """
    from matplotlib.figure import Figure

    seg = results.segment_timeseries
    metrics = [m for m in metrics if m in SEGMENT_METRICS]
    arms = list(results.arm_names)
    fig = Figure(figsize=(3.4 * len(arms) + 0.8, 2.5 * len(metrics) + 1.2))
    axes = panel_grid(fig, len(metrics), len(arms), hgap=0.38, sharex=True, sharey="row")
    names = list(dict.fromkeys(seg["segment"]))
    colors = dict(zip(names, _colors(len(names)), strict=True))
    steps = np.arange(1, results.steps + 1)
    shown: dict[str, object] = {}
    for c, arm in enumerate(arms):
        mine = seg[seg["arm"] == arm]
        for r, metric in enumerate(metrics):
            ax = axes[r, c]
            for segment in results.segment_names[arm]:
                runs = mine[mine["segment"] == segment].pivot(
                    index="replication", columns="step", values=metric)
                runs = runs.reindex(columns=steps)
                mean, low, high = band(runs.to_numpy(dtype=float), bounds=bounds(metric))
                (line,) = ax.plot(steps, mean, color=colors[segment], lw=1.4, label=segment)
                ax.fill_between(steps, low, high, color=colors[segment], alpha=0.2, lw=0)
                shown.setdefault(segment, line)
            _axes_for(ax, metric, results.steps, label=c == 0, title=f"{arm}: {metric}",
                      fontsize="medium")
        axes[-1, c].set_xlabel("step")
    fit_y_labels(fig, axes)
    _legend_below(fig, list(shown.values()))
    _suptitle(fig, f"{results.scenario.name}: per buyer segment, mean of "
              f"{results.replications} replications with 95% CI")
    return fig


def _axes_for(ax, metric: str, steps: int, label: bool = True, title: str | None = None,
              **title_options) -> None:
    """Title, y label with the metric's unit, limits, whole-step x ticks and grid of one
    metric's panel.

    The title sits at the top of the panel (y=1): matplotlib would otherwise measure the
    panel's tick labels once more at every draw to see whether something is in its way,
    and nothing is (the x ticks are at the bottom).
    """
    from matplotlib.ticker import MaxNLocator

    ax.set_title(metric if title is None else title, y=1.0, **title_options)
    if label:
        ax.set_ylabel(axis_label(metric), fontsize="small")
    ax.set_xlim(1, steps)
    # matplotlib's default locator, but steps are whole numbers: no tick at step 1.2
    ax.xaxis.set_major_locator(MaxNLocator("auto", steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.grid(alpha=0.3)


def _legend_below(fig: Figure, handles: list) -> None:
    """One legend for the figure, under the panels: never on the lines."""
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5),
               fontsize="small", frameon=False, borderaxespad=0.3)


def _suptitle(fig: Figure, text: str) -> None:
    """The figure's title, a fixed distance (0.1 in) below its top edge."""
    fig.suptitle(text, y=1 - 0.1 / fig.get_figheight(), va="top")


# -- text -----------------------------------------------------------------------------------
def _cell(row, replications: int, window: int = 0) -> str:
    """mean [95% CI], the interval cut to what the metric can be; n when fewer than all
    replications have a value (e.g. a price when some runs had no trade), and on how many
    of the `window` steps the metric was defined, on average, when not on all."""
    n = int(row["n"])
    if n == 0:
        return "no trade" if row["metric"] == "price" else "no value"
    low, high = bounds(row["metric"])
    ci = clip_interval(Interval(row["mean"], row["ci_low"], row["ci_high"], n), (low, high))
    notes = [f"n={n}"] if n < replications else []
    steps = row.get("steps", math.nan)
    if window and steps < window:
        notes.append(f"{fmt(steps)} of {window} steps")
    few = f" ({'; '.join(notes)})" if notes else ""
    if n < 2:
        return f"{fmt(ci.mean)}{few}"
    return f"{fmt(ci.mean)} [{fmt(ci.ci_low)}, {fmt(ci.ci_high)}]{few}"


class _Rows:
    """A summary or comparison frame's rows by (arm, segment, metric), the first of each:
    a dictionary look-up per table cell instead of three string comparisons over the
    whole frame (which took most of report.md's time)."""

    def __init__(self, frame):
        self.frame = frame
        self.at: dict[tuple, int] = {}
        keys = zip(frame["arm"], frame["segment"], frame["metric"], strict=True)
        for i, key in enumerate(keys):
            self.at.setdefault(key, i)

    def __call__(self, arm: str, metric: str, segment: str = ALL):
        return self.frame.iloc[self.at[(arm, segment, metric)]]


def summary_lines(results: Results, metrics=HEADLINE, markdown: bool = False,
                  summary=None) -> list[str]:
    """Arms as rows, metrics as columns: mean [95% CI] of the window means."""
    early = summary is not None and summary is results.early_summary
    window = results.early_steps if early else results.window_steps
    summary = results.summary if summary is None else summary
    lookup = _Rows(summary)
    rows = [[arm] + [_cell(lookup(arm, m), results.replications, window)
                     for m in metrics]
            for arm in results.arm_names]
    return _table(["arm", *metrics], rows, markdown)


def segment_lines(results: Results, metrics=HEADLINE, markdown: bool = False) -> list[str]:
    """(arm, segment) as rows, metrics as columns: mean [95% CI] of the window means."""
    lookup = _Rows(results.summary)
    rows = [[arm, segment] + [_cell(lookup(arm, m, segment),
                                    results.replications, results.window_steps)
                              for m in metrics]
            for arm in results.arm_names for segment in results.segment_names[arm]]
    return _table(["arm", "segment", *metrics], rows, markdown)


def comparison_lines(results: Results, metrics=HEADLINE, markdown: bool = False,
                     comparison=None) -> list[str]:
    """Each arm minus the baseline: paired difference [95% CI], p-value, effect size d_z."""
    comparison = results.comparison if comparison is None else comparison
    lookup = _Rows(comparison)
    rows = []
    for arm in results.arm_names:
        if arm == results.baseline:
            continue
        for m in metrics:
            c = lookup(arm, m)
            if math.isnan(c["diff"]):  # no replication where both arms have a value
                diff = "no trade in an arm" if m == "price" else "no value"
            else:
                diff = f"{fmt(c['diff'])} [{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]"
            rows.append([arm, m, diff, fmt_p(c["p_value"]), fmt(c["effect_size"])])
    header = ["arm", "metric", f"diff vs {results.baseline} [95% CI]", "p", "d_z"]
    return _table(header, rows, markdown)


def format_summary(results: Results) -> str:
    """The table printed after a run."""
    s = results.scenario
    head = (f"{s.name}: {len(results.arm_names)} arms x {results.replications} replications x "
            f"{results.steps} steps; mean of the last "
            f"{_window_text(results)} per replication, 95% CI over replications")
    lines = [head, "", *summary_lines(results)]
    if len(results.arm_names) > 1:
        lines += ["", *comparison_lines(results)]
    if results.early_summary is not None:
        lines += ["", f"early period: mean of the first {_early_text(results)} per replication",
                  "", *summary_lines(results, summary=results.early_summary)]
        if len(results.arm_names) > 1:
            lines += ["", *comparison_lines(results, comparison=results.early_comparison)]
    if results.segment_timeseries is not None:
        lines += ["", "per buyer segment (window means):", "", *segment_lines(results)]
    return "\n".join(lines)


def _early_text(results: Results) -> str:
    k = window_steps(results.steps, results.early)
    return f"{k} step{'s' if k != 1 else ''}"


def _window_text(results: Results) -> str:
    k = window_steps(results.steps, results.window)
    return f"{k} step{'s' if k != 1 else ''}"


def arm_differences(results: Results) -> dict[str, dict[str, object]]:
    """For each arm, the market keys whose values are not the same in every arm."""
    flat = {arm: flatten_dotted(results.scenario.arms[arm].to_dict()) for arm in results.arm_names}
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))  # arms may name segments
    differing = [k for k in keys if len({repr(f.get(k, "unset")) for f in flat.values()}) > 1]
    return {arm: {k: flat[arm].get(k, "unset") for k in differing} for arm in results.arm_names}



def report_markdown(results: Results) -> str:
    s = results.scenario
    lines = [f"# {s.name}", ""]
    if s.description:
        lines += [s.description.strip(), ""]
    source = f"`{s.path}`" if s.path is not None else "(built in Python)"
    lines += [
        "## Setup", "",
        f"- scenario: {source}" + (f", overrides: `{s.overrides}`" if s.overrides else ""),
        f"- {len(results.arm_names)} arms x {results.replications} replications x "
        f"{results.steps} steps, seed {s.seed}",
        f"- each replication is summarised by its mean over the last {_window_text(results)} "
        f"(window = {s.window}); intervals are 95% Student-t intervals over replications, "
        "cut to what the metric can be (a price or a count is never negative, a share "
        "stays in [0, 1]); `(n=k)` marks a value that only k replications have (e.g. a "
        "price where some runs had no trade), and `(s of W steps)` a ratio defined on only s "
        "of the window's W steps on average (NaN steps, where its denominator is zero, are "
        "left out of the mean)",
        "- common random numbers: replication r of every arm uses the same random streams, "
        "so arm differences are paired by replication (paired t-test, effect size d_z = mean "
        "difference / sd of differences)",
        f"- baseline: `{results.baseline}`", "",
        "## Arms", "",
    ]
    for arm, diffs in arm_differences(results).items():
        what = ", ".join(f"`{k} = {v!r}`" for k, v in diffs.items()) or "the base market"
        note = results.scenario.arm_descriptions.get(arm, "")
        lines.append(f"- **{arm}**: {what}" + (f". {note}" if note else ""))
    lines += ["", "## Headline results", "", *summary_lines(results, markdown=True), ""]
    if len(results.arm_names) > 1:
        lines += [*comparison_lines(results, markdown=True), ""]
    lines += ["![headline metrics over time](headline.png)", ""]
    from .theory.compare import section as theory_section

    lines += theory_section(results, fmt, lambda row: _cell(row, results.replications,
                                                                  results.window_steps))
    if results.early_summary is not None:
        lines += ["## Early period", "",
                  f"The same headline metrics over the first {_early_text(results)} of each "
                  f"run (early = {results.early}), where short-term effects show before the "
                  "long-term ones:", "",
                  *summary_lines(results, markdown=True, summary=results.early_summary), ""]
        if len(results.arm_names) > 1:
            lines += [*comparison_lines(results, markdown=True,
                                        comparison=results.early_comparison), ""]
    if results.segment_timeseries is not None:
        lines += _segment_section(results)
    lines += ["## All metrics", "",
              "![every metric that varies](metrics.png)", ""]
    constants = constant_metrics(results)
    if constants:
        lines += ["Constant in every arm and step (not plotted): "
                  + ", ".join(f"{m} = {fmt(v)}" for m, v in constants.items()) + ".", ""]
    lookup = _Rows(results.summary)
    rows = [[m] + [_cell(lookup(arm, m), results.replications,
                          results.window_steps)
                   for arm in results.arm_names]
            for m in METRICS]
    lines += _table(["metric", *results.arm_names], rows, markdown=True)
    lines += ["", _files_note(results), ""]
    return "\n".join(lines)


def _segment_section(results: Results) -> list[str]:
    lines = ["## Buyer segments", "",
             "Window means per segment (the market's totals are the `all` rows of "
             "summary.csv; counts and surpluses add up over segments, rates and means are "
             "per segment):", "",
             *segment_lines(results, markdown=True), "",
             *segment_lines(results, ("satisfaction", "expectation_gap", "exit_rate",
                                      "active_buyers"), markdown=True), ""]
    if len(results.arm_names) > 1:
        rows = []
        for arm in results.arm_names:
            if arm == results.baseline:
                continue
            for segment in results.segment_names[arm]:
                for m in HEADLINE:
                    c = results.comparison
                    hit = c[(c["arm"] == arm) & (c["segment"] == segment) & (c["metric"] == m)]
                    if hit.empty or math.isnan(hit.iloc[0]["diff"]):
                        continue
                    c = hit.iloc[0]
                    rows.append([arm, segment, m,
                                 f"{fmt(c['diff'])} [{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]",
                                 fmt_p(c["p_value"])])
        if rows:
            lines += _table(["arm", "segment", "metric",
                             f"diff vs {results.baseline} [95% CI]", "p"], rows, True) + [""]
    lines += ["![per-segment metrics over time](segments.png)", ""]
    return lines


def _files_note(results: Results) -> str:
    files = ["`timeseries.csv` (every step of every run)",
             "`summary.csv` (per arm, segment and metric: mean, ci_low, ci_high, n; segment "
             "`all` is the whole market)",
             "`comparison.csv` (per arm, segment and metric vs the baseline: diff, ci_low, "
             "ci_high, p_value, effect_size)",
             "`theory.csv` (per arm: every benchmark and equilibrium theory gives, as arm, "
             "benchmark, equilibrium, metric, value)"]
    if results.early_summary is not None:
        files.append("`early_summary.csv`, `early_comparison.csv` (the same over the early "
                     "period)")
    if results.segment_timeseries is not None:
        files.append("`segments.csv` (every step of every run, per segment)")
    if results.panel is not None:
        files.append(f"`{panel_file_name(len(results.panel))}` (the buyer-period panel: one "
                     "row per buyer active at a step; `infogap churn` reads it)")
    return "Files: " + ", ".join(files) + "."
