"""Sweep throughput and the parent's memory: one JSON line per measurement.

- throughput: runs per second of `run_sweep` on 1 and 2 local workers, and on 2
  workers of a local Dask cluster (`--executor dask`), over the whole sweep (wall
  time, including worker start-up) and in steady state (first to last finished run),
  and the ratios; the targets are >= 1.9x for 2 local workers over 1, and Dask
  within 10% of local on 2 workers.
- command: the same, timed as users wait for it: the whole `infogap sweep` command, from
  starting Python to its exit, on 1 and 2 local workers. The in-process figures start the
  clock with pandas and the store already imported, which one worker (run in that process)
  then gets for free while a second worker's process imports them again; the command pays
  for every import on both sides.
- memory: the parent process's peak RSS for a 200-run and a 2,000-run sweep of
  tiny markets; it should stay flat as the sweep grows (workers return window
  means only, the plan lives in SQLite, a bounded number of tasks is in flight).

Each measurement runs in a fresh process so peak RSS is its own.

    python benchmarks/bench_sweep.py            # everything (~4 min on 2 idle cores)
    python benchmarks/bench_sweep.py --quick    # smaller sweeps
    python benchmarks/bench_sweep.py --throughput --runs 960   # a longer sweep: the
        # workers' start-up (a fixed ~0.5 s) weighs less in the ratios
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = """
[scenario]
steps = {steps}
replications = 1
seed = 1
[market]
buyers = {buyers}
sellers = {sellers}
capacity = 1
pricing = "market"
identity = "anonymous"
[arms.base]
"""

EXPERIMENT = """
[experiment]
scenario = "scenario.toml"
design = "random"
samples = {runs}
[factors]
"market.taste.value" = {{ range = [1.5, 3.0] }}
"market.quality.low" = {{ range = [0.0, 0.5] }}
"""

THROUGHPUT = {"buyers": 200, "sellers": 50, "steps": 100}
TINY = {"buyers": 60, "sellers": 20, "steps": 20}


def measure(kind: str, runs: int, workers: int) -> dict:
    from simulator.sweep import load_experiment, load_sweep, run_sweep

    market = TINY if kind == "memory" else THROUGHPUT
    executor = "dask" if kind == "dask" else "local"
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "scenario.toml").write_text(SCENARIO.format(**market))
        (folder / "exp.toml").write_text(EXPERIMENT.format(runs=runs))
        start = time.perf_counter()
        if kind == "command":
            done = subprocess.run([sys.executable, "-m", "simulator.cli", "sweep", "exp.toml",
                                   "--out", "out", "--workers", str(workers), "--no-progress"],
                                  cwd=folder, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode:
                sys.exit(f"bench_sweep: infogap sweep failed:\n{done.stderr}")
            ran = runs
        else:
            outcome = run_sweep(load_experiment(folder / "exp.toml"), folder / "out",
                                workers=workers, executor=executor, progress=False,
                                log=lambda _: None)
            seconds = time.perf_counter() - start
            ran = outcome.ran
        table = load_sweep(folder / "out")
        db = sqlite3.connect(folder / "out" / "index.sqlite")
        first, last = db.execute("SELECT min(finished), max(finished) FROM runs").fetchone()
        db.close()
    assert ran == runs and len(table) == runs and (table["status"] == "ok").all()
    return {
        "measure": kind, "runs": runs, "workers": workers,
        "market": market, "seconds": round(seconds, 2),
        "runs_per_second": round(runs / seconds, 2),
        # From the first finished run to the last: without the workers' start-up (imports).
        "steady_runs_per_second": round((runs - 1) / (last - first), 2),
        # The sweep's own process: this one, or for `command` the infogap process it ran.
        "parent_peak_rss_mb": round(resource.getrusage(
            resource.RUSAGE_CHILDREN if kind == "command" else resource.RUSAGE_SELF
        ).ru_maxrss / 1024, 1),
        # Other work on the machine skews the speed-up: report the load it ran under.
        "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
    }


def fresh(kind: str, runs: int, workers: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(runs), str(workers)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"bench_sweep: measurement {kind} {runs} {workers} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ratio(name: str, top: dict, bottom: dict, target: float) -> dict:
    """Throughput of one measurement over another, whole sweep and steady state."""
    return {"measure": name,
            "ratio": round(top["runs_per_second"] / bottom["runs_per_second"], 2),
            "steady_ratio": round(top["steady_runs_per_second"]
                                  / bottom["steady_runs_per_second"], 2),
            "target": target}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sweeps")
    parser.add_argument("--throughput", action="store_true", help="throughput only")
    parser.add_argument("--runs", type=int, help="runs in the throughput sweeps (default 240, "
                        "--quick 40)")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "RUNS", "WORKERS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, runs, workers = args.one
        print(json.dumps(measure(kind, int(runs), int(workers))), flush=True)
        return
    runs = args.runs or (40 if args.quick else 240)
    one = fresh("throughput", runs, 1)
    print(json.dumps(one), flush=True)
    two = fresh("throughput", runs, 2)
    print(json.dumps(two), flush=True)
    print(json.dumps(ratio("speedup_2_workers", two, one, 1.9)), flush=True)
    command = [fresh("command", runs, n) for n in (1, 2)]
    for row in command:
        print(json.dumps(row), flush=True)
    print(json.dumps(ratio("speedup_2_workers_command", command[1], command[0], 1.9)),
          flush=True)
    dask = fresh("dask", runs, 2)
    print(json.dumps(dask), flush=True)
    print(json.dumps(ratio("dask_vs_local_2_workers", dask, two, 0.9)), flush=True)
    if args.throughput:
        return
    sizes = (100, 500) if args.quick else (200, 2000)
    for size in sizes:
        print(json.dumps(fresh("memory", size, 2)), flush=True)


if __name__ == "__main__":
    main()
