"""Where runs execute: a local process pool or a Dask cluster, behind one small interface.

`Executor.imap_unordered(fn, items)` yields `(item, result, error)` as runs
finish, keeping only a bounded number of tasks in flight, so the parent's
memory does not grow with the size of the sweep. A run's result depends only
on its task, so executors and worker counts give bit-identical results.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any

from ..errors import UserError

EXECUTORS = ("local", "dask")

#: Tasks in flight per worker: enough to keep workers busy, few enough to keep memory flat.
IN_FLIGHT_PER_WORKER = 4
#: How often a local worker checks that the sweep that started it is still alive.
PARENT_CHECK_SECONDS = 0.5


class Executor(ABC):
    """Runs `fn(item)` for many items on some workers."""

    workers: int

    @abstractmethod
    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]
                       ) -> Iterator[tuple[Any, Any, BaseException | None]]:
        """Yield (item, fn(item), None), or (item, None, error) if the executor lost the run."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_options(kind: str, workers: int | None = None, scheduler: str | None = None) -> None:
    """Refuse bad executor options before anything is written."""
    if kind not in EXECUTORS:
        raise UserError(f"--executor: expected one of {', '.join(EXECUTORS)}, found {kind!r}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers: expected a whole number >= 1, found {workers}")
    if scheduler is not None and kind != "dask":
        raise UserError("--scheduler: only used with --executor dask")


def make_executor(kind: str, workers: int | None = None, scheduler: str | None = None
                  ) -> Executor:
    check_options(kind, workers, scheduler)
    if kind == "local":
        return LocalExecutor(workers or os.cpu_count() or 1)
    return DaskExecutor(workers, scheduler)


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, and exit if the parent dies (e.g. SIGKILL), which
    would otherwise leave them blocked on the task queue for ever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="infogap-parent-watch", daemon=True).start()


class LocalExecutor(Executor):
    """A spawn-context process pool (no fork: the parent may hold threads)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)

    def imap_unordered(self, fn, items):
        items = iter(items)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        pending = {}
        for item in islice(items, limit):
            pending[self._pool.submit(fn, item)] = item
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                item = pending.pop(future)
                error = future.exception()
                broken |= isinstance(error, BrokenProcessPool)
                yield (item, None, error) if error else (item, future.result(), None)
            if broken:  # a worker died (e.g. killed, out of memory): every pending run is lost
                lost = list(pending.items())
                pending.clear()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                for _, item in lost:
                    pending[self._pool.submit(fn, item)] = item
            for item in islice(items, limit - len(pending)):
                pending[self._pool.submit(fn, item)] = item

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """dask.distributed: a Client to `scheduler`, or a loopback LocalCluster of
    single-threaded worker processes when no address is given."""

    def __init__(self, workers: int | None, scheduler: str | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - it is a dependency
            raise UserError("--executor dask needs dask[distributed] installed") from None
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                                f"({exc}); the sweep's plan is stored, so run it again with "
                                f"--resume once the scheduler is up") from None
            self.workers = workers or max(1, len(self._client.scheduler_info()["workers"]))
        else:
            self.workers = workers or os.cpu_count() or 1
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)

    def imap_unordered(self, fn, items):
        from distributed import as_completed

        items = iter(items)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        pending = {}

        def submit(item):
            future = self._client.submit(fn, item, pure=False)
            pending[future.key] = item
            return future

        queue = as_completed([submit(item) for item in islice(items, limit)])
        for future in queue:
            item = pending.pop(future.key)
            try:
                result, error = future.result(), None
            except Exception as exc:  # the cluster lost the run (e.g. KilledWorker)
                result, error = None, exc
            future.release()
            yield item, result, error
            for nxt in islice(items, limit - len(pending)):
                queue.add(submit(nxt))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
