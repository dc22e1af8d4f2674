"""Scenario files: loading, merging arms, overrides, and one clear message per user mistake."""

from __future__ import annotations

import pytest
from conftest import ROOT, TINY_SCENARIO

from simulator.cli import main
from simulator.errors import UserError
from simulator.params import MarketParams
from simulator.scenario import Scenario, docs_with_tables, parse_assignment

SHIPPED = ("lemons", "two_types", "noisy_signals", "delayed", "loss_aversion", "segments",
           "expectations", "data_advantage")


def test_lemons_is_the_documented_akerlof_market():
    s = Scenario.load(ROOT / "scenarios" / "lemons.toml")
    assert (s.name, s.steps, s.replications, s.seed, s.window) == ("lemons", 150, 10, 1970, 0.3)
    assert s.arm_names == ["asymmetric", "transparent"]
    assert s.baseline == "asymmetric"
    for arm, info in (("asymmetric", "asymmetric"), ("transparent", "transparent")):
        p = s.arms[arm]
        assert p.information == info
        assert (p.buyers, p.sellers, p.capacity, p.pricing, p.identity) == (
            200, 100, 1, "market", "anonymous")
        assert (p.quality.distribution, p.quality.low, p.quality.high) == ("uniform", 0.0, 1.0)
        assert (p.cost.c0, p.cost.c1, p.taste.distribution, p.taste.value) == (
            0.0, 1.0, "constant", 1.5)
        assert p.prospect == MarketParams().prospect


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_validate_and_say_what_they_show(name):
    s = Scenario.load(ROOT / "scenarios" / f"{name}.toml")
    assert s.name == name
    assert len(s.description) > 80
    assert len(s.arms) >= 2


def test_arms_override_base_market_and_command_line_overrides_sit_between(scenario_file):
    text = TINY_SCENARIO + '\n[arms.transparent.market.quality]\nhigh = 0.8\n'
    s = Scenario.load(scenario_file(text), {"market.buyers": 99, "market.quality.high": 0.9,
                                            "scenario.steps": 12})
    assert s.steps == 12
    assert s.arms["asymmetric"].buyers == s.arms["transparent"].buyers == 99
    assert s.arms["asymmetric"].quality.high == 0.9  # --set on the base market
    assert s.arms["transparent"].quality.high == 0.8  # the arm wins over --set
    assert s.arms["transparent"].quality.low == 0.0  # untouched keys keep their default
    assert s.arms["asymmetric"].capacity == 1  # from [market]


def test_baseline_first_and_defaults(scenario_file):
    text = ('[market]\nbuyers = 60\nsellers = 20\n[arms.a.market]\npricing = "markup"\n'
            '[arms.b.market]\npricing = "adaptive"\n[arms.c]\ndescription = "base market"\n')
    s = Scenario.load(scenario_file(text, "my-study.toml"))
    assert s.name == "my-study"
    assert s.baseline == "a" and s.arm_names == ["a", "b", "c"]
    assert (s.steps, s.replications, s.seed, s.window) == (100, 10, 0, 0.3)
    assert s.arms["c"].pricing == MarketParams().pricing
    s2 = s.with_overrides({"scenario.baseline": "c"})
    assert s2.arm_names == ["c", "a", "b"]
    assert s.arm_names == ["a", "b", "c"]  # the original is untouched


def test_from_dict_matches_the_file(scenario_file):
    import tomllib

    from_file = Scenario.load(scenario_file())
    from_dict = Scenario.from_dict(tomllib.loads(TINY_SCENARIO), path=from_file.path)
    assert from_dict.arms == from_file.arms
    assert from_dict.name == from_file.name


@pytest.mark.parametrize("text, expected", [
    ("market.buyers=200", ("market.buyers", 200)),
    ("market.information=transparent", ("market.information", "transparent")),
    ('market.information="noisy"', ("market.information", "noisy")),
    ("market.entry.enabled=true", ("market.entry.enabled", True)),
    ("market.prospect.lam = 1.0", ("market.prospect.lam", 1.0)),
])
def test_parse_assignment_reads_toml_values(text, expected):
    assert parse_assignment(text) == expected


def test_parse_assignment_needs_an_equals_sign():
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_assignment("market.buyers")


def _with(replace: dict[str, str] | None = None, append: str = "") -> str:
    text = TINY_SCENARIO
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + append


# (case id, scenario text, fragments the single error line must contain)
BAD_FILES = [
    ("toml-syntax", _with({"buyers = 60": "buyers = = 60"}),
     ["not valid TOML", f"line {TINY_SCENARIO.splitlines().index('buyers = 60') + 1}"]),
    ("unknown-market-key", _with({"buyers = 60": "buyer = 60"}),
     ["market.buyer", "unknown key", "did you mean 'buyers'"]),
    ("unknown-scenario-key", _with({"steps = 30": "stpes = 30"}),
     ["scenario.stpes", "unknown key", "did you mean 'steps'"]),
    ("unknown-table", _with(append="[markt]\nbuyers = 3\n"),
     ["markt", "unknown top-level table", "did you mean 'market'"]),
    ("unknown-arm-key", _with(append="[arms.transparent.markt]\nbuyers = 3\n"),
     ["arms.transparent.markt", "unknown key", "did you mean 'market'"]),
    ("wrong-type", _with({"buyers = 60": 'buyers = "sixty"'}),
     ["market.buyers", "expected a whole number", "'sixty'"]),
    ("wrong-type-table", _with({"[market.taste]\nvalue = 1.5": "taste = 1.5"}),
     ["market.taste", "expected a table", "1.5"]),
    ("buyers-zero", _with({"buyers = 60": "buyers = 0"}),
     ["market.buyers", "expected a value in [1, ", "found 0"]),
    ("buyers-negative", _with({"buyers = 60": "buyers = -5"}),
     ["market.buyers", "expected a value in [1, ", "found -5"]),
    ("absurd-size", _with({"buyers = 60": "buyers = 1_000_000_000"}),
     ["market.buyers", "expected a value in [1, ", "found 1000000000"]),
    ("absurd-steps", _with({"steps = 30": "steps = 10_000_000_000"}),
     ["scenario.steps", "expected a value in [1, 1000000]", "found 10000000000"]),
    ("probability-above-one", _with(append="[arms.asymmetric.market.trust]\ninitial = 1.5\n"),
     ["arms.asymmetric.market.trust.initial", "expected a value in [0.0, 1.0]", "found 1.5"]),
    ("probability-negative", _with(append="[market.quality]\nshare_high = -0.1\n"),
     ["market.quality.share_high", "expected a value in [0.0, 1.0]", "found -0.1"]),
    ("steps-zero", _with({"steps = 30": "steps = 0"}),
     ["scenario.steps", "expected a value in [1, ", "found 0"]),
    ("replications-zero", _with({"replications = 3": "replications = 0"}),
     ["scenario.replications", "expected a value in [1, ", "found 0"]),
    ("window-zero", _with({"window = 0.5": "window = 0.0"}),
     ["scenario.window", "expected a fraction in (0, 1]", "found 0.0"]),
    ("window-nan", _with({"window = 0.5": "window = nan"}),
     ["scenario.window", "expected a finite number", "nan"]),
    ("nan", _with({"value = 1.5": "value = nan"}),
     ["market.taste.value", "expected a finite number", "nan"]),
    ("inf", _with({"value = 1.5": "value = inf"}),
     ["market.taste.value", "expected a finite number", "inf"]),
    ("nan-for-int", _with({"sellers = 20": "sellers = nan"}),
     ["market.sellers", "expected a whole number", "nan"]),
    ("negative-seed", _with({"seed = 7": "seed = -1"}),
     ["scenario.seed", "expected a value in [0, ", "found -1"]),
    ("unknown-regime", _with({'information = "transparent"': 'information = "transparant"'}),
     ["arms.transparent.market.information", "one of transparent, asymmetric, noisy, delayed",
      "did you mean 'transparent'", "'transparant'"]),
    ("unknown-policy", _with({'pricing = "market"': 'pricing = "markt"'}),
     ["market.pricing", "one of market, markup, adaptive", "'markt'"]),
    ("unknown-distribution", _with(append='[market.quality]\ndistribution = "normal"\n'),
     ["market.quality.distribution", "one of uniform, beta, two_type", "'normal'"]),
    ("arm-overrides-missing-key", _with(append="[arms.transparent.market.prospect]\nlambda = 1\n"),
     ["arms.transparent.market.prospect.lambda", "unknown key", "did you mean 'lam'"]),
    ("no-arms", TINY_SCENARIO.split("[arms.asymmetric.market]")[0],
     ["arms", "at least one [arms.NAME] table", "found none"]),
    ("arm-not-a-table", _with(append="[arms]\nextra = 3\n"),
     ["arms.extra", "expected a table", "3"]),
    ("unknown-baseline", _with({'baseline = "asymmetric"': 'baseline = "asymetric"'}),
     ["scenario.baseline", "the name of an arm", "did you mean 'asymmetric'", "'asymetric'"]),
    ("bad-arm-name", _with(append='[arms."fast lane".market]\nbuyers = 3\n'),
     ["arms.fast lane", "an arm name of letters, digits", "'fast lane'"]),
    ("bad-name", _with({'name = "tiny"': 'name = "../etc"'}),
     ["scenario.name", "usable as a folder name", "'../etc'"]),
    ("inconsistent-range", _with(append="[arms.transparent.market.quality]\nlow = 0.9\nhigh = 0.2\n"),
     ["arms.transparent.market.quality.low", "at most quality.high", "0.9"]),
]


def _one_clean_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])
def test_bad_file_gives_one_clear_message_and_status_2(scenario_file, capsys, text, fragments):
    path = scenario_file(text)
    assert main(["validate", str(path)]) == 2
    line = _one_clean_line(capsys)
    assert line.startswith(f"infogap: error: {path}: ")
    for fragment in fragments:
        assert fragment in line, line


def test_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.toml"
    assert main(["validate", str(path)]) == 2
    assert _one_clean_line(capsys) == f"infogap: error: {path}: no such scenario file"


def test_folder_instead_of_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a folder" in _one_clean_line(capsys)


def test_not_utf8(scenario_file, tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(TINY_SCENARIO.replace("tests.", "t\xe9sts.").encode("latin-1"))
    assert main(["validate", str(path)]) == 2
    assert "expected UTF-8 text" in _one_clean_line(capsys)


@pytest.mark.parametrize("assignment, fragments", [
    ("market.buyer=3", ["--set market.buyer", "unknown key", "did you mean 'market.buyers'"]),
    ("markt.buyers=3", ["--set markt.buyers", "unknown key", "did you mean 'market.buyers'"]),
    ("market.quality=3", ["--set market.quality: is a table", "market.quality.high"]),
    ("scenario.step=3", ["--set scenario.step", "did you mean 'scenario.steps'"]),
    ("arms.transparnt.market.buyers=3", ["no arm named 'transparnt'",
                                         "did you mean 'transparent'"]),
    ("arms.transparent.market.byers=3", ["--set arms.transparent.market.byers", "unknown key"]),
    ("market.buyers=0", ["market.buyers (set on the command line)", "expected a value in [1,",
                         "found 0"]),
    ("market.information=opaque", ["market.information (set on the command line)",
                                   "one of transparent", "'opaque'"]),
])
def test_bad_set_gives_one_clear_message_and_status_2(scenario_file, tmp_path, capsys,
                                                      assignment, fragments):
    path = scenario_file()
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--set", assignment]) == 2
    line = _one_clean_line(capsys)
    assert line.startswith(f"infogap: error: {path}: ")
    for fragment in fragments:
        assert fragment in line, line
    assert not out.exists()


def test_steps_option_out_of_range(scenario_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario_file()), "--out", str(out), "--steps", "0"]) == 2
    assert "scenario.steps (set on the command line): expected a value in [1," in (
        _one_clean_line(capsys))
    assert not out.exists()


def test_validate_reports_every_file(scenario_file, tmp_path, capsys):
    good = scenario_file()
    bad = scenario_file(TINY_SCENARIO.replace("buyers = 60", "buyers = 0"), "bad.toml")
    assert main(["validate", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"ok: {good}" in captured.out
    assert f"{bad}: market.buyers" in captured.err
    assert main(["validate", str(good)]) == 0


def test_validate_does_not_run(scenario_file, monkeypatch):
    """Every run, whatever path it takes, steps a MarketModel: count the steps."""
    from simulator.model import MarketModel, simulate

    steps = []
    original = MarketModel.step

    def counted(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MarketModel, "step", counted)
    path = scenario_file()
    assert main(["validate", str(path)]) == 0
    assert steps == []
    simulate(Scenario.load(path).arms["asymmetric"], 3, 0)  # the counter sees a real run
    assert len(steps) == 3


def test_docs_list_every_key_and_are_up_to_date():
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    assert doc == docs_with_tables(doc), (
        "docs/scenarios.md is out of date: run .venv/bin/python -m simulator.scenario "
        "--update-docs")
    from simulator.params import iter_fields

    for key, *_ in iter_fields(MarketParams):
        assert f"| `{key}` |" in doc

