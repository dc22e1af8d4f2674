"""The command line's fixed costs: one JSON line per command, each in a fresh process.

What a user waits for before any simulation matters: `infogap --help`,
`infogap validate FILE`, and a tiny run (2 steps, 1 replication of
lemons.toml: imports, the compiled kernels loading from numba's cache, the
plots and the report). Each is timed in a fresh interpreter, best of 3, wall
and CPU seconds (the child's user + system time). Then the same tiny run once
with numba's cache empty (`NUMBA_CACHE_DIR` a new folder): a user's first run
after installing, which compiles the kernels it uses.

Targets: --help and validate under 0.5 s; the tiny run under 3 s (the cold one
has none: it is paid once).

    python benchmarks/bench_cli.py
    python benchmarks/bench_cli.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lemons.toml"


def commands(out: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "simulator.cli"]
    return {
        "help": [*cli, "--help"],
        "validate": [*cli, "validate", str(SCENARIO)],
        "tiny_run": [*cli, "run", str(SCENARIO), "--steps", "2", "--replications", "1",
                     "--quiet", "--out", str(out)],
    }


def timed(argv: list[str], **env: str) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process running `argv` (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (best kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="infogap-bench-cli-") as tmp:
        runs = commands(Path(tmp) / "run")
        for name, argv in runs.items():
            report(name, [timed(argv) for _ in range(max(1, args.repeat))])
        empty = str(Path(tmp) / "numba")   # numba's cache as after installing
        report("tiny_run_cold_cache", [timed(runs["tiny_run"], NUMBA_CACHE_DIR=empty)])


def report(name: str, times: list[tuple[float, float]]) -> None:
    print(json.dumps({
        "command": name,
        "seconds": round(min(w for w, _ in times), 3),
        "cpu_seconds": round(min(c for _, c in times), 3),
        "runs": len(times),
        "load": round(os.getloadavg()[0], 2),
    }), flush=True)


if __name__ == "__main__":
    main()
