"""What a newcomer reads stays true: shipped scenarios listed, the setup lines, the columns."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))


def _table_names(text: str, heading: str, pattern: str) -> list[str]:
    """Names in the first column of the Markdown table under `heading`."""
    section = text.split(heading, 1)[1]
    table = re.search(r"((?:^\|.*\n)+)", section, re.MULTILINE).group(1)
    names = []
    for row in table.splitlines()[2:]:
        names += re.findall(pattern, row.split("|")[1])
    return names


def test_docs_list_every_shipped_scenario_and_nothing_else():
    assert len(SHIPPED) >= 18
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    listed = _table_names(doc, "## Scenarios shipped in `scenarios/`", r"`([\w-]+)\.toml`")
    assert sorted(listed) == SHIPPED
    assert len(listed) == len(set(listed))


def test_readme_lists_every_shipped_scenario():
    readme = (ROOT / "README.md").read_text()
    listed = _table_names(readme, "Shipped scenarios:", r"`([\w-]+)`")
    assert sorted(listed) == SHIPPED


def test_readme_setup_is_two_commands_and_says_how_to_reach_infogap():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    block = setup.split("```", 2)[1]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == [
        "make run", "make test"]
    assert ". .venv/bin/activate" in setup and ".venv/bin/infogap" in setup


def test_make_run_ends_by_saying_how_to_reach_infogap():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    out = subprocess.run(["make", "-n", "--no-print-directory", "run"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert "echo" in last and ". .venv/bin/activate" in last and ".venv/bin/infogap" in last


def test_summary_and_comparison_columns_in_docs_match_the_files(tmp_path, scenario_file):
    from simulator.scenario import Scenario

    results = Scenario.load(scenario_file()).run(replications=2, steps=6)
    summary = ", ".join(results.summary.columns)
    comparison = ", ".join(results.comparison.columns)
    assert summary == "arm, segment, metric, mean, ci_low, ci_high, n, steps"
    assert comparison == "arm, segment, metric, diff, ci_low, ci_high, p_value, effect_size"
    scenarios_doc = (ROOT / "docs" / "scenarios.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f"`{summary}`" in scenarios_doc and f"`{comparison}`" in scenarios_doc
    assert f"# {summary}\n" in scenarios_doc and f"# {comparison}\n" in scenarios_doc
    assert f"# pandas DataFrame: {summary}\n" in readme
    assert "`arm,\nsegment, metric, mean, ci_low, ci_high, n, steps`" in readme
