"""The shipped scenarios as users run them: one JSON line per scenario, then the total.

`bench_market.py` times large markets with unlimited capacity; the shipped scenarios are
small (200-300 buyers), mostly sell one or two units a seller a step and price by market
clearing, so a step there is mostly the phases' numpy calls, the allocation and the
reservation prices. Each arm of each scenario runs once (its own steps, seed 7), in this
one process after a warm-up run, one thread; wall and CPU seconds.

    python benchmarks/bench_scenarios.py
    python benchmarks/bench_scenarios.py --repeat 3   # best of 3 per scenario
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N per scenario")
    args = parser.parse_args()

    from simulator.model import simulate
    from simulator.scenario import Scenario

    scenarios = [Scenario.load(path) for path in sorted((ROOT / "scenarios").glob("*.toml"))]
    simulate(next(iter(scenarios[0].arms.values())), 3, 1)   # the kernels from the cache
    total = cpu_total = 0.0
    for scenario in scenarios:
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            for params in scenario.arms.values():
                simulate(params, scenario.steps, 7)
            best = min(best, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        total, cpu_total = total + best, cpu_total + best_cpu
        print(json.dumps({"scenario": scenario.name, "arms": len(scenario.arms),
                          "steps": scenario.steps, "seconds": round(best, 3),
                          "cpu_seconds": round(best_cpu, 3)}), flush=True)
    print(json.dumps({"scenario": "all", "seconds": round(total, 2),
                      "cpu_seconds": round(cpu_total, 2),
                      "load": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
