"""--threads: numba threads inside each run give the same bytes as one thread, reach every
worker process, and bad values end in one line."""

from __future__ import annotations

import pytest
from conftest import TINY_SCENARIO

from simulator import kernels, shop_kernels
from simulator.cli import main
from simulator.mechanisms import _kernels as mechanism_kernels
from simulator.sweep.executors import make_executor, with_threads

#: Enough buyers that a step's lotteries span many of the kernels' blocks (threads share
#: out blocks), with every step valuing candidates and pricing reservations.
THREADED_SCENARIO = TINY_SCENARIO.replace("buyers = 60", "buyers = 900").replace(
    "sellers = 20", "sellers = 40")
#: ... and arms a mechanism shops in, so both shops run threaded (kernels.shop_plain and
#: the step-by-step one, valuing every cell, and with unlimited capacity only each
#: buyer's best), one with personal prices.
THREADED_ARMS = THREADED_SCENARIO + """
[arms.trials.market.trials]
enabled = true

[arms.unlimited.market]
capacity = 0
[arms.unlimited.market.trials]
enabled = true
[arms.unlimited.market.personalized_pricing]
enabled = true
"""

PROBE = """
from simulator import kernels


def threads(item):
    return item, kernels.get_threads()
"""


@pytest.fixture
def one_thread():
    kernels.set_threads(1)
    yield
    kernels.set_threads(1)


@pytest.mark.timeout(300)
def test_two_threads_write_the_same_bytes_as_one(scenario_file, tmp_path, one_thread):
    path = scenario_file(THREADED_ARMS)
    written = {}
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}"
        assert main(["run", str(path), "--steps", "12", "--replications", "2", "--quiet",
                     "--threads", str(threads), "--out", str(out)]) == 0
        written[threads] = {name: (out / name).read_bytes()
                            for name in ("timeseries.csv", "summary.csv", "comparison.csv")}
    assert written[1]["timeseries.csv"].count(b"\n") == 1 + 4 * 2 * 12
    # the threaded kernels did run: both shops, the reservation prices, beliefs fading
    assert kernels._shop_plain_threaded.signatures
    assert shop_kernels.predictive_beliefs_threaded.signatures
    assert shop_kernels.cell_values_threaded.signatures
    assert shop_kernels.best_values_threaded.signatures
    assert kernels._reservation_prices_threaded.signatures
    assert kernels.fade_threaded.signatures
    assert mechanism_kernels.personal_prices_threaded.signatures
    assert written[2] == written[1]
    assert kernels.get_threads() == 1   # the run's setting does not outlive it


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("executor", "workers"), [("local", 1), ("local", 2), ("dask", 2)])
def test_threads_reach_every_worker(tmp_path, monkeypatch, one_thread, executor, workers):
    (tmp_path / "threads_probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))   # spawned workers inherit sys.path
    import threads_probe

    with make_executor(executor, workers, runs=4) as pool:
        seen = sorted(result for _, result, error in
                      pool.imap_unordered(with_threads(threads_probe.threads, 2), range(4)))
        plain = sorted(result for _, result, error in
                       pool.imap_unordered(threads_probe.threads, range(4)))
    assert seen == [(i, 2) for i in range(4)]
    assert plain == [(i, 1) for i in range(4)]   # workers go back to one thread after a run
    assert kernels.get_threads() == 1


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize(("value", "expected"), [
    ("0", "--threads: expected a whole number >= 1, found 0"),
    ("-1", "--threads: expected a whole number >= 1, found -1"),
    ("two", "argument --threads"),
])
def test_bad_threads_end_in_one_line(scenario_file, tmp_path, capsys, command, value,
                                     expected):
    path = scenario_file()
    if command == "sweep":
        (tmp_path / "experiment.toml").write_text(
            f'[experiment]\nscenario = "{path.name}"\n[factors]\n'
            '"market.taste.value" = [1.5, 2.0]\n')
        path = tmp_path / "experiment.toml"
    out = tmp_path / "out"
    try:
        status = main([command, str(path), f"--threads={value}", "--out", str(out)])
    except SystemExit as exc:   # argparse refuses text itself
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
