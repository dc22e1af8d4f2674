"""The models the page steps: one arm (`LiveMarket`) or two arms in lockstep (`TwinMarket`).

Mesa's Reset rebuilds the model from the controls as keyword arguments,
so both classes take the arm's parameters as fixed arguments and the controls
as keyword overrides. Seed S on the page is replication 0 of `infogap run`
with root seed S, so what a person watches is a run the report contains.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from ..errors import UserError
from ..model import MarketModel
from ..params import MarketParams, flatten_dotted, suggest
from ..runner import replication_seeds
from .controls import key_of, overrides, parse_seed


def seed_sequence(seed: int) -> np.random.SeedSequence:
    """Replication 0's seed of `infogap run` for root seed `seed`."""
    return replication_seeds(seed, 1)[0]


def page_seed(text: int | str) -> tuple[int, str]:
    """The seed typed on the page, or seed 0 and what was wrong with it.

    Mesa's Reset swallows an exception without a word, so a mistyped seed
    must still build a market, and the page shows the problem instead.
    """
    try:
        return parse_seed(text), ""
    except UserError as exc:
        return 0, f"{exc}; running seed 0 instead"


class LiveMarket(MarketModel):
    """One arm of a scenario, with the page's controls laid over it."""

    def __init__(self, params: MarketParams | None = None, arm: str = "market",
                 seed: int | str = 0, scenario: Any = None, **controls: Any):
        # Mesa's Reset also passes a Mesa `scenario` (a bare parameter holder with
        # no seed); the arm's parameters and `seed` already say everything, so it is unused.
        seed, self.problem = page_seed(seed)
        super().__init__(params, rng=seed_sequence(seed), **overrides(controls))
        self.arm = arm
        self.seed = seed
        #: Keys the controls changed from the arm's own values (the page says so).
        self.changed = sorted(differences(params, self.params)) if params is not None else []


class TwinMarket(mesa.Model):
    """Two arms stepping in lockstep from the same seed, so only the arms' difference shows.

    Shared controls apply to both arms, except on keys where the two arms
    differ: those keep each arm's own value (they are what is being compared)
    and are listed in `differences`.
    """

    def __init__(self, arms: tuple[tuple[str, MarketParams], ...] = (), left: str = "",
                 right: str = "", seed: int | str = 0, scenario: Any = None, **controls: Any):
        seed, self.problem = page_seed(seed)
        super().__init__(rng=seed)
        by_name = dict(arms)
        names = list(by_name)
        left = left or names[0]
        right = right or (names[1] if len(names) > 1 else names[0])
        for side, name in (("left", left), ("right", right)):
            if name not in by_name:
                raise UserError(f"{side} arm: no arm named {name!r}{suggest(name, names)}; "
                                f"arms: {', '.join(names)}")
        self.seed = seed
        self.differences = differences(by_name[left], by_name[right])
        shared = {key_name: value for key_name, value in controls.items()
                  if key_of(key_name) not in self.differences}
        self.sides: list[tuple[str, LiveMarket]] = [
            (name, LiveMarket(by_name[name], arm=name, seed=seed, **shared))
            for name in (left, right)
        ]
        self.running = True

    def step(self) -> None:
        for _name, market in self.sides:
            market.step()
        self.running = all(market.running for _name, market in self.sides)


def differences(a: MarketParams, b: MarketParams) -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (value in a, value in b) for every market key where a and b differ.

    Compares the whole parameter trees, named tables (like buyer segments) included.
    """
    flat_a, flat_b = flatten_dotted(a.to_dict()), flatten_dotted(b.to_dict())
    return {key: (flat_a.get(key), flat_b.get(key)) for key in sorted(flat_a.keys() | flat_b)
            if flat_a.get(key) != flat_b.get(key)}



def markets_of(model: mesa.Model) -> list[tuple[str, MarketModel]]:
    """(arm name, market) for each market a page model shows, left to right."""
    if isinstance(model, TwinMarket):
        return list(model.sides)
    return [(getattr(model, "arm", "market"), model)]
