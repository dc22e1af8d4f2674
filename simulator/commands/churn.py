"""`infogap churn DIR`: which customer signals predict leaving, per arm of a run's panel."""

from __future__ import annotations

import argparse
from pathlib import Path

#: simulator.churn.DEFAULT_TEST_SHARE, repeated here so that building the command line does
#: not import pandas and scipy (a test holds the two equal).
DEFAULT_TEST_SHARE = 0.3


def register(subparsers) -> None:
    churn = subparsers.add_parser(
        "churn", help="fit a churn model to a run's buyer-period panel",
        description="Fit, per arm, a logistic regression of leaving at the next step on the "
        "buyer's trust, tenure, last expectation gap, disappointments, steps without a "
        "purchase, price paid, switching and segment, on some replications, and test it on "
        "the others. Reads DIR/panel.csv (or panel.parquet) from `infogap run SCENARIO --panel --out DIR`; writes "
        "coefficients, AUC, a calibration plot and report.md to DIR/churn/.")
    churn.add_argument("directory", metavar="DIR", help="output folder of infogap run --panel")
    churn.add_argument("--test-share", metavar="F", type=_fraction, default=DEFAULT_TEST_SHARE,
                       help="share of replications held out for testing, the last ones "
                       f"(default: {DEFAULT_TEST_SHARE})")
    churn.add_argument("--out", metavar="OUT", help="output folder (default: DIR/churn/)")
    churn.add_argument("--quiet", action="store_true", help="print nothing on success")
    churn.set_defaults(func=churn_command)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction, found {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, found {text}")
    return value


def churn_command(args) -> int:
    from ..churn import analyse, find_panel, read_panel, write_churn

    path = find_panel(args.directory)
    result = analyse(read_panel(path), test_share=args.test_share, source=path)
    out = Path(args.out) if args.out else Path(args.directory) / "churn"
    write_churn(result, out)
    if not args.quiet:
        print(summary_text(result))
        print(f"\nwrote {out}/ (report.md, coefficients.csv, performance.csv, "
              "calibration.csv, calibration.png, coefficients.png)")
    return 0


def summary_text(result) -> str:
    from ..output import fmt

    lines = [f"churn model on {result.source} ({result.rows:,} buyer-steps), held-out AUC "
             "per arm (a constant predictor has 0.5):"]
    for fit in result.fits:
        if fit.skipped:
            lines.append(f"  {fit.arm}: no model: {fit.skipped}")
            continue
        p = fit.performance
        table = fit.coefficients[fit.coefficients["feature"] != "const"]
        separated = table[table["separated"]] if not fit.penalised else table.iloc[:0]
        top = table[~table.index.isin(separated.index)]
        top = top.reindex(top["coef"].abs().sort_values(ascending=False).index).head(3)
        signals = ", ".join(f"{r.feature} {fmt(r.coef)}" for r in top.itertuples())
        line = (f"  {fit.arm}: AUC {fmt(p['auc'])}, Brier {fmt(p['brier'])} vs "
                f"{fmt(p['constant_brier'])} constant; strongest: {signals}")
        if fit.penalised:
            line += " (penalised fit: signs only)"
        if len(separated):
            line += ("; separated, not an effect: "
                     + ", ".join(f"{r.feature} {fmt(r.coef)}" for r in separated.itertuples()))
        lines.append(line)
    return "\n".join(lines)
