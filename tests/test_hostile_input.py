"""Hostile and careless input (issue 11): every case ends in one line naming the file, the key
path, what was expected and what was found, with exit status 2 and no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import TINY_SCENARIO

import simulator.limits
from simulator import __version__
from simulator.cli import main
from simulator.config import MAX_DEPTH, MAX_FILE_BYTES
from simulator.errors import ConfigError
from simulator.params import MarketParams
from simulator.scenario import Scenario
from simulator.sweep import load_experiment
from simulator.sweep.experiment import MAX_RUNS

SEGMENTS = TINY_SCENARIO + textwrap.dedent("""
    [market.segments.cautious]
    share = 0.4
    [market.segments.bold]
    share = 0.6
    """)


def one_error(capsys, *argv: str) -> str:
    """Run the CLI in-process; the single stderr line of a status-2 refusal (argparse's
    refusals exit through SystemExit)."""
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("infogap: error: ")
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the [market] table itself ------------------------------------------------------------------
@pytest.mark.parametrize("value, found", [("5", "found 5"), ('"abc"', "found 'abc'"),
                                          ("[]", "found a list"), ("false", "found false")])
def test_market_that_is_not_a_table(tmp_path, capsys, value, found):
    path = write(tmp_path, f"market = {value}\n[arms.a]\n")
    line = one_error(capsys, "validate", str(path))
    assert f"{path}: market: expected a [market] table, {found}" in line


def test_scenario_table_that_is_not_a_table(tmp_path, capsys):
    path = write(tmp_path, "scenario = 3\n[arms.a]\n")
    assert "scenario: expected a [scenario] table, found 3" in one_error(capsys, "validate",
                                                                        str(path))


def test_market_params_refuse_a_non_table():
    with pytest.raises(ConfigError, match="market: expected a table, found 5"):
        MarketParams.from_dict(5)


# -- the file itself ----------------------------------------------------------------------------
def test_deeply_nested_lists(tmp_path, capsys):
    path = write(tmp_path, "a = " + "[" * 5000 + "]" * 5000 + "\n")
    line = one_error(capsys, "validate", str(path))
    assert f"{path}: " in line and f"nested at most {MAX_DEPTH} deep" in line


def test_deeply_nested_tables_name_the_key(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO + "[market.taste.x" + ".y" * 40 + "]\nz = 1\n")
    line = one_error(capsys, "validate", str(path))
    assert f"{path}: market.taste.x.y.y" in line
    assert f"expected tables and lists nested at most {MAX_DEPTH} deep" in line


def test_device_is_refused_without_reading_it(capsys):
    line = one_error(capsys, "validate", "/dev/zero")
    assert line == ("infogap: error: /dev/zero: expected a regular scenario .toml file, "
                    "found a device, pipe or socket")


def test_file_above_the_size_cap(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO + "#" * MAX_FILE_BYTES + "\n")
    line = one_error(capsys, "validate", str(path))
    assert f"expected a scenario file of at most {MAX_FILE_BYTES:,} bytes" in line


def test_utf8_byte_order_mark_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TINY_SCENARIO.encode())
    assert main(["validate", str(path)]) == 0
    assert Scenario.load(path).name == "tiny"


@pytest.mark.parametrize("file_name, name", [("my study.toml", "my_study"),
                                             ("étude de marché.toml", "etude_de_marche"),
                                             ("日本.toml", "scenario")])
def test_file_names_with_spaces_or_accents_give_a_valid_default_name(tmp_path, file_name, name):
    path = write(tmp_path, TINY_SCENARIO.replace('name = "tiny"\n', ""), file_name)
    assert main(["validate", str(path)]) == 0
    assert Scenario.load(path).name == name


def test_an_explicit_bad_name_is_still_refused(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO.replace('name = "tiny"', 'name = "my study"'))
    assert "scenario.name: expected letters, digits" in one_error(capsys, "validate", str(path))


# -- consistency and size -----------------------------------------------------------------------
def test_segment_taste_low_above_high_is_found_by_validate(tmp_path, capsys):
    path = write(tmp_path, SEGMENTS + textwrap.dedent("""
        [market.segments.bold.taste]
        distribution = "uniform"
        low = 3.0
        high = 2.0
        """))
    line = one_error(capsys, "validate", str(path))
    assert (f"{path}: market.segments.bold.taste.low: expected at most "
            "segments.bold.taste.high (2.0), found 3.0") in line


def test_market_larger_than_this_machine_is_refused(tmp_path, capsys):
    big = TINY_SCENARIO.replace("buyers = 60", "buyers = 5_000_000") + textwrap.dedent("""
        [market.beliefs]
        memory = 64
        [market.choice]
        candidates = 100
        """)
    line = one_error(capsys, "validate", str(write(tmp_path, big)))
    assert "market: expected a market that fits in this machine's memory" in line
    assert "5,000,000 buyers x 64 remembered sellers x 100 candidates" in line


def test_memory_check_uses_the_machines_memory(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, TINY_SCENARIO)
    assert main(["validate", str(path)]) == 0
    monkeypatch.setattr(simulator.limits, "total_memory", lambda: 2**20)
    assert "fits in this machine's memory (0.0 GiB)" in one_error(capsys, "validate", str(path))


def test_total_memory_is_read_from_the_system():
    have = simulator.limits.total_memory()
    assert have is not None and have > 2**28


def test_steps_times_replications_times_arms_is_capped(tmp_path, capsys):
    text = TINY_SCENARIO.replace("steps = 30", "steps = 1_000_000").replace(
        "replications = 3", "replications = 10_000")
    line = one_error(capsys, "validate", str(write(tmp_path, text)))
    assert ("scenario.steps: expected steps x replications x arms of at most "
            f"{simulator.limits.MAX_TOTAL_STEPS:,}, found 1,000,000 x 10,000 x 2") in line


# -- segments -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["all", "All"])
def test_segment_named_all_is_reserved(tmp_path, capsys, name):
    path = write(tmp_path, TINY_SCENARIO + f"[market.segments.{name}]\nshare = 1.0\n")
    line = one_error(capsys, "validate", str(path))
    assert f"market.segments.{name}: expected a segment name other than all" in line


def test_segment_names_with_spaces_are_refused(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO + '[market.segments."two words"]\nshare = 1.0\n')
    assert "expected a segment name of letters" in one_error(capsys, "validate", str(path))


def test_set_cannot_create_a_segment(tmp_path, capsys):
    path = write(tmp_path, SEGMENTS)
    out = tmp_path / "out"
    line = one_error(capsys, "run", str(path), "--out", str(out), "--set",
                     "market.segments.typo.taste.value=2")
    assert ("--set market.segments.typo.taste.value: no buyer segment named 'typo' in the "
            "scenario") in line
    assert "segments: cautious, bold" in line
    assert not out.exists()


def test_set_cannot_create_a_segment_in_a_market_without_segments(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO)
    line = one_error(capsys, "run", str(path), "--out", str(tmp_path / "o"), "--set",
                     "arms.transparent.market.segments.new.share=1.0")
    assert "no buyer segment named 'new'" in line and "segments: none" in line


def test_set_may_change_an_existing_segment(tmp_path):
    scenario = Scenario.load(write(tmp_path, SEGMENTS),
                             {"market.segments.bold.taste.value": 2.5})
    assert scenario.arms["transparent"].segments["bold"].taste.value == 2.5


def test_replace_refuses_a_new_segment():
    with pytest.raises(ConfigError, match="no buyer segment named 'x'"):
        MarketParams().replace(**{"segments.x.share": 1.0})


# -- command line -------------------------------------------------------------------------------
def test_set_before_the_scenario_does_not_swallow_it(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO)
    out = tmp_path / "out"
    line = one_error(capsys, "run", "--set", "market.buyers=10", "market.sellers=5", str(path),
                     "--out", str(out))
    assert f"unrecognized arguments: {path}" in line
    assert "--set takes one KEY=VALUE; repeat --set for each key" in line
    assert not out.exists()


def test_repeated_set_before_the_scenario(tmp_path, capsys):
    path = write(tmp_path, TINY_SCENARIO)
    out = tmp_path / "out"
    assert main(["run", "--set", "market.buyers=10", "--set", "market.sellers=5", str(path),
                 "--out", str(out), "--quiet", "--steps", "2", "--replications", "1"]) == 0
    assert (out / "summary.csv").is_file()


def test_unknown_flag_is_one_line(capsys):
    assert "unrecognized arguments: --wrkers" in one_error(capsys, "validate", "x.toml",
                                                           "--wrkers")


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"infogap {__version__}"


def test_command_module_that_fails_to_import_fails_loud(monkeypatch):
    import simulator.cli

    monkeypatch.setattr(simulator.cli, "COMMAND_MODULES",
                        (*simulator.cli.COMMAND_MODULES, "simulator.commands.nonexistent"))
    with pytest.raises(ModuleNotFoundError, match="simulator.commands.nonexistent"):
        simulator.cli.build_parser()


# -- experiments --------------------------------------------------------------------------------
def experiment(tmp_path: Path, body: str, scenario: str = TINY_SCENARIO) -> Path:
    write(tmp_path, scenario, "scenario.toml")
    return write(tmp_path, "[experiment]\nscenario = \"scenario.toml\"\n"
                 + textwrap.dedent(body), "exp.toml")


def test_validate_accepts_experiment_files(tmp_path, capsys):
    path = experiment(tmp_path, "[factors]\n\"market.buyers\" = [10, 20]\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"ok: {path}: experiment exp" in out and "6 runs x 30 steps" in out


def test_validate_reports_a_bad_experiment(tmp_path, capsys):
    path = experiment(tmp_path, "[factors]\n\"market.buyers\" = [10, 0]\n")
    line = one_error(capsys, "validate", str(path))
    assert f"{path}: factors.\"market.buyers\".values[1]: expected a value in [1," in line


@pytest.mark.parametrize("body, fragment", [
    ("[factors]\n"
     "\"market.taste.value\" = { range = [1.0, 3.0], levels = 1000 }\n"
     "\"market.prospect.lam\" = { range = [1.0, 3.0], levels = 1000 }\n"
     "\"market.buyers\" = { range = [1, 1000], levels = 1000 }\n",
     "factors: expected a sweep of at most 2,000,000 runs, found 3,000,000,000 (1000 x 1000 x "
     "1000 grid points"),
    ("design = \"sobol\"\nsamples = 1048576\n[factors]\n"
     "\"market.taste.value\" = { range = [1.0, 3.0] }\n",
     "experiment.samples: expected a sweep of at most 2,000,000 runs, found 9,437,184"),
    ("[factors]\n\"market.trust.lapse\" = { range = [0, 1000000], levels = 1000000000 }\n",
     f"levels: expected a whole number in [1, {MAX_RUNS:,}], found 1000000000"),
])
def test_huge_sweeps_are_refused_before_anything_is_built(tmp_path, capsys, monkeypatch, body,
                                                          fragment):
    import simulator.sweep.experiment as experiment_module

    def never(*args, **kwargs):
        raise AssertionError("a grid was built")

    monkeypatch.setattr(experiment_module.Factor, "grid_values", never)
    path = experiment(tmp_path, body)
    assert fragment in one_error(capsys, "validate", str(path))
    assert fragment in one_error(capsys, "sweep", str(path), "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_sweep_of_markets_too_big_for_this_machine(tmp_path, capsys):
    path = experiment(tmp_path, "[factors]\n\"market.buyers\" = [100, 5000000]\n"
                      "\"market.beliefs.memory\" = [8, 64]\n\"market.choice.candidates\" = "
                      "[5, 100]\n")
    line = one_error(capsys, "validate", str(path))
    assert "factors (at their largest values, arm 'asymmetric'): expected a market that fits" in line


@pytest.mark.parametrize("name, shown", [("a\\u0000b", r"'a\x00b'"), ("a\\nb", r"'a\nb'"),
                                         ("x" * 300, "... (300 characters)")])
def test_experiment_names_that_are_no_folder_name(tmp_path, capsys, name, shown):
    path = experiment(tmp_path, f"name = \"{name}\"\n[factors]\n\"market.buyers\" = [10, 20]\n")
    line = one_error(capsys, "validate", str(path))
    assert "experiment.name: expected letters, digits" in line and shown in line


def test_experiment_scenario_path_with_a_nul_byte(tmp_path, capsys):
    write(tmp_path, TINY_SCENARIO, "scenario.toml")
    path = write(tmp_path, "[experiment]\nscenario = \"a\\u0000b\"\n[factors]\n"
                 "\"market.buyers\" = [10, 20]\n", "exp.toml")
    assert "experiment.scenario: no scenario file" in one_error(capsys, "validate", str(path))


def test_factor_given_twice_is_refused(tmp_path, capsys):
    path = experiment(tmp_path, "[factors]\n\"market.buyers\" = [10, 20]\n"
                      "[factors.market]\nbuyers = [30, 40]\n")
    line = one_error(capsys, "validate", str(path))
    assert "factors.\"market.buyers\": given twice (as a dotted key and through a table)" in line


def test_fixed_key_given_twice_is_refused(tmp_path, capsys):
    path = experiment(tmp_path, "[fixed]\n\"market.sellers\" = 10\n[fixed.market]\nsellers = 12"
                      "\n[factors]\n\"market.buyers\" = [10, 20]\n")
    assert "fixed.\"market.sellers\": given twice" in one_error(capsys, "validate", str(path))


def test_factor_cannot_create_a_segment(tmp_path, capsys):
    path = experiment(tmp_path, "[factors]\n\"market.segments.typo.taste.value\" = [1.0, 2.0]\n",
                      scenario=SEGMENTS)
    line = one_error(capsys, "validate", str(path))
    assert "no buyer segment named 'typo' in the scenario" in line


def test_factor_segment_must_exist_in_every_arm(tmp_path, capsys):
    scenario = TINY_SCENARIO + "[arms.transparent.market.segments.only_here]\nshare = 1.0\n"
    path = experiment(tmp_path, "arms = [\"transparent\", \"asymmetric\"]\n[factors]\n"
                      "\"market.segments.only_here.taste.value\" = [1.0, 2.0]\n",
                      scenario=scenario)
    assert "no buyer segment named 'only_here'" in one_error(capsys, "validate", str(path))
    good = experiment(tmp_path, "arms = [\"transparent\"]\n[factors]\n"
                      "\"market.segments.only_here.taste.value\" = [1.0, 2.0]\n",
                      scenario=scenario)
    assert load_experiment(good).factors[0].values == (1.0, 2.0)


def test_experiment_file_that_is_a_device(capsys):
    line = one_error(capsys, "sweep", "/dev/zero", "--out", "/nonexistent/out")
    assert "/dev/zero: expected a regular experiment .toml file" in line
