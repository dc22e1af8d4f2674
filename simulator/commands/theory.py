"""`infogap theory`: what economic theory predicts for each arm of a scenario."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import UserError

#: Metrics printed per equilibrium, in this order (others go to theory.csv only).
SHOWN = ("price", "volume", "quality_traded", "efficiency", "active_sellers",
         "disclosure_rate", "certified_share", "total_surplus", "price_low", "price_high")


def register(subparsers) -> None:
    theory = subparsers.add_parser(
        "theory", help="the equilibrium benchmarks theory predicts for a scenario's arms",
        description="Solve the static benchmarks that apply to each arm's market from the same "
        "parameters the simulation uses (first best; Akerlof's hidden-quality equilibria; "
        "Grossman-Milgrom disclosure; Spence certification; the prospect-theory value of a "
        "purchase from an unknown seller) and print them; with --out also write theory.csv. "
        "Volumes are units per step.")
    theory.add_argument("scenario", metavar="FILE", help="scenario file (.toml)")
    theory.add_argument("--arm", metavar="NAME", dest="arms", action="append",
                        help="only this arm (repeatable; default: every arm)")
    theory.add_argument("--out", metavar="DIR", help="also write DIR/theory.csv")
    theory.set_defaults(func=theory_command)


def theory_command(args) -> int:
    from ..scenario import Scenario
    from ..theory import rows, theories

    scenario = Scenario.load(args.scenario)
    for arm in args.arms or []:
        if arm not in scenario.arms:
            raise UserError(f"--arm {arm}: expected an arm of {args.scenario} "
                            f"({', '.join(scenario.arm_names)}), found {arm!r}")
    arms = list(dict.fromkeys(args.arms)) if args.arms else None
    found = theories(scenario, arms)
    print(f"{scenario.name}: static benchmarks per arm (volume in units per step; "
          "* = the equilibrium a going price starting from buyers' prior reaches)")
    for theory in found:
        print()
        print("\n".join(describe(theory)))
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out}: expected a folder, found a file")
        import csv

        out.mkdir(parents=True, exist_ok=True)
        with open(out / "theory.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["arm", "benchmark", "equilibrium", "metric", "value"])
            for theory in found:
                writer.writerows(rows(theory))
        print(f"\nwrote {out / 'theory.csv'}")
    return 0


def describe(theory) -> list[str]:
    lines = [f"{theory.arm}:"]
    for o in theory.outcomes:
        mark = "*" if o.reached and o.benchmark != "first_best" else " "
        values = ", ".join(f"{m} {_num(o.metrics[m])}" for m in SHOWN if m in o.metrics)
        lines.append(f" {mark} {o.benchmark} / {o.equilibrium}: {values}")
        if o.note:
            lines.append(f"      {o.note}")
    for t in theory.thresholds:
        lines.append(f"   threshold ({t.benchmark}): {t.key} = {_num(t.value)}: {t.note}")
    for benchmark, name, metric, value in theory.facts:
        lines.append(f"   {benchmark} / {name}: {metric} {_num(value)}")
    for note in theory.notes:
        lines.append(f"   note: {note}")
    if theory.prediction() is None:
        lines.append("   (no benchmark of its own applies; only the first best)")
    return lines


def _num(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    return f"{x:.4g}"
