"""How the engine's cost grows with buyers, sellers, candidates and steps: measurements and a
log-log plot.

Every point runs in a fresh single-threaded process, so its peak memory is its
own. Time per step is measured after a few untimed warm-up steps (the first
step loads the engine's compiled kernels, and buyers know no sellers yet); the
steps panel times whole runs after step 1. The plain per-agent reference loop is measured on the
buyers axis too, to show the gap. Results go to benchmarks/out/scaling.json,
the plot to docs/img/scaling.png. The plot shows CPU time (one thread), which a
shared machine disturbs far less than wall time; both are recorded.

    python benchmarks/scaling.py            # about 5 minutes on an idle core
    python benchmarks/scaling.py --quick    # smaller sizes, for a smoke test
    python benchmarks/scaling.py --plot-only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "scaling.json"
PLOT = HERE.parent / "docs" / "img" / "scaling.png"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
WARMUP = 3

#: (axis, model, buyers, sellers, timed steps[, candidates K, default 5]); "mechanisms" is
#: the engine with every
#: mechanism switched on, "numpy" the engine valuing lotteries with its numpy formulation
#: instead of the compiled (numba) loop.
FULL = (
    [("buyers", "engine", b, 200, 10) for b in (1_000, 3_000, 10_000, 30_000, 100_000)]
    + [("buyers", "mechanisms", b, 200, 10) for b in (1_000, 10_000, 100_000)]
    + [("buyers", "numpy", b, 200, 10) for b in (1_000, 10_000, 100_000)]
    + [("buyers", "reference", b, 200, 5) for b in (300, 1_000, 3_000, 10_000)]
    + [("sellers", "engine", 10_000, s, 10) for s in (20, 200, 2_000, 20_000)]
    + [("candidates", "engine", 10_000, 200, 10, k) for k in (1, 2, 5, 10, 20, 40)]
    + [("candidates", "mechanisms", 10_000, 200, 10, k) for k in (1, 5, 20)]
    + [("steps", "engine", 10_000, 200, t) for t in (10, 30, 100, 300)]
    + [("large", model, 100_000, 2_000, 10) for model in ("engine", "mechanisms", "numpy")]
)
QUICK = (
    [("buyers", "engine", b, 50, 5) for b in (300, 1_000, 3_000)]
    + [("buyers", "mechanisms", b, 50, 5) for b in (300, 3_000)]
    + [("buyers", "numpy", b, 50, 5) for b in (300, 3_000)]
    + [("buyers", "reference", b, 50, 3) for b in (300, 1_000)]
    + [("sellers", "engine", 1_000, s, 5) for s in (20, 200, 2_000)]
    + [("candidates", "engine", 1_000, 50, 5, k) for k in (1, 5, 20)]
    + [("steps", "engine", 1_000, 50, t) for t in (5, 15, 45)]
)


def every_mechanism() -> dict:
    """Market overrides switching on every on/off switch beyond the core (found in the
    parameter tree, so mechanisms added later are included)."""
    from simulator.params import iter_fields, set_dotted
    from simulator.reference.loop import IMPLEMENTED_KEYS

    tree: dict = {}
    for key, kind, default, _ in iter_fields():
        if (key.endswith(".enabled") and kind == "bool" and default is False
                and key not in IMPLEMENTED_KEYS and ".NAME." not in key):
            set_dotted(tree, key, True)
    return tree


def use_numpy_valuation() -> None:
    """Value lotteries with the engine's numpy formulation (the compiled loop's reference)."""
    from simulator.valuation import Valuation

    def value(self, theta, mean, sd, price, floor=None, cutoff=None):
        return self.of_outcomes(self.payoffs(theta, mean, sd, price, floor))

    Valuation.value = value
    Valuation.reservation = Valuation.reservation_reference


def measure(model: str, buyers: int, sellers: int, steps: int, warmup: int,
            candidates: int = 5) -> dict:
    if model == "reference":
        from simulator.reference.loop import ReferenceMarket as Model
    else:
        from simulator.model import MarketModel as Model
    if model == "numpy":
        use_numpy_valuation()

    market = every_mechanism() if model == "mechanisms" else {}
    if candidates != 5:
        market = {**market, "choice": {"candidates": candidates}}
    instance = Model({**market, "buyers": buyers, "sellers": sellers}, rng=1)
    if model == "numpy":  # shop step by step, through Valuation.value
        instance.market.plain_shop = False
    for _ in range(warmup):
        instance.step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        instance.step()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "model": model, "buyers": buyers, "sellers": sellers, "candidates": candidates,
        "steps": steps,
        "warmup": warmup, "seconds": seconds, "seconds_per_step": seconds / steps,
        "us_per_buyer_step": 1e6 * seconds / (steps * buyers),
        # CPU time: what one core spends, whatever else the machine is doing.
        "cpu_seconds": cpu, "cpu_seconds_per_step": cpu / steps,
        "cpu_us_per_buyer_step": 1e6 * cpu / (steps * buyers),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def collect(points) -> list[dict]:
    results = []
    for axis, model, buyers, sellers, steps, *candidates in points:
        warmup = 1 if axis == "steps" else WARMUP  # step 1 loads the compiled kernels
        command = [sys.executable, __file__, "--one", model, str(buyers), str(sellers),
                   str(steps), str(warmup), str(candidates[0] if candidates else 5)]
        done = subprocess.run(command, check=True, capture_output=True, text=True,
                              env={**os.environ, **ONE_THREAD})
        row = {"axis": axis, **json.loads(done.stdout.strip().splitlines()[-1]),
               "load_1min": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    panels = [
        ("buyers", "buyers", "cpu_seconds_per_step", "CPU seconds per step"),
        ("sellers", "sellers", "cpu_seconds_per_step", "CPU seconds per step"),
        ("candidates", "candidates", "cpu_seconds_per_step", "CPU seconds per step"),
        ("steps", "steps", "cpu_seconds", "CPU seconds per run (after step 1)"),
    ]
    for ax, (axis, x, y, ylabel) in zip(axes, panels, strict=True):
        for model, style, label in (("engine", "o-", "engine, core"),
                                    ("mechanisms", "^-", "engine, every mechanism on"),
                                    ("numpy", "v:", "engine, numpy valuation"),
                                    ("reference", "s--", "plain Mesa loop, core")):
            rows = sorted((r for r in results if r["axis"] == axis and r["model"] == model),
                          key=lambda r: r[x])
            if not rows:
                continue
            xs, ys = [r[x] for r in rows], [r[y] for r in rows]
            ax.loglog(xs, ys, style, label=label)
            # Slope-1 guide through the first point: cost proportional to the axis.
            ax.loglog([xs[0], xs[-1]], [ys[0], ys[0] * xs[-1] / xs[0]], ":", color="grey",
                      linewidth=0.8)
        rows = [r for r in results if r["axis"] == axis and r["model"] == "engine"]
        if rows:
            fixed = {"buyers": f"{rows[0]['sellers']:,} sellers",
                     "sellers": f"{rows[0]['buyers']:,} buyers",
                     "candidates": f"{rows[0]['buyers']:,} x {rows[0]['sellers']:,}",
                     "steps": f"{rows[0]['buyers']:,} x {rows[0]['sellers']:,}"}[axis]
            ax.set_title(f"cost vs {axis} ({fixed})", fontsize=9)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(x)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle("infogap engine cost, one core (dotted: proportional growth)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--plot-only", action="store_true",
                        help=f"redraw {PLOT.name} from {OUT.relative_to(HERE.parent)}")
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        model, *sizes = args.one
        print(json.dumps(measure(model, *map(int, sizes))), flush=True)
        return
    if args.plot_only:
        results = json.loads(OUT.read_text())
    else:
        results = collect(QUICK if args.quick else FULL)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1))
    plot(results, PLOT)
    print(f"wrote {PLOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
