"""Where a step's time goes: wall milliseconds per step of each phase of `MarketModel.step`
and of each mechanism hook, over a stretch of steps of a benchmark market.

Phases are timed where the step calls them (inclusive: a phase's time contains its hooks');
hooks where the engine or another hook calls them, so a hook called by another hook (a
mechanism's `choose` from its `decide`) is counted in both. Each timed call costs the timer
about half a microsecond, a few tenths of a millisecond a step over all the hooks.

    python benchmarks/phase_times.py 300 500                  # every mechanism, steps 300-500
    python benchmarks/phase_times.py 300 500 --market core
    NUMBA_NUM_THREADS=2 python benchmarks/phase_times.py 300 500 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_market import market  # noqa: E402

PHASES = {
    "publish": ["start_step", "publish"], "decide": ["decide"], "price": ["set_prices"],
    "shop": ["shop", "candidates", "predictive_beliefs", "value_cells"],
    "settle": ["settle"], "learn": ["learn"], "account": ["account"], "churn": ["churn"],
    "turnover": ["exits", "entrants"],
}
MODEL_METHODS = ["_add_buyers", "_remove_buyers", "_add_sellers", "_remove_sellers"]


def timed(spent: Counter, on: list[bool], label: str, fn):
    def call(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        if on[0]:
            spent[label] += time.perf_counter() - start
        return out
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start", type=int, help="first timed step")
    parser.add_argument("end", type=int, help="step after the last timed one")
    parser.add_argument("--market", default="every_mechanism", choices=["core", "every_mechanism"])
    parser.add_argument("--buyers", type=int, default=10_000)
    parser.add_argument("--sellers", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="numba threads (--threads)")
    args = parser.parse_args()

    from simulator import kernels, metrics, phases
    from simulator.mechanisms.base import Mechanism
    from simulator.model import MarketModel

    spent, on = Counter(), [False]
    for module, names in PHASES.items():
        mod = getattr(phases, module)
        for name in names:
            setattr(mod, name, timed(spent, on, f"{module}.{name}", getattr(mod, name)))
    for name in ("step_metrics", "first_best"):
        setattr(metrics, name, timed(spent, on, f"metrics.{name}", getattr(metrics, name)))
    for name in MODEL_METHODS:
        setattr(MarketModel, name, timed(spent, on, f"model.{name}", getattr(MarketModel, name)))

    kernels.set_threads(args.threads)
    model = MarketModel({"buyers": args.buyers, "sellers": args.sellers,
                         **market(args.market)}, rng=1)
    hooks = [name for name, value in vars(Mechanism).items()
             if callable(value) and not name.startswith("_")]
    for mech in model.market.mechanisms:
        for name in hooks:
            label = f"  {type(mech).__name__}.{name}"
            setattr(mech, name, timed(spent, on, label, getattr(mech, name)))

    for _ in range(args.start):
        model.step()
    on[0] = True
    steps, buyers = args.end - args.start, 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        buyers += len(model.market.active_buyers())
        model.step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"steps {args.start}-{args.end} of {args.market}, {args.threads} thread(s): "
          f"{wall / steps * 1e3:.2f} ms a step (CPU {cpu / steps * 1e3:.2f}), "
          f"{buyers / steps:.0f} active buyers, "
          f"{wall / buyers * 1e6:.3f} us a buyer-step")
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if seconds / steps >= 5e-6:
            print(f"{seconds / steps * 1e3:8.3f} ms  {label}")


if __name__ == "__main__":
    main()
