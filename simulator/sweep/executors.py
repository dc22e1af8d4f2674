"""Where runs execute: this process, a local process pool or a Dask cluster, behind one
small interface used by both `infogap run` and `infogap sweep`.

`Executor.imap_unordered(fn, items)` yields `(item, result, error)` as runs
finish, keeping only a bounded number of tasks in flight, so the parent's
memory does not grow with the size of the sweep. A Dask task runs a batch of
quick runs (about a second of them), so the scheduler's cost per task is spread
over several runs. A run's result depends only on its task, so executors and
worker counts give bit-identical results.

Local workers ignore Ctrl-C (the parent handles it and stops them) and exit by
themselves when the parent dies, even by SIGKILL. A worker that dies (killed,
out of memory) breaks the whole pool: its runs and every other run in flight
are resubmitted to a fresh pool, and only a run lost `MAX_LOSSES` times is
reported as lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial
from itertools import count, islice
from typing import Any

from ..errors import UserError

EXECUTORS = ("local", "dask")

#: Tasks in flight per worker: enough to keep workers busy, few enough to keep memory flat.
IN_FLIGHT_PER_WORKER = 4
#: How often a local worker checks that the process that started it is still alive.
PARENT_CHECK_SECONDS = 0.5
#: A run in flight when its pool broke this many times is reported as lost, not retried.
MAX_LOSSES = 3
#: How long to wait for a Dask scheduler given by --scheduler.
SCHEDULER_TIMEOUT = "20s"
#: A Dask task runs several quick runs, about this long in all: the scheduler, the client
#: and the worker spend some milliseconds of CPU on every task, which on runs of a few
#: tenths of a second took several per cent of the machine (docs/performance.md).
DASK_TASK_SECONDS = 1.0
#: The most runs in one Dask task.
MAX_BATCH = 64


class Executor(ABC):
    """Runs `fn(item)` for many items on some workers."""

    workers: int

    @abstractmethod
    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]
                       ) -> Iterator[tuple[Any, Any, BaseException | None]]:
        """Yield (item, fn(item), None), or (item, None, error) if the executor lost the run."""

    @abstractmethod
    def close(self, abort: bool = False) -> None:
        """Release the workers; with `abort` (an error or Ctrl-C) stop runs in flight now."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(abort=kind is not None)


def check_options(kind: str, workers: int | None = None, scheduler: str | None = None,
                  threads: int | None = None) -> None:
    """Refuse bad executor options before anything is written."""
    if kind not in EXECUTORS:
        raise UserError(f"--executor: expected one of {', '.join(EXECUTORS)}, found {kind!r}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {workers}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise UserError(f"--threads: expected a whole number >= 1, found {threads}")
    if scheduler is not None and kind != "dask":
        raise UserError("--scheduler: only used with --executor dask")


def with_threads(fn: Callable[[Any], Any], threads: int | None) -> Callable[[Any], Any]:
    """`fn` run with `threads` numba threads inside each run (`kernels.set_threads`), in
    whichever process runs it: this one, a local worker or a Dask worker. The setting
    travels with every call (a worker started later, or a Dask worker that joins, gets it
    too). None leaves the process's setting alone (one thread unless set)."""
    return fn if threads is None else partial(_call_with_threads, fn, int(threads))


def _call_with_threads(fn: Callable[[Any], Any], threads: int, item: Any) -> Any:
    from ..kernels import get_threads, set_threads

    previous = get_threads()
    set_threads(threads)
    try:
        return fn(item)
    finally:
        set_threads(previous)


def make_executor(kind: str, workers: int | None = None, scheduler: str | None = None,
                  runs: int | None = None, warm_up: Callable[[], None] | None = None
                  ) -> Executor:
    """The executor for `--executor kind`; local with one worker (or one run) runs in this
    process. `runs`, when known, caps the number of local workers. Worker processes are
    started at once and each calls `warm_up()` (imports, compiled kernels) while this
    process goes on, e.g. planning the sweep."""
    check_options(kind, workers, scheduler)
    if kind == "local":
        workers = min(workers or os.cpu_count() or 1, runs or 1 << 30)
        return InlineExecutor() if workers <= 1 else LocalExecutor(workers, warm_up)
    return DaskExecutor(workers, scheduler, warm_up)


class InlineExecutor(Executor):
    """Runs in this process, one after the other: no start-up cost, Ctrl-C stops at once."""

    workers = 1

    def imap_unordered(self, fn, items):
        for item in items:
            yield item, fn(item), None

    def close(self, abort: bool = False) -> None:
        pass


@contextmanager
def _interrupts_ignored():
    """Processes started inside inherit an ignored SIGINT, so Ctrl-C reaches only the parent,
    which stops the pool: no traceback from every worker, even one still importing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(parent: int, warm_up: Callable[[], None] | None = None) -> None:
    """Workers leave Ctrl-C to the parent, and exit if the parent dies (e.g. SIGKILL), which
    would otherwise leave them running queued runs or blocked on the task queue for ever.
    Then `warm_up()`, which must not raise (an initializer that raises breaks the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    own_parent = os.getppid()

    def watch() -> None:
        _wait_for_exit(parent, own_parent)
        os._exit(1)

    threading.Thread(target=watch, name="infogap-parent-watch", daemon=True).start()
    if warm_up is not None:
        warm_up()


def _wait_for_exit(parent: int, own_parent: int) -> None:
    """Return once process `parent` (the sweep's) has ended. A forked worker's own parent
    is the forkserver, which outlives the sweep's process while any worker lives, so the
    sweep's process is watched itself: through a pidfd (Linux; it also sees a parent that
    is dead but not yet reaped), else by polling, which also ends when this worker's own
    parent changes (a spawned worker orphaned)."""
    try:
        handle = os.pidfd_open(parent)
    except (AttributeError, OSError):   # no pidfd here, or the parent is already gone
        handle = None
    if handle is not None:
        select.select([handle], [], [])   # readable when the process ends
        return
    while os.getppid() == own_parent and _alive(parent):
        time.sleep(PARENT_CHECK_SECONDS)


#: Imported by the forkserver local workers are forked from: everything a run needs, warmed.
WORKER_PRELOAD = ["simulator.sweep.warm_workers"]


def _worker_context() -> multiprocessing.context.BaseContext:
    """Forkserver where the platform has one, else spawn (Windows). This process is never
    forked itself: it may hold threads (the Dask client, progress), and a fork copies them
    mid-step. The forkserver holds no Python threads (the native pools it has, OpenBLAS's
    and jemalloc's, prepare themselves for fork, as they do under the fork method)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def start_early(kind: str, workers: int | None) -> None:
    """Start the forkserver local workers are forked from now, early in a command: its
    imports (0.5 s) then overlap this process's own (pandas, the store, the plan) instead of
    following them. `LocalExecutor` finds it running. If the sweep needs no second worker
    after all, it only idles until this process exits."""
    count = workers if workers is not None else os.cpu_count() or 1   # as make_executor
    if kind == "local" and count > 1:
        _start_forkserver(_worker_context())


def _start_forkserver(context: multiprocessing.context.BaseContext) -> bool:
    """Start the forkserver `context` forks workers from, if it is a forkserver context and
    the server is not running yet; returns at once (it preloads meanwhile): whether it
    is one."""
    if context.get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: the pid was reused
        return False
    return True


def _started() -> None:
    """A task that does nothing: submitting one per worker starts the worker now."""


class LocalExecutor(Executor):
    """A process pool whose workers are ready by the first run: the forkserver they are
    forked from imports and warms up while this process plans (where there is none,
    spawned workers are started at once, to import and warm up while it plans)."""

    def __init__(self, workers: int, warm_up: Callable[[], None] | None = None):
        self.workers = workers
        self._warm_up, self._warming = warm_up, []
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = _worker_context()
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                   initializer=_worker_init,
                                   initargs=(os.getpid(), self._warm_up))
        if _start_forkserver(context):
            # It preloads while this process plans, and the workers are forked when the
            # first runs are submitted (waiting for it if need be): submitting now would
            # block here until it is ready.
            return pool
        with _interrupts_ignored():   # each submit starts a worker while none is idle
            for _ in range(self.workers):
                pool.submit(_started)
        return pool

    def imap_unordered(self, fn, items):
        items = iter(items)
        numbers = count()
        limit = self.workers * IN_FLIGHT_PER_WORKER
        pending: dict = {}   # future -> (number, item)
        losses: dict[int, int] = {}

        def submit(number: int, item) -> None:
            with _interrupts_ignored():   # a worker started now inherits it while importing
                pending[self._pool.submit(fn, item)] = (number, item)

        for item in islice(items, limit):
            submit(next(numbers), item)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            lost = []
            for future in done:
                number, item = pending.pop(future)
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    lost.append((number, item))
                elif error is not None:
                    yield item, None, error
                else:
                    yield item, future.result(), None
            if lost:
                # A worker died: the pool is broken and every run in flight with it. Give
                # them all to a fresh pool (runs are deterministic: redoing one is harmless).
                lost += sorted(pending.values(), key=lambda pair: pair[0])
                pending.clear()
                self._stop(self._pool)
                self._pool = self._new_pool()
                for number, item in lost:
                    losses[number] = losses.get(number, 0) + 1
                    if losses[number] >= MAX_LOSSES:
                        yield item, None, BrokenProcessPool(
                            f"the worker process running this run died {MAX_LOSSES} times")
                    else:
                        submit(number, item)
            for item in islice(items, limit - len(pending)):
                submit(next(numbers), item)

    @staticmethod
    def _stop(pool: ProcessPoolExecutor) -> None:
        """Stop a pool now, killing runs in flight (Python < 3.14 has no terminate_workers)."""
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(5)

    def close(self, abort: bool = False) -> None:
        if abort:
            self._stop(self._pool)
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)


def batch_size(runs: int, seconds: float) -> int:
    """Runs per Dask task, from `runs` timed runs that took `seconds` in all."""
    if runs == 0:
        return 1
    return max(1, min(MAX_BATCH, int(DASK_TASK_SECONDS * runs / max(seconds, 1e-9))))


def run_batch(fn: Callable[[Any], Any], items: list[Any]
              ) -> tuple[list[tuple[Any, BaseException | None]], float]:
    """One Dask task: `fn` on each item, as (result, None) or (None, the exception it
    raised), so one failing run does not take its batch with it; and the seconds taken."""
    start = time.perf_counter()
    outcomes = []
    for item in items:
        try:
            outcomes.append((fn(item), None))
        except Exception as exc:  # noqa: BLE001 - reported for this item, as unbatched
            outcomes.append((None, exc))
    return outcomes, time.perf_counter() - start


#: Settings of the Dask cluster this process starts (not of one given by --scheduler). Runs
#: are long and mostly Python: the workers' statistical profiler, which samples the running
#: task's stack 100 times a second, takes the GIL from it and a few per cent of a core; the
#: event loops' health tick every 20 ms and work stealing (runs are alike) cost the parent,
#: which hosts the scheduler and the nannies, CPU the workers could use. So do the system
#: monitors (every 0.5 s, for a dashboard this cluster does not serve) and the memory
#: checks (every 0.1 s): idle, the parent took 27 ms of CPU a second and each worker 11 ms;
#: with the intervals below 9-10 and 4 ms. The memory limits still hold, checked each second.
#: Workers are forked from a forkserver that imports distributed (and its dependencies)
#: once, instead of each spawned worker importing it (about a second of CPU each); like
#: spawn, the forkserver holds no threads, so forking from it is safe (where there is no
#: forkserver, as on Windows, workers are spawned).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.multiprocessing-method":
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn",
}


class DaskExecutor(Executor):
    """dask.distributed: a Client to `scheduler`, or a loopback LocalCluster of
    single-threaded worker processes when no address is given."""

    def __init__(self, workers: int | None, scheduler: str | None,
                 warm_up: Callable[[], None] | None = None):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - it is a dependency
            raise UserError("--executor dask needs dask[distributed] installed") from None
        self._cluster = self._client = self._failed = None
        self._warm_up, self._warming = warm_up, []
        self._starting = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
            except (OSError, ValueError, TypeError) as exc:
                raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                                f"({exc}); check the address (e.g. tcp://HOST:8786) and that "
                                f"the scheduler is up") from None
            self.workers = workers or max(1, len(self._client.scheduler_info()["workers"]))
            self._warm_workers()
        else:
            # The cluster starts (1.5-2.5 s: the nannies spawn workers that import
            # distributed) while this process plans the sweep, as local workers do.
            self.workers = workers or os.cpu_count() or 1
            self._starting = threading.Thread(target=self._start_local_cluster,
                                              name="infogap-dask-start", daemon=True)
            self._starting.start()

    def _start_local_cluster(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        try:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):   # the nannies pass it to the workers
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                             processes=True, host="127.0.0.1",
                                             dashboard_address=None,
                                             silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            self._warm_workers()
        except BaseException as exc:  # noqa: BLE001 - raised again where the client is needed
            self._failed = exc

    def _warm_workers(self) -> None:
        """One warm-up task per worker, submitted first so it runs first there; not waited
        for (the futures are kept so the tasks are not forgotten before they run)."""
        self._warming = [] if self._warm_up is None else [
            self._client.submit(self._warm_up, workers=[address], allow_other_workers=False,
                                pure=False)
            for address in self._client.scheduler_info()["workers"]]

    @property
    def client(self):
        """The Dask client, once the cluster is up."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._failed is not None:
            raise self._failed
        return self._client

    def imap_unordered(self, fn, items):
        """Runs go out in batches (`run_batch`), one run each until runs have been timed,
        then as many as take about `DASK_TASK_SECONDS`."""
        from distributed import as_completed

        client = self.client
        items = iter(items)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        pending = {}
        timed = [0, 0.0]   # runs timed, their seconds

        def submit(batch):
            future = client.submit(run_batch, fn, batch, pure=False)
            pending[future.key] = batch
            return future

        def batches():
            while len(pending) < limit:
                batch = list(islice(items, batch_size(*timed)))
                if not batch:
                    return
                yield batch

        queue = as_completed([submit(batch) for batch in batches()])
        for future in queue:
            batch = pending.pop(future.key)
            try:
                outcomes, seconds = future.result()
                timed[0] += len(batch)
                timed[1] += seconds
            except Exception as exc:  # the cluster lost the runs (e.g. KilledWorker)
                outcomes = [(None, exc)] * len(batch)
            future.release()
            for item, (result, error) in zip(batch, outcomes, strict=True):
                yield item, result, error
            for nxt in batches():
                queue.add(submit(nxt))

    def close(self, abort: bool = False) -> None:
        if self._starting is not None:   # closed before any run, e.g. planning failed
            self._starting.join()
        if self._client is not None:
            if abort:   # drop queued runs rather than wait for them
                self._client.cancel(list(self._client.futures.values()), force=True)
            self._warming.clear()
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
