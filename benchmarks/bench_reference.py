"""Engine vs the plain per-agent Mesa loop: same scenario, same machine, one run.

Each model runs in a fresh process with one thread (OMP/OPENBLAS/MKL = 1), so
neither inherits the other's memory or warm caches. One JSON line per model,
then one with the ratio of their cost per buyer-step. The machine may be
shared, so every line carries the 1-minute load average before and after.

    python benchmarks/bench_reference.py                       # 2,000 x 100, 100 steps
    python benchmarks/bench_reference.py --buyers 500 --steps 20
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
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def measure(model: str, buyers: int, sellers: int, steps: int, market: dict, seed: int,
            warmup: int) -> dict:
    """Time `steps` steps of one model after `warmup` untimed ones (construction and the
    engine's one-off compilation excluded; `warmup_seconds` reports them)."""
    if model == "engine":
        from simulator.model import MarketModel as Model
    else:
        from simulator.reference.loop import ReferenceMarket as Model

    load_before = os.getloadavg()[0]
    begin = time.perf_counter()
    instance = Model({**market, "buyers": buyers, "sellers": sellers}, rng=seed)
    for _ in range(warmup):
        instance.step()
    warmup_seconds = time.perf_counter() - begin
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        instance.step()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    return {
        "model": model,
        "buyers": buyers,
        "sellers": sellers,
        "steps": steps,
        "warmup_steps": warmup,
        "warmup_seconds": round(warmup_seconds, 3),
        "seconds": round(seconds, 3),
        "us_per_buyer_step": round(1e6 * seconds / (steps * buyers), 3),
        "cpu_seconds": round(cpu_seconds, 3),  # less sensitive than wall time to other load
        "cpu_us_per_buyer_step": round(1e6 * cpu_seconds / (steps * buyers), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "market": market or "default",
    }


def run_in_fresh_process(model: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--one", model, "--buyers", str(args.buyers),
               "--sellers", str(args.sellers), "--steps", str(args.steps),
               "--market", args.market, "--seed", str(args.seed), "--warmup", str(args.warmup)]
    done = subprocess.run(command, check=True, capture_output=True, text=True,
                          env={**os.environ, **ONE_THREAD})
    line = done.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=2_000)
    parser.add_argument("--sellers", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps first (numba compiles, caches fill)")
    parser.add_argument("--market", default="{}",
                        help="JSON market overrides (core parameters only: the reference "
                             "loop refuses mechanisms)")
    parser.add_argument("--one", choices=("engine", "reference"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = measure(args.one, args.buyers, args.sellers, args.steps,
                         json.loads(args.market), args.seed, args.warmup)
        print(json.dumps(result), flush=True)
        return
    engine = run_in_fresh_process("engine", args)
    reference = run_in_fresh_process("reference", args)
    print(json.dumps({
        "ratio": "reference / engine, us per buyer-step",
        "value": round(reference["us_per_buyer_step"] / engine["us_per_buyer_step"], 1),
        "cpu_value": round(reference["cpu_us_per_buyer_step"]
                           / engine["cpu_us_per_buyer_step"], 1),
        "buyers": args.buyers, "sellers": args.sellers, "steps": args.steps,
        "cpus": os.cpu_count(),
    }), flush=True)


if __name__ == "__main__":
    main()
