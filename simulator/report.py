"""What a run leaves behind: CSV files, PNG plots, report.md and the printed summary.

The output folder is written atomically: everything goes into a hidden sibling
folder that is renamed into place at the end, so a failed or interrupted run
never leaves a half-written folder and an existing one is replaced only on
success.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from .metrics import HEADLINE, METRICS
from .stats import band

if TYPE_CHECKING:
    from .runner import Results

FILES = ("timeseries.csv", "summary.csv", "comparison.csv", "report.md", "headline.png",
         "metrics.png")


# -- writing --------------------------------------------------------------------------------
def write_results(results: Results, directory) -> Path:
    """Write every output file into `directory`, replacing it only once all are written."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(target, "partial")
    try:
        write_files(results, staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _sibling(target: Path, kind: str) -> Path:
    """A new hidden folder next to `target` (same file system, so renames are atomic)."""
    folder = target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir()
    return folder


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    retired = _sibling(target, "old")
    os.rename(target, retired / target.name)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired / target.name, target)  # put the old results back
        shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def write_files(results: Results, folder: Path) -> None:
    csv = {"index": False, "lineterminator": "\n"}
    results.timeseries.to_csv(folder / "timeseries.csv", **csv)
    results.summary.to_csv(folder / "summary.csv", **csv)
    results.comparison.to_csv(folder / "comparison.csv", **csv)
    _save(plot_metrics(results, HEADLINE), folder / "headline.png")
    _save(plot_metrics(results, varying_metrics(results), columns=4), folder / "metrics.png")
    (folder / "report.md").write_text(report_markdown(results), encoding="utf-8")


def _save(fig: Figure, path: Path) -> None:
    # No timestamps in the metadata, so identical runs give identical images.
    fig.savefig(path, dpi=110, metadata={"Software": None})


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

    The shaded grey span is the summary window (the steps averaged in summary.csv).
    """
    metrics = list(HEADLINE if metrics is None else metrics) or list(HEADLINE)
    columns = min(columns, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    fig = Figure(figsize=(4.6 * columns, 3.0 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    ts = results.timeseries
    steps = np.arange(1, results.steps + 1)
    from .runner import window_steps

    window_start = results.steps - window_steps(results.steps, results.window) + 0.5
    colors = _colors(len(results.arm_names))
    for ax, metric in zip(axes, metrics, strict=False):
        for arm, color in zip(results.arm_names, colors, strict=True):
            runs = ts.loc[ts["arm"] == arm].pivot(index="replication", columns="step",
                                                  values=metric)
            mean, low, high = band(runs.to_numpy(dtype=float))
            ax.plot(steps, mean, color=color, lw=1.6, label=arm)
            ax.fill_between(steps, low, high, color=color, alpha=0.22, lw=0)
        ax.axvspan(window_start, results.steps + 0.5, color="0.92", zorder=0, lw=0)
        ax.set_title(metric)
        ax.set_xlim(1, results.steps)
        ax.grid(alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    for ax in axes[max(0, len(metrics) - columns):len(metrics)]:
        ax.set_xlabel("step")
    axes[0].legend(loc="best", fontsize="small")
    fig.suptitle(f"{results.scenario.name}: mean of {results.replications} replications "
                 f"with 95% CI (grey: summary window)")
    return fig


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


# -- text -----------------------------------------------------------------------------------
def fmt(x: float) -> str:
    """A number for humans: 4 significant digits, '-' when undefined."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.2e}"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def fmt_p(p: float) -> str:
    if isinstance(p, float) and math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _cell(row) -> str:
    if row["n"] == 0:
        return "no trade" if row["metric"] == "price" else "no value"
    return f"{fmt(row['mean'])} [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"


def _lookup(frame, arm: str, metric: str):
    return frame.loc[(frame["arm"] == arm) & (frame["metric"] == metric)].iloc[0]


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()
    lines = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    return lines


def summary_lines(results: Results, metrics=HEADLINE, markdown: bool = False) -> list[str]:
    """Arms as rows, metrics as columns: mean [95% CI] of the window means."""
    rows = [[arm] + [_cell(_lookup(results.summary, arm, m)) for m in metrics]
            for arm in results.arm_names]
    return _table(["arm", *metrics], rows, markdown)


def comparison_lines(results: Results, metrics=HEADLINE, markdown: bool = False) -> list[str]:
    """Each arm minus the baseline: paired difference [95% CI], p-value, effect size d_z."""
    rows = []
    for arm in results.arm_names:
        if arm == results.baseline:
            continue
        for m in metrics:
            c = _lookup(results.comparison, arm, m)
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
    return "\n".join(lines)


def _window_text(results: Results) -> str:
    from .runner import window_steps

    k = window_steps(results.steps, results.window)
    return f"{k} step{'s' if k != 1 else ''}"


def arm_differences(results: Results) -> dict[str, dict[str, object]]:
    """For each arm, the market keys whose values are not the same in every arm."""
    flat = {arm: _flatten(results.scenario.arms[arm].to_dict()) for arm in results.arm_names}
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))  # arms may name segments
    differing = [k for k in keys if len({repr(f.get(k, "unset")) for f in flat.values()}) > 1]
    return {arm: {k: flat[arm].get(k, "unset") for k in differing} for arm in results.arm_names}


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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
        f"(window = {s.window}); intervals are 95% Student-t intervals over replications",
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
    lines += ["![headline metrics over time](headline.png)", "",
              "## All metrics", "",
              "![every metric that varies](metrics.png)", ""]
    constants = constant_metrics(results)
    if constants:
        lines += ["Constant in every arm and step (not plotted): "
                  + ", ".join(f"{m} = {fmt(v)}" for m, v in constants.items()) + ".", ""]
    rows = [[m] + [_cell(_lookup(results.summary, arm, m)) for arm in results.arm_names]
            for m in METRICS]
    lines += _table(["metric", *results.arm_names], rows, markdown=True)
    lines += ["", "Files: `timeseries.csv` (every step of every run), `summary.csv` (per arm and "
              "metric: mean, ci_low, ci_high, n), `comparison.csv` (per arm vs the baseline: "
              "diff, ci_low, ci_high, p_value, effect_size).", ""]
    return "\n".join(lines)
