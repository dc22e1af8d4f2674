"""Shared fixtures: tiny scenario files, so tests stay fast and self-contained."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: A small two-arm market (60 buyers, 20 sellers) that runs in well under a second.
TINY_SCENARIO = """\
[scenario]
name = "tiny"
description = "A tiny market for tests."
steps = 30
replications = 3
seed = 7
window = 0.5
baseline = "asymmetric"

[market]
buyers = 60
sellers = 20
capacity = 1
pricing = "market"
identity = "anonymous"

[market.taste]
value = 1.5

[arms.asymmetric.market]
information = "asymmetric"

[arms.transparent.market]
information = "transparent"
"""


@pytest.fixture
def scenario_file(tmp_path):
    """Write scenario text (default: TINY_SCENARIO) to a .toml file and return its path."""

    def write(text: str = TINY_SCENARIO, name: str = "tiny.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
