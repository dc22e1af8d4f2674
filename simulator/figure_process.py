"""A run's figures drawn beside it, by a process started before the run.

A short `infogap run` spends most of its time importing libraries and drawing.
Drawing needs the results, but importing matplotlib (half a second), warming
its font caches and solving theory's levels for the dashed lines (from the
parameters alone) do not: `Figures(scenario)` forks a child that does them
while this process simulates. Given the results, the child forks once more,
so that two processes draw (metrics.png in one, the other figures in the
other) into the run's staging folder while this process writes the tables;
`wait()` returns once the figures are written, or raises the child's
traceback. This process never imports matplotlib.

The figures are those drawn in place: the same code draws the same results.
Fork is used only where it is safe: on Linux, from a process without threads
(e.g. before numba starts its own); elsewhere, or with `fork=False`, the
figures are drawn in this process when asked.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import os
import signal
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

#: prctl(2) option: a signal the kernel sends the caller when its parent ends.
_PR_SET_PDEATHSIG = 1


def can_fork() -> bool:
    """Whether this process may fork its figure process: on Linux, with no other Python
    thread and before numba (whose threads a fork would leave holding their locks).
    numpy's OpenBLAS threads are fork-safe: OpenBLAS stops them around a fork."""
    import threading

    return (sys.platform == "linux" and threading.active_count() == 1
            and "numba" not in sys.modules)


class Figures:
    """Writes a run's PNGs: `figures(results, folder)`, then `wait()`; `close()` always.

    Pass it as `report.write_files(..., figures=...)`, which calls it before writing the
    tables.
    """

    def __init__(self, scenario, fork: bool | None = None):
        self._process = None
        self._submitted = False
        if not (can_fork() if fork is None else fork):
            return
        import multiprocessing

        context = multiprocessing.get_context("fork")
        # What both processes hold now (pandas, the scenario) is never garbage: left out of
        # every later collection in either (as gc.freeze's documentation advises before a
        # fork), where each full collection would otherwise walk it again.
        gc.freeze()
        jobs, self._jobs = context.Pipe(duplex=False)
        self._done, done = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, name="infogap-figures",
                                        args=(scenario, jobs, self._jobs, self._done, done))
        self._process.start()
        jobs.close()
        done.close()

    @property
    def forked(self) -> bool:
        return self._process is not None

    def __call__(self, results, folder: Path) -> None:
        if self._process is None:
            from .report import write_figures

            write_figures(results, folder)
            return
        self._submitted = True
        # Theory's levels, solved by the child while this process simulated (for theory.csv
        # and report.md too); then the results (the child is ready to read them at once).
        theory = self._receive()
        if isinstance(theory, str):
            raise RuntimeError(f"preparing the figures failed:\n{theory}")
        vars(results).update(theory)
        shown = copy.copy(results)
        shown.panel = None   # not drawn, and possibly large
        with contextlib.suppress(BrokenPipeError):   # it failed: `wait` reports why
            self._jobs.send((shown, Path(folder)))

    def wait(self) -> None:
        """Return once the figures are written; raise if they could not be."""
        if self._process is None or not self._submitted:
            return
        error = self._receive()
        self._process.join()
        if error:
            raise RuntimeError(f"drawing the figures failed:\n{error}")

    def _receive(self):
        """The child's next message (a traceback when it failed)."""
        try:
            return self._done.recv()
        except EOFError:   # killed (e.g. out of memory) before it could say why
            self._process.join()
            return f"the figure process ended with exit code {self._process.exitcode}"

    def close(self) -> None:
        """Stop the figure process (at once, if it is still at work) and release it."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._jobs.close()
        self._done.close()
        self._process = None


def _serve(scenario, jobs, jobs_sent, done_read, done) -> None:
    """The figure process: prepare, wait for the results, draw them."""
    _follow_parent()
    jobs_sent.close()   # so that the end of the parent is the end of the jobs
    done_read.close()
    try:
        done.send(_prepare(scenario))
        gc.freeze()   # matplotlib's modules and caches: not garbage, and not walked again
        try:
            results, folder = jobs.recv()
        except EOFError:
            return   # the run ended without results
        _draw(results, folder)
        done.send(None)
    except BaseException:
        done.send(traceback.format_exc())


def _follow_parent() -> None:
    """Leave Ctrl-C to the parent, and end with it even when it is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:   # it ended before prctl
        os._exit(0)


def _prepare(scenario) -> dict:
    """What the figures need before the results: the plotting modules, warm font caches,
    and theory's solved levels (returned as the attributes `theory.compare` caches on a
    Results: the parent adds them to its results before sending them back)."""
    from .report import draw_figure  # noqa: F401
    from .theory.compare import frame

    stand_in = SimpleNamespace(scenario=scenario, arm_names=list(scenario.arm_names))
    frame(stand_in)
    if scenario.replications > 1:
        import scipy.special  # noqa: F401  (the bands' t quantiles)
    _warm_up()
    return {k: v for k, v in vars(stand_in).items() if k.startswith("_theory")}


def _warm_up() -> None:
    """Draw a throwaway panel: matplotlib loads its fonts and modules at the first draw."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    from PIL import PngImagePlugin  # noqa: F401

    from .figure_layout import fit_y_labels, panel_grid
    from .output import DPI

    fig = Figure(figsize=(3, 2), dpi=DPI)
    grid = panel_grid(fig, 1, 1)
    ax = grid[0, 0]
    ax.plot([1, 2], [0.5, 1.5])
    ax.fill_between([1, 2], [0, 1], [1, 2], alpha=0.2, lw=0)
    ax.xaxis.set_major_locator(MaxNLocator("auto", integer=True))
    ax.set_title("title", y=1.0)
    ax.set_ylabel("label", fontsize="small")
    fit_y_labels(fig, grid)
    fig.legend(handles=[Patch(color="0.92", label="legend")], fontsize="small")
    fig.suptitle("title")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    np.asarray(canvas.buffer_rgba())


def _draw(results, folder: Path) -> None:
    """The first figure (the one with the most panels) here, the others in a fork."""
    from .report import figure_names, write_figures

    first, *rest = figure_names(results)
    if not rest:
        write_figures(results, folder, [first])
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 0
        try:
            _follow_parent()
            write_figures(results, folder, rest)
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    errors = []
    try:
        write_figures(results, folder, [first])
    except Exception:
        errors.append(f"drawing {first} failed:\n{traceback.format_exc()}")
    finally:
        with os.fdopen(read, "rb") as pipe:
            error = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
    if error or status:
        errors.append(f"drawing {', '.join(rest)} failed:\n{error or f'wait status {status}'}")
    if errors:
        raise RuntimeError("\n".join(errors))
