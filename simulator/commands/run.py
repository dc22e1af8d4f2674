"""`infogap run` (arms x replications, CSVs, plots, report) and `infogap validate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError, one_line
from ..output import AtomicFolder
from ..scenario import Scenario, parse_assignment, read_toml
from . import add_execution_options


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run a scenario's arms side by side and write a report",
        description="Run every arm of a scenario REPLICATIONS times (replication r of every arm "
        "shares its random streams) and write timeseries.csv, summary.csv, comparison.csv, "
        "theory.csv (what theory predicts for each arm), "
        "report.md and plots to DIR (with buyer segments also segments.csv; with --panel the "
        "buyer-period panel).")
    run.add_argument("scenario", metavar="SCENARIO", help="scenario file (.toml)")
    run.add_argument("--out", metavar="DIR", help="output folder (default: results/NAME/)")
    run.add_argument("--replications", metavar="N", type=_whole,
                     help="replications per arm (default: the scenario's)")
    run.add_argument("--steps", metavar="N", type=_whole,
                     help="steps per run (default: the scenario's)")
    run.add_argument("--seed", metavar="S", type=_whole,
                     help="root seed (default: the scenario's)")
    run.add_argument("--set", metavar="KEY=VALUE", dest="assignments", action="append",
                     default=[],
                     help="override one key (repeatable), e.g. --set market.buyers=200 "
                     "--set arms.transparent.market.information=noisy (arms still override "
                     "[market])")
    run.add_argument("--workers", metavar="N", type=_whole, default=1,
                     help="processes to run replications on (results are identical for any N "
                     "and executor)")
    add_execution_options(run, threads_type=_whole, executor_help="local processes "
                          "(default) or dask.distributed, as for `sweep`")
    run.add_argument("--panel", action="store_true",
                     help="also write the buyer-period panel (panel.csv, or panel.parquet when "
                     "large) for `infogap churn`")
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary table")
    run.set_defaults(func=run_command)

    validate = subparsers.add_parser(
        "validate", help="check scenario and experiment files without running them",
        description="Check scenario and experiment files: syntax, keys, types, ranges, and "
        "sizes this machine can take. Exit status 2 if any file has a problem.")
    validate.add_argument("scenarios", metavar="FILE", nargs="+",
                          help="scenario or experiment files (.toml)")
    validate.set_defaults(func=validate_command)


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None


def overrides_from(args) -> dict:
    """Dotted-key overrides from --set, --steps, --replications and --seed."""
    overrides = dict(parse_assignment(a) for a in args.assignments)
    for option in ("steps", "replications", "seed"):
        value = getattr(args, option)
        if value is not None:
            overrides[f"scenario.{option}"] = value
    return overrides


def run_command(args) -> int:
    from ..figure_process import Figures
    from ..report import write_files
    from ..sweep.executors import check_options

    scenario = Scenario.load(args.scenario, overrides_from(args))
    if args.workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {args.workers}")
    check_options(args.executor, args.workers, args.scheduler, args.threads)
    out = Path(args.out) if args.out else Path("results") / scenario.name
    # Checked and staged before running: an unwritable --out is refused at once.
    folder = AtomicFolder(out, protect=[scenario.path] if scenario.path else [])
    # Started now (after pandas, before numba and the runner's imports, which it does not
    # need), the figure process imports matplotlib and solves theory's levels while this one
    # simulates.
    figures = Figures(scenario)
    try:
        from ..compile_notice import announce_compiling
        from ..runner import run_scenario

        announce_compiling()

        results = run_scenario(scenario, workers=args.workers, progress=not args.quiet,
                               panel=args.panel, executor=args.executor,
                               scheduler=args.scheduler, threads=args.threads)
        write_files(results, folder.staging, figures=figures)
        figures.wait()
        folder.commit()
    finally:
        figures.close()
        folder.discard()
    if not args.quiet:
        from ..report import format_summary, panel_file_name

        print(format_summary(results))
        extra = ""
        if results.segment_timeseries is not None:
            extra += ", segments.csv"
        if args.panel:
            extra += f", {panel_file_name(len(results.panel))}"
        print(f"\nwrote {out}/ (timeseries.csv, summary.csv, comparison.csv, theory.csv{extra}, "
              "report.md, plots)")
    return 0


def validate_command(args) -> int:
    status = 0
    for path in args.scenarios:
        try:
            print(f"ok: {path}: {_validated(Path(path))}")
        except UserError as exc:
            print(f"infogap: error: {one_line(str(exc))}", file=sys.stderr)
            status = 2
    return status


#: Tables only an experiment file has; a file with any of them is validated as one.
EXPERIMENT_TABLES = ("experiment", "factors", "fixed", "analyze")


def _validated(path: Path) -> str:
    """Validate a scenario or experiment file; what it would run, in one line."""
    if any(table in read_toml(path) for table in EXPERIMENT_TABLES):
        from ..sweep.experiment import count_runs, load_experiment

        e = load_experiment(path)
        return (f"experiment {e.name}, scenario {e.scenario_path}, design {e.design}, "
                f"{len(e.factors)} factors, {count_runs(e):,} runs x {e.steps} steps")
    s = Scenario.load(path)
    return (f"{s.name}, arms {', '.join(s.arm_names)} (baseline {s.baseline}), "
            f"{s.replications} replications x {s.steps} steps")
