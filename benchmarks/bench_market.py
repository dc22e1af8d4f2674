"""Engine speed and memory: one JSON line per market size.

Each size runs in a fresh process (so peak RSS is that size's own), on one
core, after two untimed warm-up steps (the compiled kernels load in the
first). Cost is per buyer-step actually simulated: the sum over steps of the
buyers active at the start of the step (buyers who leave cost nothing).

Targets: 10,000 buyers x 200 sellers x 1,000 steps in <= 10 s, i.e. <= 1 us
per buyer-step, core and with every mechanism on; 100,000 buyers x 2,000
sellers under 2 GB and 0.5 s per step; 1,000,000 buyers x 10,000 sellers
under 4 GB and 1.5 s per step.

    python benchmarks/bench_market.py            # all sizes
    python benchmarks/bench_market.py --quick    # small sizes only
    python benchmarks/bench_market.py --threads 2  # numba threads in each run (same results)
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

SIZES = [  # buyers, sellers, steps, market
    (1_000, 50, 1_000, "core"),
    (10_000, 200, 1_000, "core"),
    (10_000, 200, 1_000, "every_mechanism"),
    (100_000, 2_000, 20, "core"),
    (100_000, 2_000, 20, "every_mechanism"),
    (1_000_000, 10_000, 5, "core"),  # target: under 4 GB and 1.5 s per step
]
QUICK = [(1_000, 50, 200, "core"), (10_000, 200, 100, "core"),
         (10_000, 200, 100, "every_mechanism")]


def market(name: str) -> dict:
    """`core`: the default market. `every_mechanism`: every on/off switch of the parameter
    tree on (so mechanisms added later are included), in a market that keeps trading."""
    if name == "core":
        return {}
    from simulator.params import iter_fields, set_dotted

    tree: dict = {"quality": {"low": 0.2, "high": 1.0}, "arrivals": {"rate": 0.01},
                  "taste": {"distribution": "uniform", "low": 1.2, "high": 2.0}}
    for key, kind, default, _ in iter_fields():
        if key.endswith(".enabled") and kind == "bool" and not default and ".NAME." not in key:
            set_dotted(tree, key, True)
    return tree


def measure(buyers: int, sellers: int, steps: int, name: str, threads: int = 1) -> dict:
    from simulator import kernels
    from simulator.model import MarketModel

    kernels.set_threads(threads)
    model = MarketModel({"buyers": buyers, "sellers": sellers, **market(name)}, rng=1)
    for _ in range(2):
        model.step()
    buyer_steps = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        buyer_steps += int(model.buyers.active[: model.buyers.size].sum())
        model.step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "buyers": buyers,
        "sellers": sellers,
        "steps": steps,
        "market": name,
        "threads": threads,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "seconds_per_step": round(wall / steps, 4),
        "us_per_buyer_step": round(1e6 * wall / max(buyer_steps, 1), 3),
        "buyer_steps": buyer_steps,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--one", nargs=4, metavar=("BUYERS", "SELLERS", "STEPS", "MARKET"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1,
                        help="numba threads inside each run (kernels.set_threads; default 1)")
    args = parser.parse_args()
    if args.one:
        b, s, t, name = args.one
        print(json.dumps(measure(int(b), int(s), int(t), name, args.threads)), flush=True)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": str(max(1, args.threads)),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for size in QUICK if args.quick else SIZES:
        subprocess.run([sys.executable, __file__, "--one", *map(str, size),
                        "--threads", str(args.threads)], check=True, env=env)


if __name__ == "__main__":
    main()
