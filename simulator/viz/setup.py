"""Which scenario and arm(s) a page shows, checked before any server starts.

Kept apart from the pages so that `infogap viz` can report a mistake (exit 2)
without importing Solara, and so that Solara's settings can be fixed in the
environment before Solara is first imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..params import suggest
from ..scenario import Scenario

ENV_SCENARIO = "INFOGAP_VIZ_SCENARIO"
ENV_ARMS = "INFOGAP_VIZ_ARMS"  # comma-separated arm names

DEFAULT_SCENARIO = "scenarios/lemons.toml"


@dataclass(frozen=True)
class Setup:
    """What a page shows: a scenario and one arm, or two arms side by side."""

    scenario: Scenario
    arms: tuple[str, ...]

    @property
    def twin(self) -> bool:
        return len(self.arms) == 2


def default_scenario() -> Path:
    """scenarios/lemons.toml here, or else the one shipped beside the package."""
    here = Path(DEFAULT_SCENARIO)
    shipped = Path(__file__).resolve().parents[2] / DEFAULT_SCENARIO
    return here if here.exists() or not shipped.exists() else shipped


def make_setup(path: str | Path | None = None, arms: list[str] | tuple[str, ...] = (),
               twin: bool = False) -> Setup:
    """Load the scenario and choose the arm(s); every mistake is one UserError.

    Single page: the named arm, or the baseline. Twin page: the two named arms;
    one name is shown beside the baseline; none shows the baseline beside the
    first other arm.
    """
    path = Path(path) if path else default_scenario()
    scenario = Scenario.load(path)
    names = scenario.arm_names
    for arm in arms:
        if arm not in names:
            raise UserError(f"{path}: --arm: expected one of the scenario's arms "
                            f"({', '.join(names)}), found {arm!r}{suggest(arm, names)}")
    arms = list(arms)
    if not twin:
        if len(arms) > 1:
            raise UserError(f"--arm: expected one arm (or two with --twin), found "
                            f"{len(arms)}: {', '.join(arms)}")
        return Setup(scenario, (arms[0] if arms else scenario.baseline,))
    if len(names) < 2:
        raise UserError(f"{path}: --twin: expected a scenario with at least two arms, found "
                        f"one ({names[0]})")
    if len(arms) > 2:
        raise UserError(f"--arm: expected at most two arms with --twin, found {len(arms)}: "
                        f"{', '.join(arms)}")
    if len(arms) == 2:
        return Setup(scenario, (arms[0], arms[1]))
    other = arms[0] if arms and arms[0] != scenario.baseline else names[1]
    return Setup(scenario, (scenario.baseline, other))


def setup_from_env(twin: bool) -> Setup:
    arms = [a for a in os.environ.get(ENV_ARMS, "").split(",") if a]
    return make_setup(os.environ.get(ENV_SCENARIO) or None, arms, twin)
