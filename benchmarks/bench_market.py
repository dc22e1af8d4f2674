"""Engine speed and memory: one JSON line per market size.

Each size runs in a fresh process (so peak RSS is that size's own), on one
core. Targets (issue 2): 10,000 buyers x 200 sellers x 1,000 steps in <= 10 s
(1 us per buyer-step); 100,000 buyers x 2,000 sellers in < 2 GB.

    python benchmarks/bench_market.py            # all sizes
    python benchmarks/bench_market.py --quick    # small sizes only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SIZES = [  # buyers, sellers, steps
    (1_000, 50, 1_000),
    (10_000, 200, 1_000),
    (100_000, 2_000, 50),
]
QUICK = [(1_000, 50, 200), (10_000, 200, 100)]


def measure(buyers: int, sellers: int, steps: int, market: dict) -> dict:
    from simulator.model import MarketModel

    model = MarketModel({"buyers": buyers, "sellers": sellers, **market}, rng=1)
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    seconds = time.perf_counter() - start
    return {
        "buyers": buyers,
        "sellers": sellers,
        "steps": steps,
        "seconds": round(seconds, 3),
        "us_per_buyer_step": round(1e6 * seconds / (steps * buyers), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "market": market or "default",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--one", nargs=3, type=int, metavar=("BUYERS", "SELLERS", "STEPS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--market", default="{}", help="JSON market overrides")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, json.loads(args.market))), flush=True)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    for size in QUICK if args.quick else SIZES:
        subprocess.run([sys.executable, __file__, "--one", *map(str, size),
                        "--market", args.market], check=True, env=env)


if __name__ == "__main__":
    main()
