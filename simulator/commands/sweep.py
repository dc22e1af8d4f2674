"""`infogap sweep` (run an experiment file, resumable) and `infogap analyze` (its report)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import Terminated, UserError
from . import add_execution_options


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "sweep", help="run an experiment: a parameter sweep, locally or on Dask, resumable",
        description="Run every run of an experiment file (design points x arms x "
                    "replications) and store each as it finishes. Killing the sweep loses no "
                    "finished run; --resume runs only what is missing.")
    sweep.add_argument("experiment", type=Path, help="experiment file (TOML, see "
                       "docs/experiments.md)")
    sweep.add_argument("--out", type=Path, help="sweep folder (default: sweeps/NAME)")
    sweep.add_argument("--workers", type=int, help="worker processes (default: all cores, or "
                       "the cluster's workers)")
    add_execution_options(sweep, threads_type=int, executor_help="local process pool "
                          "(default) or dask.distributed")
    sweep.add_argument("--resume", action="store_true",
                       help="finish the sweep already in --out, running only missing runs")
    sweep.add_argument("--panel", action="store_true",
                       help="also store every run's buyer-period panel (load_panel)")
    sweep.add_argument("--csv", action="store_true", help="also write OUT/results.csv")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(func=run_sweep_command)

    analyze = subparsers.add_parser(
        "analyze", help="sensitivity analysis, main effects and phase diagrams of a sweep",
        description="Write DIR/report/report.md: Sobol or Morris indices (SALib) for those "
                    "designs, main-effect plots, two-factor heatmaps and the table of runs.")
    analyze.add_argument("directory", type=Path, metavar="DIR", help="sweep folder")
    analyze.add_argument("--metric", action="append", metavar="NAME",
                         help="metric to analyse (repeatable; default: the experiment's)")
    analyze.add_argument("--heatmap", action="append", metavar="X,Y",
                         help="pair of factor keys for a phase diagram (repeatable; default: "
                              "the experiment's [analyze] heatmaps)")
    analyze.add_argument("--out", type=Path, help="report folder (default: DIR/report)")
    analyze.set_defaults(func=analyze_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from ..sweep import load_experiment
    from ..sweep.executors import start_early

    experiment = load_experiment(args.experiment)
    # The workers' forkserver imports while this process imports the sweep's store (pandas)
    # and plans; not before the file is read, so a mistake in it starts nothing.
    start_early(args.executor, args.workers)
    from ..sweep import run_sweep

    out = args.out or Path("sweeps") / experiment.name
    try:
        outcome = run_sweep(experiment, out, workers=args.workers, executor=args.executor,
                            scheduler=args.scheduler, resume=args.resume,
                            progress=not args.no_progress, csv=args.csv, panel=args.panel,
                            threads=args.threads)
    except KeyboardInterrupt as exc:
        print(f"infogap: interrupted; finished runs are kept in {out}; run again with --resume "
              f"to finish", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    rate = f", {outcome.ran / outcome.seconds:.1f} runs/s" if outcome.seconds and outcome.ran \
        else ""
    print(f"{experiment.name}: {outcome.ran} runs done, {outcome.failed} failed, "
          f"{outcome.reused} reused{rate}; results in {out} "
          f"(load with simulator.sweep.load_sweep, report with `infogap analyze {out}`)")
    if outcome.failed:
        print(f"{outcome.failed} runs failed; the sweep went on. Tracebacks are in {out}/"
              f"index.sqlite (simulator.sweep.load_failures); first errors:", file=sys.stderr)
        for line in outcome.failures:
            print(f"  {line}", file=sys.stderr)
        print("Run again with --resume to retry them.", file=sys.stderr)
        return 1
    return 0


def analyze_command(args: argparse.Namespace) -> int:
    from ..sweep.analyze import analyze_sweep

    pairs = []
    for text in args.heatmap or []:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise UserError(f"--heatmap {text}: expected two factor keys separated by a comma, "
                            f"e.g. --heatmap market.taste.value,market.quality.low")
        pairs.append((parts[0], parts[1]))
    if not args.directory.is_dir():
        raise UserError(f"{args.directory}: no such sweep folder")
    report = analyze_sweep(args.directory, out=args.out, metrics=args.metric,
                           heatmaps=pairs or None)
    print(f"wrote {report / 'report.md'}")
    return 0
