"""What the command line loads, and the figure layout that replaced constrained layout.

Each command is run in a fresh interpreter: what it imports is what a user waits for.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import numpy as np
from conftest import ROOT
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simulator.figure_layout import fit_y_labels, panel_grid

#: Modules only other commands need (the live page, Dask sweeps, sensitivity analysis,
#: churn models, the scipy.stats that `stats` avoids).
NOT_FOR_RUN = ("solara", "dask", "distributed", "SALib", "sklearn", "statsmodels",
               "scipy.stats", "altair")
#: What `--help` and `validate` must not wait for.
HEAVY = ("pandas", "matplotlib", "numba", "mesa", "scipy")


def _modules_after(*argv: str) -> set[str]:
    """The modules loaded by the end of `infogap ARGV` in a fresh interpreter."""
    code = ("import json, sys\nfrom simulator.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], names) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_run_loads_nothing_only_other_commands_need(scenario_file, tmp_path):
    modules = _modules_after("run", str(scenario_file()), "--steps", "2", "--replications",
                             "1", "--quiet", "--out", str(tmp_path / "out"))
    assert "simulator.model" in modules and (tmp_path / "out" / "metrics.png").exists()
    assert _loaded(modules, NOT_FOR_RUN) == []


def test_run_draws_in_another_process_and_skips_what_one_replication_does_not_need(
        scenario_file, tmp_path):
    out = tmp_path / "out"
    modules = _modules_after("run", str(scenario_file()), "--steps", "2", "--replications",
                             "1", "--quiet", "--out", str(out))
    assert "simulator.model" in modules and "mesa.model" in modules
    # matplotlib is the figure process's; no t quantile without two replications; Mesa's
    # grids and spaces are not the market's; numba's BLAS check imports scipy.linalg's
    # compiled BLAS, not the rest of scipy.linalg (its __init__ brings the array-API layer,
    # numpy.testing and unittest)
    assert _loaded(modules, ("matplotlib", "scipy.special", "scipy.spatial", "networkx",
                             "mesa.discrete_space", "mesa.space", "scipy.linalg._misc",
                             "scipy._lib._util", "numpy.testing", "unittest")) == []
    assert "scipy.linalg.cython_blas" in modules
    assert all((out / name).stat().st_size > 10_000 for name in ("headline.png",
                                                                 "metrics.png"))


def test_help_and_validate_load_no_heavy_library(scenario_file):
    assert _loaded(_modules_after("--help"), HEAVY) == []
    assert _loaded(_modules_after("validate", str(scenario_file())), HEAVY) == []


def test_scipy_linalg_left_bare_for_numba_runs_its_init_at_the_first_name_asked():
    code = ("import sys\n"
            "from simulator import power\n"
            "import scipy.linalg.cython_blas\n"
            "bare = 'scipy.linalg._misc' not in sys.modules\n"
            "import numpy as np, scipy.linalg\n"
            "from scipy.linalg import lu_factor\n"
            "x = scipy.linalg.solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))\n"
            "print(bare, 'scipy.linalg._misc' in sys.modules, lu_factor.__name__, x.tolist())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    assert done.stdout.split() == ["True", "True", "lu_factor", "[0.5,", "0.25]"]


def test_the_command_line_ends_with_its_objects_frozen_and_a_call_in_process_does_not():
    # An exit handler registered before main runs after main's: it sees what the
    # interpreter's last collections will see.
    code = ("import atexit, gc, sys\n"
            "before = gc.get_freeze_count()\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > before))\n"
            "from simulator.cli import main\n"
            "sys.argv = ['infogap', 'validate', sys.argv[1]]\n"
            "main(ARGV)\n"
            "print('frozen after main:', gc.get_freeze_count() > before)")
    for argv, at_exit in (("None", "True"), ("sys.argv[1:]", "False")):
        done = subprocess.run([sys.executable, "-c", code.replace("ARGV", argv),
                               str(ROOT / "scenarios" / "lemons.toml")],
                              cwd=ROOT, check=True, capture_output=True, text=True)
        assert done.stdout.splitlines()[-2:] == ["frozen after main: False",
                                                 f"frozen at exit: {at_exit}"]


def test_mesa_is_imported_with_inspect_restored_and_its_loggers_named_as_usual():
    code = ("import inspect, logging\n"
            "saved = inspect.stack, inspect.getouterframes, inspect.getmodule\n"
            "from simulator.mesa_import import mesa\n"
            "assert (inspect.stack, inspect.getouterframes, inspect.getmodule) == saved\n"
            "names = sorted(n for n in logging.root.manager.loggerDict if n.startswith('MESA'))\n"
            "cells = [c.cell_contents for c in mesa.Model.__init__.__closure__]\n"
            "print(names, [c for c in cells if isinstance(c, str)])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    # The logger names and the class name Mesa's method logger reports, as inspect gives them.
    assert done.stdout.strip() == ("['MESA', 'MESA.mesa', 'MESA.mesa.mesa_logging', "
                                   "'MESA.mesa.model'] ['Model']")


def test_panels_leave_room_for_wide_tick_labels_and_labels_beside_them():
    fig = Figure(figsize=(4.6 * 3, 3.0 * 2 + 0.9))
    grid = panel_grid(fig, 2, 3)
    ranges = [(0, 800_000), (-0.025, -0.005), (0, 1), (1e6, 4e6), (-15, 15), (0, 0.0009)]
    for ax, (low, high) in zip(grid.ravel(), ranges, strict=True):
        ax.plot([1, 30], [low, high])
        ax.set_ylabel("a unit (per step)", fontsize="small")
        ax.set_xlabel("step")
    fit_y_labels(fig, grid)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    for (r, c), ax in np.ndenumerate(grid):
        ticks = [t.label1.get_window_extent(renderer) for t in ax.yaxis.get_major_ticks()
                 if t.label1.get_visible() and t.label1.get_text()
                 and ax.get_ylim()[0] <= t.get_loc() <= ax.get_ylim()[1]]
        label = ax.yaxis.label.get_window_extent(renderer)
        left_edge = 0.0 if c == 0 else grid[r, c - 1].bbox.x1
        assert label.x0 > left_edge  # inside the figure, clear of the panel on the left
        assert label.x1 < min(t.x0 for t in ticks)  # the y label beside, not on, the ticks
        assert max(t.x1 for t in ticks) < ax.bbox.x0
        xlabel = ax.xaxis.label.get_window_extent(renderer)
        lowest = min(t.label1.get_window_extent(renderer).y0
                     for t in ax.xaxis.get_major_ticks() if t.label1.get_text())
        assert 0 < xlabel.y1 < lowest
    assert grid[0, -1].bbox.x1 < width


def test_a_random_design_is_drawn_without_importing_scipy_stats(tmp_path):
    """scipy.stats takes about 0.4 s to import; only the lhs design needs it (qmc)."""
    (tmp_path / "scenario.toml").write_text("[scenario]\nsteps = 5\n[arms.base]\n")
    (tmp_path / "exp.toml").write_text(
        '[experiment]\nscenario = "scenario.toml"\ndesign = "random"\nsamples = 7\n'
        '[factors]\n"market.taste.value" = { range = [1.5, 3.0] }\n')
    code = ("import sys\nfrom simulator.sweep import load_experiment\n"
            "from simulator.sweep.design import build_design\n"
            "design = build_design(load_experiment(sys.argv[1]))\n"
            "print(len(design.points), 'scipy.stats' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "exp.toml")], cwd=ROOT,
                          check=True, capture_output=True, text=True)
    assert done.stdout.split() == ["7", "False"]


#: Kernels every market calls from Python, with arguments of one type whatever the market:
#: numba compiles a kernel (and what it calls) again for each type it meets, and a
#: read-only array, an int where a float goes or a strided column is another type. That
#: cost a user's first runs after installing as much again: the shipped scenarios compiled
#: for 40 s, 22 s with one type each. (Literal arguments inside the kernels, e.g. a counter
#: that starts at 0, do the same, but show only where the cache is empty.)
ONE_TYPE = ("kernels._shop_plain", "shop_kernels.predictive_beliefs")


def test_the_shop_kernels_are_compiled_for_one_type_of_arguments():
    # Every shipped scenario's arms, and one without capacity limits (the shop then keeps
    # one column), in a fresh interpreter: what one process compiles or loads.
    code = ("import glob, json, sys\nfrom simulator.scenario import Scenario\n"
            "from simulator.model import run_market\n"
            "from simulator import kernels, shop_kernels\n"
            "for path in sorted(glob.glob('scenarios/*.toml')):\n"
            "    for params in Scenario.load(path).arms.values():\n"
            "        run_market(params, 2, 1)\n"
            "run_market({'buyers': 20, 'sellers': 5, 'capacity': 0}, 2, 1)\n"
            "print(json.dumps({n: [str(s) for s in eval(n).signatures] for n in sys.argv[1:]}))")
    done = subprocess.run([sys.executable, "-c", code, *ONE_TYPE], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    signatures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {name: len(s) for name, s in signatures.items()} == dict.fromkeys(ONE_TYPE, 1), \
        signatures


KERNEL_MODULE = """
from numba import njit


@njit(cache=True)
def twice(x):
    return 2 * x


@njit(cache=True)
def thrice(x):
    return 3 * x
"""


def _run_on_a_terminal(argv: list[str], cwd, env=None) -> tuple[str, str]:
    """stdout and stderr of `argv`, its stderr a terminal (a pseudo-terminal)."""
    main_end, its_end = pty.openpty()
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=its_end,
                              check=True, text=True, timeout=120)
        os.close(its_end)
        its_end = None
        chunks = []
        while True:
            try:
                chunk = os.read(main_end, 4096)
            except OSError:   # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return done.stdout, b"".join(chunks).decode(errors="replace")
    finally:
        os.close(main_end)
        if its_end is not None:
            os.close(its_end)


def test_a_process_says_once_that_it_compiles_and_nothing_when_the_cache_has_it(tmp_path):
    from simulator.compile_notice import MESSAGE

    (tmp_path / "probe_kernels.py").write_text(KERNEL_MODULE)
    code = ("from simulator.compile_notice import announce_compiling\n"
            "import probe_kernels\nannounce_compiling()\nannounce_compiling()\n"
            "print(probe_kernels.twice(2), probe_kernels.thrice(2))")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}",
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-c", code]
    said = [_run_on_a_terminal(argv, tmp_path, env) for _ in range(2)]
    assert [out.split() for out, _ in said] == [["4", "6"]] * 2
    assert said[0][1].count(MESSAGE) == 1    # two kernels compiled, one line
    assert MESSAGE not in said[1][1]         # both loaded from numba's cache
    # Not on a terminal (a log, a pipe): nothing, as the progress bar.
    (tmp_path / "cache").rename(tmp_path / "old")
    quiet = subprocess.run(argv, cwd=tmp_path, env=env, check=True, capture_output=True,
                           text=True)
    assert quiet.stdout.split() == ["4", "6"] and MESSAGE not in quiet.stderr


def test_run_and_the_workers_warm_up_listen_for_compiling(scenario_file, tmp_path):
    code = ("import sys\nfrom simulator.cli import main\nfrom simulator import compile_notice\n"
            "from simulator.sweep.work import warm_up\n"
            "first = compile_notice._notice is not None\n"
            "main(sys.argv[1:])\nafter_run = compile_notice._notice is not None\n"
            "compile_notice._notice = None\nwarm_up()\n"
            "print(first, after_run, compile_notice._notice is not None)")
    out, _ = _run_on_a_terminal([sys.executable, "-c", code, "run", str(scenario_file()),
                                 "--steps", "1", "--replications", "1", "--quiet", "--out",
                                 str(tmp_path / "out")], ROOT)
    assert out.split()[-3:] == ["False", "True", "True"]
