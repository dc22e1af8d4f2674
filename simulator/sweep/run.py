"""Running a sweep: plan it, skip what is stored, execute the rest, record each run as it ends."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import UserError
from .design import build_design
from .executors import Executor, check_options, make_executor, with_threads
from .experiment import Experiment
from .plan import plan_runs
from .store import INDEX, LOCK, SweepStore, export_csv, load_sweep
from .work import DEFAULT_RUNNER, execute, warm_up

#: Failures whose message is kept in memory for the closing summary (all are in the index).
MAX_FAILURES_SHOWN = 5


@dataclass
class SweepOutcome:
    out: Path
    planned: int                  # rows of the table (design points x arms x replications)
    distinct: int                 # distinct runs (identical rows share one run)
    reused: int                   # already stored when the sweep started
    ran: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)   # last line of the first few errors

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.reused + self.ran == self.distinct


def run_sweep(experiment: Experiment, out: str | Path, *, workers: int | None = None,
              executor: str = "local", scheduler: str | None = None, resume: bool = False,
              progress: bool = True, csv: bool = False, runner: str = DEFAULT_RUNNER,
              panel: bool = False, threads: int | None = None, log=None) -> SweepOutcome:
    """Run every missing run of `experiment` into folder `out`; see `SweepOutcome`.

    The executor is started (and a --scheduler reached) before the folder is touched, and
    a folder this call created is removed again if planning fails. `threads`: numba
    threads inside each run (`kernels.set_threads`; same results for any number).
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    out = Path(out)
    check_options(executor, workers, scheduler, threads)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, expected a folder for the sweep")
    created = not out.exists()
    fresh = created or not any(out.iterdir())
    with make_executor(executor, workers, scheduler, warm_up=warm_up) as pool:
        store = SweepStore.open(out, resume=resume)
        try:
            design = build_design(experiment)
            points = ((i, values, None if design.matrix is None else design.matrix[i].tolist())
                      for i, values in enumerate(design.points))
            try:
                store.write_plan(experiment.describe(), points,
                                 plan_runs(experiment, design, runner, panel=panel))
            except UserError:
                if fresh:  # a design point is invalid: leave no half-made folder behind
                    store.close()
                    shutil.rmtree(out if created else out / "runs", ignore_errors=True)
                    if not created:
                        for name in (INDEX, f"{INDEX}-wal", f"{INDEX}-shm", LOCK):
                            (out / name).unlink(missing_ok=True)
                raise
            todo = store.todo()
            planned, distinct = store.db.execute(
                "SELECT (SELECT count(*) FROM plan), (SELECT count(*) FROM tasks)").fetchone()
            outcome = SweepOutcome(Path(out), planned, distinct, reused=distinct - len(todo))
            damaged = (f" ({store.damaged} stored runs unreadable, run again)"
                       if store.damaged else "")
            log(f"{experiment.name}: {planned} runs planned ({distinct} distinct), "
                f"{outcome.reused} already stored, {len(todo)} to do{damaged}")
            if todo:
                _execute(store, todo, outcome, pool, progress, with_threads(execute, threads))
        finally:
            store.close()
    load_sweep(out)  # refresh results.parquet
    if csv:
        log(f"wrote {export_csv(out)}")
    return outcome


def _execute(store: SweepStore, todo: list[str], outcome: SweepOutcome, pool: Executor,
             progress: bool, run) -> None:
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="run", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty(),
               dynamic_ncols=True, desc="sweep")
    try:
        for task, result, error in pool.imap_unordered(run, store.tasks(todo)):
            if error is not None:
                result = {"key": task.key, "ok": False,
                          "error": f"the executor lost this run: {error!r}", "elapsed": None}
            store.record(result)
            if result["ok"]:
                outcome.ran += 1
            else:
                outcome.failed += 1
                if len(outcome.failures) < MAX_FAILURES_SHOWN:
                    outcome.failures.append(result["error"].strip().splitlines()[-1])
            bar.set_postfix(failed=outcome.failed, refresh=False)
            bar.update()
    finally:
        bar.close()
        outcome.seconds = time.perf_counter() - start
